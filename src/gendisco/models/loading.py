"""`load_pipeline`: any supported model, ready on its device, with gendisco's scheduler."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, StableDiffusionXLPipeline
from diffusers import schedulers as diffusers_schedulers

from gendisco.errors import UserError
from gendisco.model_check import locate_model
from gendisco.models.architectures import (
    RECIPES,
    TRAINED_TINY,
    build_random,
    load_trained_tiny,
)
from gendisco.models.devices import numpy2_quiet, resolve_device, resolve_dtype
from gendisco.models.sources import (
    from_pretrained,
    from_single_file,
    hub_model_index,
    load_taesd,
    offline_mode,
    read_model_index,
)
from gendisco.models.speed import apply_speed, check_speed
from gendisco.schedulers import SCHEDULERS, scheduler_key
from gendisco.speed import SpeedSettings, compile_settings


def _set_scheduler(pipe: Any, name: str) -> str:
    key = scheduler_key(name)
    class_name, extra = SCHEDULERS[key]
    cls = getattr(diffusers_schedulers, class_name)
    try:
        with numpy2_quiet():
            pipe.scheduler = cls.from_config(pipe.scheduler.config, **extra)
    except ImportError as error:  # e.g. a scheduler whose extra dependency is missing
        raise UserError(f"scheduler {name!r} needs a missing package: {error}") from error
    return key


def load_pipeline(
    model: str,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    vae: str = "default",
    scheduler: str | None = None,
    compile: bool | str = False,
    speed: SpeedSettings | None = None,
) -> Any:
    """Load a Stable Diffusion or SDXL pipeline, ready on `device` in `dtype`.

    `model`: "tiny" (small, trained in this repository, offline), "tiny-sdxl" /
    "random:tiny" (small random, for tests), "random:sd15" / "random:sd-turbo" /
    "random:sdxl" (full-size, random weights), a
    Hugging Face repo id, a local diffusers folder or a single `.safetensors` checkpoint.
    `vae`: "default" or "tiny" (TAESD). `scheduler`: a short name from `SCHEDULERS`.
    `speed`: how the model runs (`gendisco.speed.SpeedSettings`, applied by `apply_speed`);
    `compile` (True or a mode name) overrides its compile mode.
    Raises ModelError (with a way to get the model) when it cannot be found or fetched, and
    ModelPathError (a UserError) for a path that does not exist or will not be loaded.
    """
    if vae not in ("default", "tiny"):
        raise UserError(f"unknown vae {vae!r}: use default or tiny")
    if scheduler is not None:
        scheduler_key(scheduler)  # a typo fails before any download
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    settings = compile_settings(speed or SpeedSettings(), compile)
    check_speed(settings, target)  # fp8 on a GPU without it fails before any download
    offline = offline_mode()

    # 1. Build or fetch the pipeline
    if model == TRAINED_TINY:
        pipe = load_trained_tiny(target, torch_dtype, vae)
        architecture = "sd"
        source = model
    elif model in RECIPES:
        pipe = build_random(model, target, torch_dtype, vae)
        architecture = RECIPES[model].architecture
        source = model
    else:
        # a missing or unloadable path, or a mistyped built-in name, fails here (exit 2)
        location = locate_model(model)
        if location.kind == "file":
            source = str(location.path)
            pipe = from_single_file(location.path, torch_dtype, offline)
        elif location.kind == "folder":
            source = str(location.path)
            index = read_model_index(location.path / "model_index.json", model)
            pipe = from_pretrained(model, source, index, torch_dtype, offline)
        else:
            source = model
            index = hub_model_index(model, offline)
            pipe = from_pretrained(model, model, index, torch_dtype, offline)
        architecture = "sdxl" if isinstance(pipe, StableDiffusionXLPipeline) else "sd"
        if vae == "tiny":
            pipe.vae = load_taesd(architecture, torch_dtype, offline)
        pipe.to(target)

    # 2. Decoding: the SDXL VAE overflows in fp16 (the models flag it with force_upcast),
    # so it stays in fp32 as diffusers' own pipeline does
    if (
        isinstance(pipe.vae, AutoencoderKL)
        and torch_dtype == torch.float16
        and getattr(pipe.vae.config, "force_upcast", False)
    ):
        pipe.vae.to(torch.float32)

    # 3. Scheduler and quiet progress (the CLI owns the progress bar)
    chosen_scheduler = _set_scheduler(pipe, scheduler) if scheduler else None
    pipe.set_progress_bar_config(disable=True)
    pipe.gendisco_info = {
        "model": model,
        "source": source,
        "architecture": architecture,
        "device": str(target),
        "dtype": str(torch_dtype).removeprefix("torch."),
        "vae": vae,
        "scheduler": chosen_scheduler or "default",
        "scheduler_class": type(pipe.scheduler).__name__,
        "compiled": settings.compile != "off",
        "speed": settings.changed(),
    }
    apply_speed(pipe, settings)
    return pipe


def describe_pipeline(pipe: Any) -> dict[str, Any]:
    """What identifies the pipeline's output, for cache keys and manifests (JSON-ready)."""
    import diffusers
    import transformers

    info = dict(getattr(pipe, "gendisco_info", {}))
    info.setdefault("model", getattr(pipe, "name_or_path", None) or type(pipe).__name__)
    info.setdefault("architecture", "sdxl" if isinstance(pipe, StableDiffusionXLPipeline) else "sd")
    info["device"] = str(pipe.unet.device)
    info["dtype"] = str(pipe.unet.dtype).removeprefix("torch.")
    info["vae"] = "tiny" if isinstance(pipe.vae, AutoencoderTiny) else "default"
    info["scheduler_class"] = type(pipe.scheduler).__name__
    info.setdefault("scheduler", "default")
    info["versions"] = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }
    return info
