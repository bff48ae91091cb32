"""Diffusion pipelines and batched frame generation.

The only package that imports torch, diffusers and transformers. `load_pipeline` gives a
diffusers Stable Diffusion (1.x/2.x, Turbo) or SDXL pipeline from a hub id, a local folder,
a single `.safetensors` checkpoint, the built-in `tiny` / `tiny-sdxl` models or the
full-size random architectures `random:sd15`, `random:sd-turbo`, `random:sdxl`.
`generate_frames` turns per-frame interpolation positions into uint8 frames, in batches, on
the pipeline's device.

Shapes: frames are `(B, H, W, 3)` uint8 (numpy); latents `(B, 4, H/8, W/8)`.

Modules, by job: `devices` (device and dtype), `architectures` (the built-in models, built in
code), `sources` (hub ids, folders, checkpoints, the Hugging Face cache), `loading`
(`load_pipeline`, schedulers), `speed` (applying `gendisco.speed.SpeedSettings`: attention,
fused QKV, layout, fp8, compile), `reuse` (deep features shared between neighbouring
frames), `generate` (noise, prompts, denoising, decoding).
"""

from __future__ import annotations

import os

# Must precede the first transformers/diffusers import: they read these once, and without
# them every command prints a torchvision notice and loading chatter.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

from diffusers.utils import logging as diffusers_logging  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

# Loading bars would interleave with gendisco's own progress (download bars stay: a
# multi-gigabyte fetch needs one)
diffusers_logging.disable_progress_bar()
transformers_logging.disable_progress_bar()

from gendisco.model_check import quiet_hub_logging  # noqa: E402

quiet_hub_logging()  # retries are reported as gendisco's own one-line error

from gendisco.model_check import BUILTIN_MODELS  # noqa: E402
from gendisco.models.devices import resolve_device, resolve_dtype  # noqa: E402
from gendisco.models.generate import (  # noqa: E402
    auto_batch_size,
    generate_frames,
    generate_images,
    slerp,
)
from gendisco.models.loading import SCHEDULERS, describe_pipeline, load_pipeline  # noqa: E402

__all__ = [
    "BUILTIN_MODELS",
    "SCHEDULERS",
    "auto_batch_size",
    "describe_pipeline",
    "generate_frames",
    "generate_images",
    "load_pipeline",
    "resolve_device",
    "resolve_dtype",
    "slerp",
]
