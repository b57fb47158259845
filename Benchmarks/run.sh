#!/usr/bin/env bash
# Runs the Swift engine benchmark and the PyTorch CPU reference on the same shapes, one after the
# other on this machine, and prints GFLOP/s side by side with the Swift/PyTorch ratio.
# Usage: Benchmarks/run.sh [--seconds S] [--threads N] [--cpu-time] [name...]
#   PYTHON       interpreter with torch (default /work/venv/bin/python, else python3)
#   BENCH        prebuilt stream-diffvsr-bench binary (default: build it with swift build -c release)
#   SCRATCH      swift build scratch path (default .build)
source "$(dirname "$0")/common.sh"
swift_out=$(mktemp) torch_out=$(mktemp)
trap 'rm -f "$swift_out" "$torch_out"' EXIT
"$BENCH" "$@" >"$swift_out"
"$python" Benchmarks/pytorch_reference.py "$@" >"$torch_out"
grep '^#' "$swift_out" "$torch_out" | sed 's/^[^:]*://'
awk -F'\t' '
    BEGIN { printf "| %-28s | %13s | %15s | %13s |\n|%s|%s|%s|%s|\n", "shape", "Swift GFLOP/s", "PyTorch GFLOP/s",
                   "Swift/PyTorch", "------------------------------", "---------------", "-----------------", "---------------" }
    FNR == NR { if ($0 !~ /^#/) torch[$1] = $2; next }
    $0 ~ /^#/ { next }
    { ratio = ($1 in torch && torch[$1] > 0) ? sprintf("%.2fx", $2 / torch[$1]) : "n/a"
      printf "| %-28s | %13s | %15s | %13s |\n", $1, $2, ($1 in torch ? torch[$1] : "n/a"), ratio }
' "$torch_out" "$swift_out"
