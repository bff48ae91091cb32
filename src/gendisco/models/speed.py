"""Apply `SpeedSettings` to a loaded pipeline: attention kernel, fused projections, memory
layout, cuDNN autotuning, float8 matmuls, feature reuse and torch.compile.

What each one bought on an H200 is in BENCHMARKS.md ("CUDA settings side by side");
`benchmarks/cuda_settings.py` measures them all side by side on one GPU.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL

from gendisco.errors import UserError
from gendisco.speed import SpeedSettings

FP8_CAPABILITY = (8, 9)  # float8 tensor cores: Ada (8.9), Hopper (9.0) and newer


def check_speed(settings: SpeedSettings, device: torch.device) -> None:
    """Settings this machine cannot run fail here, in one line, before any model is built."""
    if not settings.fp8:
        return
    if device.type != "cuda":
        raise UserError(
            f"fp8 needs an NVIDIA GPU with float8 tensor cores (Ada, Hopper or newer); "
            f"this render runs on {device.type}"
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < FP8_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        raise UserError(
            f"fp8 needs compute capability 8.9 or newer (Ada, Hopper); {name} has "
            f"{capability[0]}.{capability[1]}"
        )
    try:
        import torchao  # noqa: F401
    except ImportError:
        raise UserError("fp8 needs torchao: pip install torchao") from None


def _float8(unet: Any) -> None:
    """Float8 weights and dynamically scaled float8 activations in the UNet's linear layers
    (per-row scales), through torchao."""
    from torchao.quantization import quantize_

    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow

        config = Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
    except ImportError:  # torchao before 0.10 named it as a function
        from torchao.quantization import PerRow, float8_dynamic_activation_float8_weight

        config = float8_dynamic_activation_float8_weight(granularity=PerRow())
    quantize_(unet, config)


def apply_speed(pipe: Any, settings: SpeedSettings) -> None:
    """Apply `settings` to `pipe` in place (kept as `pipe.gendisco_speed`).

    The order matters: attention processors before fusing (fusing installs its own),
    layout and float8 before compiling (the compiler traces what it finds).
    """
    pipe.gendisco_speed = settings
    kl_vae = isinstance(pipe.vae, AutoencoderKL)
    # 1. Attention: diffusers already defaults to PyTorch's SDPA
    if settings.attention == "math":
        from diffusers.models.attention_processor import AttnProcessor

        pipe.unet.set_attn_processor(AttnProcessor())
        if kl_vae:
            pipe.vae.set_attn_processor(AttnProcessor())
    # 2. One matmul for q, k and v
    if settings.fused_qkv:
        pipe.unet.fuse_qkv_projections()
        if kl_vae:
            pipe.vae.fuse_qkv_projections()
    # 3. Memory layout of the convolutions
    if settings.channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    # 4. cuDNN autotuning: a process-wide switch, only meaningful on CUDA
    if settings.cudnn_benchmark and pipe.unet.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # 5. Float8 matmuls (check_speed made sure the GPU and torchao are there)
    if settings.fp8:
        _float8(pipe.unet)
    # 6. Deep features shared between neighbouring frames
    if settings.reuse_interval > 1:
        from gendisco.models.reuse import install

        install(pipe, settings.reuse_interval)
    # 7. torch.compile the UNet and the VAE decoder, the two parts that run per frame. The
    # first batch waits for the compiler; `_batches` then keeps one batch shape so that
    # nothing recompiles.
    if settings.compile != "off":
        mode = None if settings.compile == "default" else settings.compile
        pipe.unet = torch.compile(pipe.unet, mode=mode)
        pipe.vae.decoder = torch.compile(pipe.vae.decoder, mode=mode)
