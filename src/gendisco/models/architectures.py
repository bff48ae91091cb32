"""The built-in models: no download.

`tiny`: a small model trained in this repository (`gendisco.tinymodel`), loaded from the
package. `tiny-sdxl`, `random:tiny`: small random pipelines for tests of the SDXL path and of
plumbing. `random:sd15`, `random:sd-turbo`, `random:sdxl`: the published architectures with
random weights, which cost what the real models cost, so speed can be measured without
downloading weights.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from gendisco.errors import UserError
from gendisco.models.devices import build_on, dtype_argument, numpy2_quiet

TRAINED_TINY = "tiny"  # the trained model; the other built-in names are RECIPES


def _byte_level_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over single bytes (514 tokens): any text encodes, nothing to download."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    vocab.update({f"{symbol}</w>": len(symbols) + i for i, symbol in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    with tempfile.TemporaryDirectory(prefix="gendisco-tokenizer-") as folder:
        vocab_path = Path(folder, "vocab.json")
        merges_path = Path(folder, "merges.txt")
        vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
        merges_path.write_text("#version: 0.2\n", encoding="utf-8")
        # positional: transformers 5 ignores the vocab_file=/merges_file= keywords
        return CLIPTokenizer(str(vocab_path), str(merges_path), model_max_length=77)


def text_config(tokenizer: CLIPTokenizer, **config: Any) -> CLIPTextConfig:
    return CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=77,
        layer_norm_eps=1e-5,
        **config,
    )


# Real architectures, from the models' published configs.
_CLIP_L = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_hidden_layers=12,
    projection_dim=768,
    hidden_act="quick_gelu",
)
_OPENCLIP_H = dict(  # SD 2.x text encoder: ViT-H/14 text tower without its last layer
    vocab_size=49408,
    hidden_size=1024,
    intermediate_size=4096,
    num_attention_heads=16,
    num_hidden_layers=23,
    projection_dim=512,
    hidden_act="gelu",
)
_OPENCLIP_BIGG = dict(
    vocab_size=49408,
    hidden_size=1280,
    intermediate_size=5120,
    num_attention_heads=20,
    num_hidden_layers=32,
    projection_dim=1280,
    hidden_act="gelu",
)
_SD_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
)
_SD15_UNET = dict(
    sample_size=64,
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=768,
    attention_head_dim=8,
)
_SD21_UNET = dict(
    _SD15_UNET,
    cross_attention_dim=1024,
    attention_head_dim=(5, 10, 20, 20),
    use_linear_projection=True,
)
_SDXL_UNET = dict(
    sample_size=128,
    block_out_channels=(320, 640, 1280),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20),
    use_linear_projection=True,
    cross_attention_dim=2048,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 6 time ids * 256 + pooled 1280
)
_SCHEDULER_BASE = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="epsilon",
    steps_offset=1,
)


@dataclass(frozen=True)
class _Recipe:
    architecture: str  # "sd" or "sdxl"
    unet: dict[str, Any]
    vae: dict[str, Any]
    text: dict[str, Any]
    text_2: dict[str, Any] | None
    scheduler: dict[str, Any]


_TINY_TEXT = dict(
    vocab_size=514,
    hidden_size=32,
    intermediate_size=64,
    num_attention_heads=4,
    num_hidden_layers=2,
    projection_dim=32,
    hidden_act="quick_gelu",
)
_TINY_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(8, 16, 16, 16),  # four blocks: the real models' factor of 8
    layers_per_block=1,
    latent_channels=4,
    norm_num_groups=4,
    mid_block_add_attention=False,
)

RECIPES: dict[str, _Recipe] = {
    "random:tiny": _Recipe(
        "sd",
        unet=dict(
            sample_size=8,
            block_out_channels=(32, 64),
            layers_per_block=1,
            # attention only at the coarser level: full-resolution self-attention would
            # dominate the cost of a model this small
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
        ),
        vae=dict(_TINY_VAE, scaling_factor=0.18215),
        text=_TINY_TEXT,
        text_2=None,
        scheduler=dict(_SCHEDULER_BASE, timestep_spacing="trailing"),
    ),
    "tiny-sdxl": _Recipe(
        "sdxl",
        unet=dict(
            sample_size=8,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2),
            attention_head_dim=(4, 8),
            use_linear_projection=True,
            cross_attention_dim=64,  # both text encoders' hidden states side by side
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + 32,
            norm_num_groups=8,
        ),
        vae=dict(_TINY_VAE, scaling_factor=0.13025),
        text=_TINY_TEXT,
        text_2=dict(_TINY_TEXT, hidden_act="gelu"),
        scheduler=dict(_SCHEDULER_BASE, timestep_spacing="trailing"),
    ),
    "random:sd15": _Recipe(
        "sd",
        unet=_SD15_UNET,
        vae=dict(_SD_VAE, sample_size=512, scaling_factor=0.18215),
        text=_CLIP_L,
        text_2=None,
        scheduler=dict(_SCHEDULER_BASE, timestep_spacing="leading"),
    ),
    "random:sd-turbo": _Recipe(
        "sd",
        unet=_SD21_UNET,
        vae=dict(_SD_VAE, sample_size=768, scaling_factor=0.18215),
        text=_OPENCLIP_H,
        text_2=None,
        scheduler=dict(_SCHEDULER_BASE, timestep_spacing="trailing"),
    ),
    "random:sdxl": _Recipe(
        "sdxl",
        unet=_SDXL_UNET,
        vae=dict(_SD_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True),
        text=_CLIP_L,
        text_2=_OPENCLIP_BIGG,
        scheduler=dict(_SCHEDULER_BASE, timestep_spacing="leading"),
    ),
}


def build_random(
    name: str, device: torch.device, dtype: torch.dtype, vae: str
) -> StableDiffusionPipeline | StableDiffusionXLPipeline:
    """A pipeline with random weights, built on `device` in `dtype`; same seed, same weights."""
    from diffusers import EulerDiscreteScheduler

    recipe = RECIPES[name]
    tokenizer = _byte_level_tokenizer()
    with build_on(device, dtype):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**recipe.unet)
        torch.manual_seed(0)
        if vae == "tiny":
            autoencoder: AutoencoderKL | AutoencoderTiny = AutoencoderTiny()
        else:
            autoencoder = AutoencoderKL(**recipe.vae)
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(text_config(tokenizer, **recipe.text))
        text_encoder_2 = None
        if recipe.text_2 is not None:
            torch.manual_seed(0)
            text_encoder_2 = CLIPTextModelWithProjection(text_config(tokenizer, **recipe.text_2))
    with numpy2_quiet():
        scheduler = EulerDiscreteScheduler(**recipe.scheduler)
    modules = [unet, autoencoder, text_encoder, text_encoder_2]
    for module in modules:
        if module is not None:
            module.eval().requires_grad_(False)
    if recipe.architecture == "sdxl":
        return StableDiffusionXLPipeline(
            vae=autoencoder,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
            add_watermarker=False,
        )
    return StableDiffusionPipeline(
        vae=autoencoder,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def load_trained_tiny(
    device: torch.device, dtype: torch.dtype, vae: str
) -> StableDiffusionPipeline:
    """The trained `tiny` model from the package's diffusers folder (`vae="tiny"`: its own
    distilled TAESD-style decoder, which reads the same latents)."""
    from gendisco.tinymodel import WEIGHTS

    if not (WEIGHTS / "model_index.json").is_file():
        raise UserError(
            f"the built-in tiny model's weights are missing ({WEIGHTS}); reinstall gendisco, "
            "or run `make train-tiny` in its repository"
        )
    with numpy2_quiet():
        pipe = StableDiffusionPipeline.from_pretrained(
            str(WEIGHTS),
            **dtype_argument(dtype),
            local_files_only=True,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        if vae == "tiny":
            pipe.vae = AutoencoderTiny.from_pretrained(
                str(WEIGHTS / "vae_tiny"), **dtype_argument(dtype)
            )
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.eval().requires_grad_(False)
    return pipe.to(device)
