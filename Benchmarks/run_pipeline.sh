#!/usr/bin/env bash
# The whole pipeline next to the ORIGINAL Python pipeline (github.com/jamichss/Stream-DiffVSR, its
# `pipeline/` code on PyTorch CPU) in one run, on the same full-size random checkpoint, frames, thread
# count and machine: seconds for the first frame (no temporal guidance) and per guided frame, and
# peak RSS, each side in its own process.
# With --check, both also upscale the same frames from the same injected initial latents, and the
# PSNR of our frames against the original's is printed per frame.
#
# Usage: Benchmarks/run_pipeline.sh [--size WxH] [--frames N] [--threads N] [--check]
#   ORIGINAL  checkout of jamichss/Stream-DiffVSR (required; its imports need matplotlib in PYTHON's env)
#   MODEL     full-size folder from Benchmarks/make_full_size_models.py (default /work/bench-models)
#   FLOW      RAFT-large weights (default /work/shared/golden/raft_large_random.pth)
#   PYTHON, BENCH, SCRATCH as in Benchmarks/run.sh; CLI: a built stream-diffvsr (for --check)
: "${ORIGINAL:?set ORIGINAL to a checkout of github.com/jamichss/Stream-DiffVSR}"
source "$(dirname "$0")/common.sh"
model=${MODEL:-/work/bench-models} flow=${FLOW:-/work/shared/golden/raft_large_random.pth}
size=64x64 frames=3 threads=2 check=false
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --check) check=true; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

swift_line=$("$BENCH" pipeline --model "$model" --flow "$flow" --size "$size" --frames "$frames" --threads "$threads" \
    | tee >(cat >&2) | grep '^pipeline ')
original_line=$("$python" Benchmarks/original_pipeline.py --original "$ORIGINAL" --model "$model" --flow "$flow" \
    --size "$size" --frames "$frames" --threads "$threads" 2>/dev/null | tee >(cat >&2) | grep '^pipeline ')
# Each line: name, mean guided-frame seconds, peak MiB, first-frame seconds.
printf '| %-10s | %-22s | %8s | %11s | %15s |\n' frames measure Swift original Swift/original
echo '|------------|------------------------|----------|-------------|-----------------|'
paste <(echo "$swift_line") <(echo "$original_line") | awk -F'\t' -v size="$size" -v frames="$frames" '{
    printf "| %-10s | %-22s | %8.3f | %11.3f | %14.2fx |\n", size " x" frames, "first frame (s)", $4, $8, $8 / $4
    printf "| %-10s | %-22s | %8.3f | %11.3f | %14.2fx |\n", "", "guided frame, mean (s)", $2, $6, $6 / $2
    printf "| %-10s | %-22s | %8s | %11s | %14.2fx |\n", "", "peak RSS (MiB)", $3, $7, $7 / $3 }'

if $check; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    width=${size%x*} height=${size#*x}
    "$python" - "$work/latents.safetensors" "$frames" "$height" "$width" <<'PY'
import sys, numpy as np
from safetensors.numpy import save_file
path, frames, height, width = sys.argv[1], *map(int, sys.argv[2:])
save_file({"latents": np.random.default_rng(7).standard_normal((frames, 4, height, width), dtype=np.float32)}, path)
PY
    "$python" Benchmarks/original_pipeline.py --original "$ORIGINAL" --model "$model" --flow "$flow" --size "$size" \
        --frames "$frames" --threads "$threads" --latents "$work/latents.safetensors" --save "$work" >/dev/null 2>&1
    if [ -z "${CLI:-}" ]; then
        swift build -c release --scratch-path "$scratch" --product stream-diffvsr >&2
        CLI="$scratch/release/stream-diffvsr"
    fi
    "$CLI" upscale --model-id "$model" --flow-weights "$flow" --in-path "$work/input" --out-path "$work/ours" \
        --initial-latents "$work/latents.safetensors" --threads "$threads" >/dev/null
    "$python" - "$work/expected/seq" "$work/ours/input/seq" <<'PY'
import os, sys, numpy as np
from PIL import Image
expected_dir, ours_dir = sys.argv[1:]
for name in sorted(os.listdir(expected_dir)):
    a = np.asarray(Image.open(os.path.join(expected_dir, name)), dtype=np.float64)
    b = np.asarray(Image.open(os.path.join(ours_dir, name)), dtype=np.float64)
    mse = np.mean((a - b) ** 2)
    psnr = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
    # Random weights leave many pixels at 0: say how much of the frame the comparison really covers.
    print(f"# {name}: PSNR {psnr:.2f} dB, max abs {int(np.abs(a - b).max())} levels (ours vs the original); "
          f"original: mean {a.mean():.1f}, std {a.std():.1f}, {100 * (a > 0).mean():.0f}% of samples above 0")
PY
fi
