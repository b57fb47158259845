# Sourced by the Benchmarks/*.sh scripts: runs from the repository root and sets
#   python  PYTHON, else /work/venv/bin/python, else python3 (an interpreter with torch)
#   BENCH   a prebuilt stream-diffvsr-bench, else one built here with swift build -c release
#   scratch SCRATCH, the swift build scratch path (default .build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-/work/venv/bin/python}
[ -x "$python" ] || python=python3
scratch=${SCRATCH:-.build}
if [ -z "${BENCH:-}" ]; then
    swift build -c release --scratch-path "$scratch" --product stream-diffvsr-bench >&2
    BENCH="$scratch/release/stream-diffvsr-bench"
fi
