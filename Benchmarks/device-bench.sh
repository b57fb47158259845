#!/usr/bin/env bash
# The whole pipeline on a GPU: builds, makes the full-size random model, and runs 720p output
# (320x180 in) for 10 frames in fp32 and in fp16 on the Vulkan device, printing seconds per frame,
# peak device memory and the PSNR of the first frames against the CPU engine.
#
# Usage: Benchmarks/device-bench.sh [--device vulkan[:N]] [--frames N] [--size WxH] [--compare N]
#   MODEL  full-size folder (default /work/bench-models; made with Benchmarks/make_full_size_models.py
#          when missing, which needs PYTHON with torch and diffusers)
#   FLOW   RAFT-large weights (default /work/shared/golden/raft_large_random.pth)
#   PYTHON, BENCH, SCRATCH as in Benchmarks/common.sh
# Where no Vulkan loader is installed (a bare GPU machine), unpack libvulkan1 first; where the NVIDIA
# driver's ICD is not found, set VK_DRIVER_FILES to its nvidia_icd.json (see docs/gpu.md).
source "$(dirname "$0")/common.sh"
model=${MODEL:-/work/bench-models} flow=${FLOW:-/work/shared/golden/raft_large_random.pth}
device=vulkan frames=10 size=320x180 compare=2
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --compare) compare=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

[ -f "$model/model_index.json" ] || "$python" Benchmarks/make_full_size_models.py "$model"
for precision in fp32 fp16; do
    echo "## $precision on $device, $frames frames of $size in"
    "$BENCH" pipeline --device "$device" --precision "$precision" --model "$model" --flow "$flow" --size "$size" \
        --frames "$frames" --compare-cpu "$compare" --tile none
done
