"""Full-size random checkpoints for the model and pipeline benchmarks (speed only: default random init).

Writes a complete pipeline folder OUT (default /work/bench-models; never commit it, ~4 GB):
  unet/          UNet2DConditionModel with the SD x4 upscaler's shape (the Stream-DiffVSR release UNet)
  controlnet/    ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(64, 128, 256))
  vae/           TemporalAutoencoderTiny, release-like (64 channels, encoder blocks 1,3,3, decoder 3,3,1)
  text_encoder/  CLIPTextModel in the x4 upscaler's text-encoder shape (hidden 1024, 23 layers, 16 heads)
  scheduler/, tokenizer/, model_index.json   copied from the golden model (GOLDEN, the release's settings)
with the diffusers / original key names, so both `stream-diffvsr-bench` and the original Python pipeline
(Benchmarks/original_pipeline.py) load it.

Run: /work/venv/bin/python Benchmarks/make_full_size_models.py [OUT] [GOLDEN]
     GOLDEN defaults to /work/shared/golden/visible/model
"""
import json
import os
import shutil
import sys

import torch
from diffusers import ControlNetModel, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

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
TEXT_CONFIG = CLIPTextConfig(
    vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
    max_position_embeddings=77, hidden_act="gelu", projection_dim=1024, pad_token_id=1,
)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/work/bench-models"
    golden = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/golden/visible/model"
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
    text_encoder = CLIPTextModel(TEXT_CONFIG)
    text_encoder.save_pretrained(os.path.join(out, "text_encoder"), safe_serialization=True)
    for folder in ("scheduler", "tokenizer"):
        shutil.copytree(os.path.join(golden, folder), os.path.join(out, folder), dirs_exist_ok=True)
    shutil.copy(os.path.join(golden, "model_index.json"), out)
    for name, model in (("unet", unet), ("controlnet", controlnet), ("vae", vae), ("text_encoder", text_encoder)):
        print(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
