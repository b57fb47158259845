"""The ORIGINAL Stream-DiffVSR pipeline on PyTorch CPU, timed the way `stream-diffvsr-bench pipeline` times ours.

Imports the reference code from a checkout of github.com/jamichss/Stream-DiffVSR (`--original`; nothing of
it is copied here) and loads the components exactly as its `inference.py` does, on the CPU and in fp32
(no xformers: on the CPU diffusers' default attention processor is PyTorch's fused SDPA). The frames
are the synthetic drifting pattern of PipelineBenchmark.swift, so both sides see the same pixels.

The reference is not streaming: one call takes the whole clip, computes every RAFT flow first, then
denoises and decodes frame by frame. To print per-frame seconds comparable with a `StreamSession`,
RAFT calls and `vae.decode` are wrapped with timers: frame i's time is the interval that ends with its
decode, minus the RAFT time spent inside it, plus the RAFT call that produced its own flow. The first
frame includes the prompt encoding, as in ours.

Prints `#` comment lines and one line `pipeline HxW<TAB>mean guided s<TAB>peak MiB<TAB>first-frame s`.

For an output comparison with ours, `--latents FILE` injects the initial noise of frame i from
`latents[i]` of a safetensors file (as the golden case does) and `--save DIR` writes the LR frames to
DIR/input/seq/ and the pipeline's output to DIR/expected/seq/ (PNG, same file names).

    python Benchmarks/original_pipeline.py --original /work/orig --model /work/bench-models \
        --flow /work/shared/golden/raft_large_random.pth --size 64x64 --frames 3 --threads 2
"""

import argparse
import math
import os
import resource
import sys
import time


def synthetic_frame(index, width, height):
    """PipelineBenchmark.swift's `syntheticFrame`, pixel for pixel (UInt8(x) truncates like int(x))."""
    import numpy as np
    from PIL import Image

    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    for y in range(height):
        for x in range(width):
            u, v = (x + index) / width, y / height
            pixels[y, x] = (int(127.5 + 127 * math.sin(6.28 * u * 2)),
                            int(127.5 + 127 * math.cos(6.28 * (u + v))),
                            int(255 * v))
    return Image.fromarray(pixels, "RGB")


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="checkout of jamichss/Stream-DiffVSR")
    parser.add_argument("--model", default="/work/bench-models", help="diffusers folder (model_index.json)")
    parser.add_argument("--flow", default="/work/shared/golden/raft_large_random.pth", help="torchvision raft_large state_dict")
    parser.add_argument("--size", default="64x64", help="LR frame WIDTHxHEIGHT (output is 4x)")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latents", help="safetensors file with `latents` [frames, 4, h, w]: frame i starts from latents[i]")
    parser.add_argument("--save", help="write input and output frames under this folder")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))

    import torch
    from torchvision.models.optical_flow import raft_large

    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.abspath(args.original))
    from diffusers import ControlNetModel, DDIMScheduler, UNet2DConditionModel
    from pipeline.stream_diffvsr_pipeline import StreamDiffVSRPipeline
    from temporal_autoencoder.autoencoder_tiny import TemporalAutoencoderTiny

    load_start = time.perf_counter()
    controlnet = ControlNetModel.from_pretrained(args.model, subfolder="controlnet")
    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet")
    vae = TemporalAutoencoderTiny.from_pretrained(args.model, subfolder="vae")
    scheduler = DDIMScheduler.from_pretrained(args.model, subfolder="scheduler")
    pipeline = StreamDiffVSRPipeline.from_pretrained(
        args.model, controlnet=controlnet, vae=vae, unet=unet, scheduler=scheduler, custom_pipeline=None)
    pipeline.set_progress_bar_config(disable=True)
    flow_model = raft_large(weights=None)
    flow_model.load_state_dict(torch.load(args.flow, map_location="cpu", weights_only=True))
    flow_model.eval().requires_grad_(False)
    print(f"# original pipeline {args.model}: loaded in {time.perf_counter() - load_start:.1f} s; "
          f"{args.frames} frames {width}x{height} -> {4 * width}x{4 * height}, {args.steps} steps; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, wall clock")

    flow_seconds, decode_ends = [], []

    def timed_flow(*inputs, **options):
        started = time.perf_counter()
        result = flow_model(*inputs, **options)
        flow_seconds.append(time.perf_counter() - started)
        return result

    original_decode = pipeline.vae.decode

    def timed_decode(*inputs, **options):
        result = original_decode(*inputs, **options)
        decode_ends.append(time.perf_counter())
        return result

    pipeline.vae.decode = timed_decode
    if args.latents:
        from safetensors.torch import load_file

        injected = iter(load_file(args.latents)["latents"].split(1))
        pipeline.prepare_latents = lambda *_, **__: next(injected) * pipeline.scheduler.init_noise_sigma
    frames = [synthetic_frame(index, width, height) for index in range(args.frames)]
    started = time.perf_counter()
    with torch.no_grad():
        output = pipeline("", list(frames), num_inference_steps=args.steps, guidance_scale=0, of_model=timed_flow)
    total = time.perf_counter() - started
    if args.save:
        for folder, images in (("input", frames), ("expected", [image[0] for image in output.images])):
            os.makedirs(os.path.join(args.save, folder, "seq"), exist_ok=True)
            for index, image in enumerate(images):
                image.save(os.path.join(args.save, folder, "seq", f"frame_{index + 1:04d}.png"))

    all_flows = sum(flow_seconds)
    per_frame = [decode_ends[0] - started - all_flows]
    per_frame += [end - start + flow for end, start, flow in zip(decode_ends[1:], decode_ends, flow_seconds)]
    guided = per_frame[1:]
    guided_mean = sum(guided) / len(guided) if guided else 0.0
    print(f"# whole call {total:.3f} s ({total / args.frames:.3f} s per frame), RAFT {all_flows:.3f} s in "
          f"{len(flow_seconds)} calls; first frame {per_frame[0]:.3f} s; guided frames min "
          f"{min(guided, default=0):.3f} s, max {max(guided, default=0):.3f} s; peak RSS {peak_mib():.1f} MiB")
    print(f"pipeline {height}x{width}\t{guided_mean:.3f}\t{peak_mib():.0f}\t{per_frame[0]:.3f}")


if __name__ == "__main__":
    main()
