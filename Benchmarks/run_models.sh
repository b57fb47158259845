#!/usr/bin/env bash
# Model-level benchmarks: each case runs once in the Swift benchmark and once in PyTorch CPU
# (Benchmarks/pytorch_models.py), every run in its own process so peak RSS belongs to that case, and
# prints them side by side. GFLOP is PyTorch's FlopCounterMode count of the same call, used for both.
# Usage: Benchmarks/run_models.sh [--threads N] [--cpu-time] [--calls N] [case:HxW...]
#   cases: unet, controlnet, decoder (latent HxW), features, raft (image HxW); default: the set below
#   MODELS  full-size checkpoints from Benchmarks/make_full_size_models.py (default /work/bench-models)
#   FLOW    RAFT-large weights (default /work/shared/golden/raft_large_random.pth)
#   PYTHON, BENCH, SCRATCH as in Benchmarks/run.sh
source "$(dirname "$0")/common.sh"
common=() cases=()
while [ $# -gt 0 ]; do
    case "$1" in
        --threads|--calls) common+=("$1" "$2"); shift 2 ;;
        --cpu-time) common+=("$1"); shift ;;
        *) cases+=("$1"); shift ;;
    esac
done
[ ${#cases[@]} -gt 0 ] || cases=(unet:64x64 controlnet:64x64 decoder:180x320 features:720x1280 raft:256x256 raft:720x1280)
models=${MODELS:-/work/bench-models} flow=${FLOW:-/work/shared/golden/raft_large_random.pth}

printf '| %-22s | %8s | %10s | %13s | %7s | %13s | %15s | %14s | %16s |\n' case "Swift s" "PyTorch s" \
    "Swift/PyTorch" GFLOP "Swift GFLOP/s" "PyTorch GFLOP/s" "Swift peak MiB" "PyTorch peak MiB"
echo '|------------------------|----------|------------|---------------|---------|---------------|-----------------|----------------|------------------|'
for item in "${cases[@]}"; do
    name=${item%%:*} size=${item#*:}
    swift_line=$("$BENCH" "$name" "$size" --models "$models" --flow "$flow" "${common[@]}" | grep -v '^#')
    torch_line=$("$python" Benchmarks/pytorch_models.py "$name" "$size" --models "$models" --flow "$flow" "${common[@]}" | grep -v '^#')
    paste <(echo "$swift_line") <(echo "$torch_line") | awk -F'\t' '{
        # Swift: name, seconds, peak MiB; PyTorch: name, seconds, peak MiB, GFLOP. torchvision RAFT
        # convex-upsamples the flow after every iteration, the Swift one only after the last, so the
        # PyTorch FLOP count does not describe the Swift call there.
        swiftRate = ($1 ~ /^raft/) ? "n/a" : sprintf("%.1f", $7 / $2)
        printf "| %-22s | %8.3f | %10.3f | %12.2fx | %7.1f | %13s | %15.1f | %14s | %16s |\n",
               $1, $2, $5, $5 / $2, $7, swiftRate, $7 / $5, $3, $6 }'
done
