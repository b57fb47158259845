"""Full-size random checkpoints for the model-level benchmarks (speed only: default random init).

Writes, under OUT (default /work/bench-models; never commit these, the UNet alone is ~1.9 GB):
  unet/        UNet2DConditionModel with the SD x4 upscaler's shape (the Stream-DiffVSR release UNet)
  controlnet/  ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(64, 128, 256))
  vae/         TemporalAutoencoderTiny, release-like (64 channels, encoder blocks 1,3,3, decoder 3,3,1)
each as config.json + diffusion_pytorch_model.safetensors with the diffusers / original key names.

Run: /work/venv/bin/python Benchmarks/make_full_size_models.py [OUT]
"""
import json
import os
import sys

import torch
from diffusers import ControlNetModel, UNet2DConditionModel
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fixtures"))
from gen_vae_clip import TemporalAutoencoderTiny, vae_config  # noqa: E402

UNET_CONFIG = dict(
    sample_size=128, in_channels=7, out_channels=4, block_out_channels=(256, 512, 512, 1024), layers_per_block=2,
    attention_head_dim=8, cross_attention_dim=1024, only_cross_attention=(True, True, True, False),
    use_linear_projection=True, norm_num_groups=32, num_class_embeds=None,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
)
VAE_CONFIG = vae_config([64, 64, 64], [64, 64, 64], [1, 3, 3], [3, 3, 1], 1.0)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/work/bench-models"
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    unet.save_pretrained(os.path.join(out, "unet"), safe_serialization=True)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(64, 128, 256))
    controlnet.save_pretrained(os.path.join(out, "controlnet"), safe_serialization=True)
    vae = TemporalAutoencoderTiny(VAE_CONFIG)
    os.makedirs(os.path.join(out, "vae"), exist_ok=True)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()},
              os.path.join(out, "vae", "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(out, "vae", "config.json"), "w") as f:
        json.dump(VAE_CONFIG, f, indent=2)
    for name, model in (("unet", unet), ("controlnet", controlnet), ("vae", vae)):
        print(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
