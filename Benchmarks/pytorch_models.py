"""PyTorch CPU (fp32) side of the model-level benchmarks: one case per process (so peak RSS is the
case's own), printed like stream-diffvsr-bench as "name<TAB>seconds<TAB>peak MiB<TAB>GFLOP".

  python pytorch_models.py unet|controlnet|decoder HxW [--models DIR]   latent HxW
  python pytorch_models.py features HxW [--models DIR]                  image HxW
  python pytorch_models.py raft HxW [--flow raft.pth]                   image HxW, 12 iterations
  common: --threads N, --cpu-time (process CPU time / threads), --calls N (best of N after a warm-up)

GFLOP comes from torch.utils.flop_counter.FlopCounterMode on one call (convolutions, matmuls; the
CPU fused attention kernel is not counted by it, so diffusers' attention runs through the unfused
AttnProcessor for that one call). Normalisations, activations, resampling and softmax are not counted.
"""
import argparse
import os
import resource
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fixtures"))

TEXT_TOKENS = 77


def unet_case(models, height, width):
    from diffusers import UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(os.path.join(models, "unet")).eval()
    sample = torch.rand(1, unet.config.in_channels, height, width) * 2 - 1
    text = torch.rand(1, TEXT_TOKENS, unet.config.cross_attention_dim) * 2 - 1
    return unet, lambda: unet(sample, 499, encoder_hidden_states=text, return_dict=False)


def controlnet_case(models, height, width):
    from diffusers import ControlNetModel
    controlnet = ControlNetModel.from_pretrained(os.path.join(models, "controlnet")).eval()
    factor = 2 ** (len(controlnet.config.conditioning_embedding_out_channels) - 1)
    sample = torch.rand(1, controlnet.config.in_channels, height, width) * 2 - 1
    text = torch.rand(1, TEXT_TOKENS, controlnet.config.cross_attention_dim) * 2 - 1
    condition = torch.rand(1, controlnet.config.conditioning_channels, height * factor, width * factor) * 2 - 1
    return controlnet, lambda: controlnet(sample, 499, encoder_hidden_states=text, controlnet_cond=condition,
                                          conditioning_scale=1.0, return_dict=False)


def autoencoder(models):
    import json
    from safetensors.torch import load_file
    from gen_vae_clip import TemporalAutoencoderTiny
    with open(os.path.join(models, "vae", "config.json")) as f:
        config = json.load(f)
    model = TemporalAutoencoderTiny(config).eval()
    model.load_state_dict(load_file(os.path.join(models, "vae", "diffusion_pytorch_model.safetensors")), strict=True)
    return model, config, 2 ** (len(config["decoder_block_out_channels"]) - 1)


def decoder_case(models, height, width):
    model, config, factor = autoencoder(models)
    latents = torch.rand(1, config["latent_channels"], height, width) * 2 - 1
    with torch.no_grad():
        features = model.features(torch.rand(1, 3, height * factor, width * factor) * 2 - 1)
    return model, lambda: model.decode(latents, features)


def features_case(models, height, width):
    model, _, _ = autoencoder(models)
    image = torch.rand(1, 3, height, width) * 2 - 1
    return model, lambda: model.features(image)


def raft_case(flow, height, width):
    from torchvision.models.optical_flow import raft_large
    raft = raft_large(weights=None).eval()
    raft.load_state_dict(torch.load(flow, map_location="cpu", weights_only=True), strict=True)
    first, second = (torch.rand(1, 3, height, width) * 2 - 1 for _ in range(2))
    return raft, lambda: raft(first, second, num_flow_updates=12)


def count_flops(model, run):
    """FLOPs of one call; diffusers models switch to the unfused attention processor for the count."""
    processors = None
    if hasattr(model, "attn_processors"):
        from diffusers.models.attention_processor import AttnProcessor
        processors = model.attn_processors
        model.set_attn_processor(AttnProcessor())
    with FlopCounterMode(display=False) as counter:
        run()
    if processors is not None:
        model.set_attn_processor(processors)
    return counter.get_total_flops()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=["unet", "controlnet", "decoder", "features", "raft"])
    parser.add_argument("size")
    parser.add_argument("--models", default="/work/bench-models")
    parser.add_argument("--flow", default="/work/shared/golden/raft_large_random.pth")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--cpu-time", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.split("x"))
    with torch.no_grad():
        if args.case == "raft":
            model, run = raft_case(args.flow, height, width)
        else:
            model, run = globals()[f"{args.case}_case"](args.models, height, width)
        flops = count_flops(model, run)
        clock, divisor = (time.process_time, args.threads) if args.cpu_time else (time.perf_counter, 1)
        run()
        best = float("inf")
        for _ in range(args.calls):
            begin = clock()
            run()
            best = min(best, (clock() - begin) / divisor)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# torch {torch.__version__}, {args.threads} threads, {'CPU time / threads' if args.cpu_time else 'wall clock'}")
    print(f"{args.case} {args.size}\t{best:.3f}\t{peak:.0f}\t{flops / 1e9:.2f}")


if __name__ == "__main__":
    main()
