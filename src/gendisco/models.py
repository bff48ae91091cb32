"""Diffusion pipelines and batched frame generation.

The only module that imports torch, diffusers and transformers. `load_pipeline` gives a
diffusers Stable Diffusion (1.x/2.x, Turbo) or SDXL pipeline from a hub id, a local folder,
a single `.safetensors` checkpoint, the built-in random `tiny` / `tiny-sdxl` models or the
full-size random architectures `random:sd15`, `random:sd-turbo`, `random:sdxl`.
`generate_frames` turns per-frame interpolation positions into uint8 frames, in batches, on
the pipeline's device.

Shapes: frames are `(B, H, W, 3)` uint8 (numpy); latents `(B, 4, H/8, W/8)`.
"""

from __future__ import annotations

import os

# Must precede the first transformers/diffusers import: they read these once, and without
# them every command prints a torchvision notice and loading chatter.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import contextlib
import difflib
import inspect
import json
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers import schedulers as diffusers_schedulers
from diffusers.utils import logging as diffusers_logging
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)
from transformers.utils import logging as transformers_logging

from gendisco.errors import GendiscoError, ModelError, UserError

# Loading bars would interleave with gendisco's own progress (download bars stay: a
# multi-gigabyte fetch needs one)
diffusers_logging.disable_progress_bar()
transformers_logging.disable_progress_bar()

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

# short name -> (diffusers class, extra config); built with `from_config` so the model's own
# betas, prediction type and timestep spacing carry over
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),  # as Stable Diffusion ships it
    "dpm++": ("DPMSolverMultistepScheduler", {}),
    "dpm++_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "dpm++_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "dpmsolver": ("DPMSolverMultistepScheduler", {}),
    "dpm_single": ("DPMSolverSinglestepScheduler", {}),
    "dpm2": ("KDPM2DiscreteScheduler", {}),
    "dpm2_a": ("KDPM2AncestralDiscreteScheduler", {}),
    "deis": ("DEISMultistepScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "tcd": ("TCDScheduler", {}),
}
_SCHEDULER_ALIASES = {
    "euler_ancestral": "euler_a",
    "eulera": "euler_a",
    "dpmpp": "dpm++",
    "dpm_solver": "dpmsolver",
    "dpmpp_karras": "dpm++_karras",
    "dpmpp_sde": "dpm++_sde",
    "unipcmultistep": "unipc",
}

BUILTIN_MODELS = ("tiny", "tiny-sdxl", "random:sd15", "random:sd-turbo", "random:sdxl")

_DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
}

_TAESD = {"sd": "madebyollin/taesd", "sdxl": "madebyollin/taesdxl"}


# --------------------------------------------------------------------------- devices


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: `device` if given, else CUDA, then Apple MPS, then CPU."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"unknown device {device!r}: use cuda, cuda:N, mps or cpu") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} was asked for, but this torch build sees no CUDA GPU")
    index = resolved.index
    if resolved.type == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise UserError(
            f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA GPU(s) visible"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {device!r} was asked for, but MPS is not available here")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """fp16 on CUDA and MPS, fp32 on CPU, unless `dtype` ("fp16", "bf16", "fp32") says otherwise."""
    if dtype is None:
        return torch.float32 if device.type == "cpu" else torch.float16
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float16, torch.bfloat16, torch.float32):
            raise UserError(f"unsupported dtype {dtype}: use fp16, bf16 or fp32")
        return dtype
    key = str(dtype).lower().removeprefix("torch.")
    if key not in _DTYPES:
        raise UserError(f"unknown dtype {dtype!r}: use fp16, bf16 or fp32")
    return _DTYPES[key]


@contextlib.contextmanager
def _numpy2_quiet() -> Iterator[None]:
    """Several diffusers schedulers trip numpy 2's `copy` DeprecationWarning on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@contextlib.contextmanager
def _build_on(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Create modules directly on `device` in `dtype` (no fp32 copy on the CPU first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


# --------------------------------------------------------------------------- random models


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


def _text_config(tokenizer: CLIPTokenizer, **config: Any) -> CLIPTextConfig:
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

_RECIPES: dict[str, _Recipe] = {
    "tiny": _Recipe(
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


def _build_random(
    name: str, device: torch.device, dtype: torch.dtype, vae: str
) -> StableDiffusionPipeline | StableDiffusionXLPipeline:
    """A pipeline with random weights, built on `device` in `dtype`; same seed, same weights."""
    from diffusers import EulerDiscreteScheduler

    recipe = _RECIPES[name]
    tokenizer = _byte_level_tokenizer()
    with _build_on(device, dtype):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**recipe.unet)
        torch.manual_seed(0)
        if vae == "tiny":
            autoencoder: AutoencoderKL | AutoencoderTiny = AutoencoderTiny()
        else:
            autoencoder = AutoencoderKL(**recipe.vae)
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(_text_config(tokenizer, **recipe.text))
        text_encoder_2 = None
        if recipe.text_2 is not None:
            torch.manual_seed(0)
            text_encoder_2 = CLIPTextModelWithProjection(_text_config(tokenizer, **recipe.text_2))
    with _numpy2_quiet():
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


# --------------------------------------------------------------------------- hub and files


def _offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return env in ("1", "true", "yes", "on") or bool(constants.HF_HUB_OFFLINE)


def _fetch_error(what: str, model: str, error: BaseException, offline: bool) -> ModelError:
    """One sentence: what was tried, why it failed, how to get the model."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    download = f"run `hf download {model}` where the network is reachable"
    if isinstance(error, HFValidationError):
        return ModelError(
            f"{what} '{model}' is neither an existing file or folder nor a valid Hugging Face "
            "repo id (owner/name)"
        )
    if isinstance(error, GatedRepoError):
        return ModelError(
            f"{what} '{model}' is gated on the Hugging Face Hub: accept its license on "
            f"https://huggingface.co/{model}, then run `hf auth login`"
        )
    if isinstance(error, RepositoryNotFoundError):
        return ModelError(
            f"{what} '{model}' was not found on the Hugging Face Hub (check the spelling; "
            "a private repo needs `hf auth login`)"
        )
    if offline:
        return ModelError(
            f"{what} '{model}' is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids "
            f"downloading it; {download}, or unset HF_HUB_OFFLINE"
        )
    if isinstance(error, LocalEntryNotFoundError):
        return ModelError(
            f"{what} '{model}' is not in the Hugging Face cache and the Hub could not be "
            f"reached to download it; check the network, or {download} elsewhere and copy "
            "the cache (HF_HOME)"
        )
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ModelError(f"could not load {what} '{model}': {first_line}")


def _hub_model_index(model: str, offline: bool) -> dict[str, Any]:
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(model, "model_index.json", local_files_only=offline)
    except Exception as error:  # every hub failure becomes one sentence
        raise _fetch_error("model", model, error, offline) from error
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _pipeline_class(model: str, index: dict[str, Any]) -> type:
    name = index.get("_class_name", "")
    if name in ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline"):
        return StableDiffusionXLPipeline
    if name in ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"):
        return StableDiffusionPipeline
    raise ModelError(
        f"model '{model}' is a {name or 'pipeline of unknown type'}; gendisco runs Stable "
        "Diffusion 1.x/2.x, SD-Turbo, SDXL and SDXL-Turbo pipelines"
    )


def _from_pretrained(
    model: str, source: str, index: dict[str, Any], dtype: torch.dtype, offline: bool
) -> Any:
    cls = _pipeline_class(model, index)
    kwargs: dict[str, Any] = dict(torch_dtype=dtype, use_safetensors=True, local_files_only=offline)
    if cls is StableDiffusionPipeline:
        # frames stay latents until gendisco decodes them; a safety checker would never run
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    else:
        kwargs.update(add_watermarker=False)
    attempts = [{"variant": "fp16"}, {}] if dtype != torch.float32 else [{}]
    last: BaseException | None = None
    for extra in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return cls.from_pretrained(source, **kwargs, **extra)
        except Exception as error:  # retried without the fp16 variant, then reported
            last = error
    assert last is not None
    if "safetensors" in str(last).lower():
        raise ModelError(
            f"model '{model}' has no .safetensors weights; gendisco loads safetensors only "
            "(pickled .bin/.ckpt weights can run code when loaded)"
        ) from last
    raise _fetch_error("model", model, last, offline) from last


def _checkpoint_is_sdxl(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as checkpoint:
            keys = list(checkpoint.keys())
    except Exception as error:
        raise ModelError(f"could not read checkpoint {path}: {error}") from error
    return any(key.startswith("conditioner.embedders.1.") for key in keys)


def _from_single_file(path: Path, dtype: torch.dtype, offline: bool) -> Any:
    cls = StableDiffusionXLPipeline if _checkpoint_is_sdxl(path) else StableDiffusionPipeline
    kwargs: dict[str, Any] = dict(torch_dtype=dtype, local_files_only=offline)
    if cls is StableDiffusionPipeline:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls.from_single_file(str(path), **kwargs)
    except Exception as error:
        if offline:
            raise ModelError(
                f"checkpoint {path} needs its architecture's diffusers config, which is not in "
                "the Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it; load it "
                "once with the network reachable (or convert it to a diffusers folder)"
            ) from error
        raise _fetch_error("checkpoint", str(path), error, offline) from error


def _load_taesd(architecture: str, dtype: torch.dtype, offline: bool) -> AutoencoderTiny:
    repo = _TAESD[architecture]
    try:
        return AutoencoderTiny.from_pretrained(
            repo, torch_dtype=dtype, use_safetensors=True, local_files_only=offline
        )
    except Exception as error:
        raise _fetch_error("tiny VAE", repo, error, offline) from error


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith((".", "/", "~"))
        or model.endswith((".safetensors", ".ckpt", ".pt", ".bin", ".pth"))
        or os.sep in model.replace("/", "")
        or Path(model).expanduser().exists()
    )


# --------------------------------------------------------------------------- load_pipeline


def _scheduler_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _SCHEDULER_ALIASES.get(key, key)
    if key not in SCHEDULERS:
        close = difflib.get_close_matches(key, SCHEDULERS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"unknown scheduler {name!r}{hint}; known: {', '.join(SCHEDULERS)}")
    return key


def _set_scheduler(pipe: Any, name: str) -> str:
    key = _scheduler_name(name)
    class_name, extra = SCHEDULERS[key]
    cls = getattr(diffusers_schedulers, class_name)
    try:
        with _numpy2_quiet():
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
    compile: bool = False,
) -> Any:
    """Load a Stable Diffusion or SDXL pipeline, ready on `device` in `dtype`.

    `model`: "tiny" / "tiny-sdxl" (small random, offline, for tests and dry runs),
    "random:sd15" / "random:sd-turbo" / "random:sdxl" (full-size, random weights), a
    Hugging Face repo id, a local diffusers folder or a single `.safetensors` checkpoint.
    `vae`: "default" or "tiny" (TAESD). `scheduler`: a short name from `SCHEDULERS`.
    `compile`: torch.compile the UNet and the VAE decoder (see `_compile`).
    Raises ModelError (with a way to get the model) when it cannot be found or fetched.
    """
    if vae not in ("default", "tiny"):
        raise UserError(f"unknown vae {vae!r}: use default or tiny")
    if scheduler is not None:
        _scheduler_name(scheduler)  # a typo fails before any download
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    offline = _offline()

    # 1. Build or fetch the pipeline
    if model in _RECIPES:
        pipe = _build_random(model, target, torch_dtype, vae)
        architecture = _RECIPES[model].architecture
        source = model
    elif model.startswith("random:") or model.startswith("tiny"):
        raise UserError(f"unknown built-in model {model!r}; built-in: {', '.join(BUILTIN_MODELS)}")
    else:
        if _looks_like_path(model):
            path = Path(model).expanduser().resolve()
            source = str(path)
            if not path.exists():
                raise ModelError(f"model path {path} does not exist")
            if path.is_file():
                if path.suffix != ".safetensors":
                    raise ModelError(
                        f"{path.name} is not a .safetensors checkpoint; gendisco loads "
                        "safetensors only (pickled weights can run code when loaded)"
                    )
                pipe = _from_single_file(path, torch_dtype, offline)
            else:
                index_path = path / "model_index.json"
                if not index_path.is_file():
                    raise ModelError(
                        f"folder {path} has no model_index.json, so it is not a diffusers "
                        "pipeline folder (pass the folder that contains model_index.json)"
                    )
                index = json.loads(index_path.read_text(encoding="utf-8"))
                pipe = _from_pretrained(model, source, index, torch_dtype, offline)
        else:
            source = model
            index = _hub_model_index(model, offline)
            pipe = _from_pretrained(model, model, index, torch_dtype, offline)
        architecture = "sdxl" if isinstance(pipe, StableDiffusionXLPipeline) else "sd"
        if vae == "tiny":
            pipe.vae = _load_taesd(architecture, torch_dtype, offline)
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
    scheduler_key = _set_scheduler(pipe, scheduler) if scheduler else None
    pipe.set_progress_bar_config(disable=True)
    pipe.gendisco_info = {
        "model": model,
        "source": source,
        "architecture": architecture,
        "device": str(target),
        "dtype": str(torch_dtype).removeprefix("torch."),
        "vae": vae,
        "scheduler": scheduler_key or "default",
        "scheduler_class": type(pipe.scheduler).__name__,
        "compiled": compile,
    }
    if compile:
        _compile(pipe)
    return pipe


def _compile(pipe: Any) -> None:
    """torch.compile the UNet and the VAE decoder, the two parts that run per frame.

    The first batch waits for the compiler (46 to 69 s for the published models on an H200);
    after that sd-turbo ran 1.43x (TAESD) to 1.70x (full VAE) faster there (BENCHMARKS.md),
    so it pays on renders of more than a few minutes of model time. `_batches` keeps the
    batch shape fixed so that nothing recompiles.
    """
    pipe.unet = torch.compile(pipe.unet)
    pipe.vae.decoder = torch.compile(pipe.vae.decoder)


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


# --------------------------------------------------------------------------- generation


def slerp(t: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of noise `a` (1, ...) to `b` (1, ...) at positions `t` (B,).

    Exact at the ends (t=0 gives `a`, t=1 gives `b`); falls back to linear when the two are
    nearly parallel. Returns (B, ...) in float32.
    """
    a32, b32 = a.float().flatten(1), b.float().flatten(1)
    t32 = t.float().reshape(-1, 1)
    cos = (a32 * b32).sum(1) / (a32.norm(dim=1) * b32.norm(dim=1)).clamp_min(1e-12)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(theta)
    if float(sin.abs().min()) < 1e-4:
        out = (1.0 - t32) * a32 + t32 * b32
    else:
        out = (torch.sin((1.0 - t32) * theta) / sin) * a32 + (torch.sin(t32 * theta) / sin) * b32
    return out.reshape(t32.shape[0], *a.shape[1:])


def _latent_noise(pipe: Any, seed: int, width: int, height: int) -> torch.Tensor:
    """Initial noise (1, C, H/8, W/8) in float32: drawn on the CPU, so any device gets it."""
    shape = (1, pipe.unet.config.in_channels, height // 8, width // 8)
    generator = torch.Generator("cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=generator, dtype=torch.float32)


@dataclass
class _Conditioning:
    """Encoded prompts, one row each, and the negative prompt (when guidance is on)."""

    embeds: torch.Tensor  # (P, T, D)
    pooled: torch.Tensor | None  # (P, D2), SDXL only
    negative: torch.Tensor | None  # (1, T, D)
    negative_pooled: torch.Tensor | None  # (1, D2)


def _is_sdxl(pipe: Any) -> bool:
    return isinstance(pipe, StableDiffusionXLPipeline)


def _uses_guidance(pipe: Any, guidance: float) -> bool:
    return guidance > 1.0 and pipe.unet.config.time_cond_proj_dim is None


@torch.inference_mode()
def _encode(pipe: Any, prompts: Sequence[str], negative: str, guided: bool) -> _Conditioning:
    """Encode each prompt once, alone (so its embedding never depends on the others), and the
    negative once when guidance is on, exactly as the pipeline itself would."""
    device = pipe.unet.device
    embeds, pooled = [], []
    neg = neg_pooled = None
    for i, prompt in enumerate(prompts):
        with_negative = guided and i == 0
        if _is_sdxl(pipe):
            e, n, p, n_p = pipe.encode_prompt(
                prompt=[prompt],
                device=device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=with_negative,
                negative_prompt=[negative] if with_negative else None,
            )
            pooled.append(p)
        else:
            e, n = pipe.encode_prompt(
                [prompt],
                device,
                1,
                with_negative,
                negative_prompt=[negative] if with_negative else None,
            )
            n_p = None
        embeds.append(e)
        if with_negative:
            neg, neg_pooled = n, n_p
    return _Conditioning(torch.cat(embeds), torch.cat(pooled) if pooled else None, neg, neg_pooled)


def _mix(pair: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Linear mix of pair[0] -> pair[1] for each weight (B,); exact at 0 and 1. (B, ...)."""
    shape = (-1,) + (1,) * (pair.dim() - 1)
    mixed = torch.lerp(pair[:1].float(), pair[1:2].float(), weights.float().reshape(shape))
    return mixed.to(pair.dtype)


@torch.inference_mode()
def _decode(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    """Latents (B, 4, h, w) -> images (B, 3, H, W) float32 in [0, 1] on the device."""
    vae = pipe.vae
    config = vae.config
    latents = latents.to(vae.dtype)
    mean = getattr(config, "latents_mean", None)
    std = getattr(config, "latents_std", None)
    if mean is not None and std is not None:
        view = dict(device=latents.device, dtype=latents.dtype)
        mean_t = torch.tensor(mean, **view).view(1, -1, 1, 1)
        std_t = torch.tensor(std, **view).view(1, -1, 1, 1)
        latents = latents * std_t / config.scaling_factor + mean_t
    else:
        latents = latents / config.scaling_factor
        shift = getattr(config, "shift_factor", None)
        if shift:
            latents = latents + shift
    images = vae.decode(latents, return_dict=False)[0]
    return (images.float() / 2 + 0.5).clamp(0, 1)


def _zoom(images: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Centre punch-in by `zoom` (B,) >= 1, resampled back to full size (bilinear).

    Sub-pixel exact (an affine grid, not an integer crop), so a decaying zoom glides.
    """
    scaled = zoom != 1.0
    if not bool(scaled.any()):
        return images
    inverse = 1.0 / zoom[scaled].float()
    theta = torch.zeros(inverse.shape[0], 2, 3, device=images.device, dtype=torch.float32)
    theta[:, 0, 0] = inverse
    theta[:, 1, 1] = inverse
    selected = images[scaled]
    grid = F.affine_grid(theta, list(selected.shape), align_corners=False)
    out = images.clone()
    out[scaled] = F.grid_sample(
        selected, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8, converted on the device."""
    pixels = (images * 255.0).round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def auto_batch_size(pipe: Any, *, width: int, height: int, guidance: float = 0.0) -> int:
    """Frames per batch: from free memory on CUDA (an estimate per frame), 4 on the CPU."""
    device = pipe.unet.device
    if device.type != "cuda":
        return 4 if device.type == "cpu" else 2
    free_bytes, _ = torch.cuda.mem_get_info(device)
    scale = width * height / (512 * 512)
    # Rough peak per frame at 512x512 in fp16: UNet activations ~0.3 GB (x2 with guidance,
    # x1.5 for SDXL's deeper transformer stacks); the KL decoder ~1.5 GB (its full-resolution
    # 128-channel blocks); TAESD ~0.15 GB. An OOM halves the batch and retries.
    unet_gb = 0.3 * (2 if _uses_guidance(pipe, guidance) else 1) * (1.5 if _is_sdxl(pipe) else 1)
    unet_gb *= pipe.unet.dtype.itemsize / 2
    vae_gb = 0.15 if isinstance(pipe.vae, AutoencoderTiny) else 1.5
    vae_gb *= pipe.vae.dtype.itemsize / 2
    per_frame = (unet_gb + vae_gb) * scale * 2**30
    return max(1, min(32, int(0.8 * free_bytes // per_frame)))


@torch.inference_mode()
def _denoise(
    pipe: Any,
    cond: _Conditioning,
    embeds: torch.Tensor,
    pooled: torch.Tensor | None,
    latents: torch.Tensor,
    step_seeds: list[int],
    *,
    width: int,
    height: int,
    steps: int,
    guidance: float,
) -> torch.Tensor:
    """One batch of initial noise through the UNet and scheduler -> denoised latents."""
    count = latents.shape[0]
    dtype = pipe.unet.dtype
    guided = _uses_guidance(pipe, guidance)
    kwargs: dict[str, Any] = dict(
        prompt_embeds=embeds.to(dtype),
        latents=latents.to(dtype),
        width=width,
        height=height,
        num_inference_steps=steps,
        guidance_scale=guidance,
        output_type="latent",
        return_dict=False,
    )
    if guided:
        kwargs["negative_prompt_embeds"] = cond.negative.expand(count, -1, -1).to(dtype)
    if pooled is not None:
        kwargs["pooled_prompt_embeds"] = pooled.to(dtype)
        if guided:
            kwargs["negative_pooled_prompt_embeds"] = cond.negative_pooled.expand(count, -1).to(
                dtype
            )
    # Schedulers that add fresh noise at each step draw it per frame from that frame's seed,
    # so a frame never depends on which batch it lands in.
    if "generator" in inspect.signature(pipe.scheduler.step).parameters:
        kwargs["generator"] = [torch.Generator("cpu").manual_seed(s) for s in step_seeds]
    with _numpy2_quiet():
        return pipe(**kwargs)[0]


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def _model_failure(error: BaseException, batch: int) -> ModelError:
    if _is_out_of_memory(error):
        if batch <= 1:
            hint = "even one frame at a time; lower the resolution or use vae: tiny"
        else:
            hint = (
                f"{batch} frames at a time; pass a smaller batch size "
                f"(e.g. --batch-size {max(1, batch // 2)})"
            )
        return ModelError(f"the device ran out of memory generating {hint}")
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    return ModelError(f"frame generation failed ({type(error).__name__}): {first_line}")


def _batches(
    pipe: Any,
    total: int,
    batch_size: int | None,
    make_batch: Any,
    *,
    width: int,
    height: int,
    guidance: float,
) -> Iterator[np.ndarray]:
    """Run `make_batch(frame_indices) -> uint8 frames` over [0, total) in batches.

    The automatic batch size is chosen once per pipeline and frame size (free memory shrinks
    once the allocator caches what the first batches used), and an out-of-memory batch is
    retried at half the size. A compiled pipeline gets one batch shape throughout: the last
    batch is padded by repeating its last frame, since every new shape would recompile.
    """
    device = pipe.unet.device
    auto = batch_size is None
    chosen = pipe.__dict__.setdefault("gendisco_batch_sizes", {})
    request = (width, height, _uses_guidance(pipe, guidance))
    if auto and request not in chosen:
        chosen[request] = auto_batch_size(pipe, width=width, height=height, guidance=guidance)
    size = batch_size or chosen[request]
    fixed_shape = bool(getattr(pipe, "gendisco_info", {}).get("compiled"))
    start = 0
    while start < total:
        stop = min(total, start + size)
        index = np.arange(start, stop)
        if fixed_shape and stop - start < size:
            index = np.concatenate([index, np.full(size - (stop - start), stop - 1)])
        try:
            frames = make_batch(index)[: stop - start]
        except GendiscoError:
            raise
        except Exception as error:  # torch/diffusers failures: one sentence with a hint
            if auto and size > 1 and _is_out_of_memory(error):
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                size = chosen[request] = max(1, size // 2)
                continue
            raise _model_failure(error, stop - start) from error
        yield frames
        start = stop


def _positions(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must hold one value per frame (1-D), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _check_request(width: int, height: int, steps: int, batch_size: int | None) -> None:
    for name, value in (("width", width), ("height", height)):
        if value < 8 or value % 8:
            raise UserError(f"{name} {value} must be a positive multiple of 8")
    if steps < 1:
        raise UserError(f"steps must be at least 1 (got {steps})")
    if batch_size is not None and batch_size < 1:
        raise UserError(f"batch size must be at least 1 (got {batch_size})")


def generate_frames(
    pipe: Any,
    *,
    prompt_a: str,
    prompt_b: str,
    seed_a: int,
    seed_b: int,
    embed_mix: Sequence[float] | np.ndarray,
    noise_mix: Sequence[float] | np.ndarray,
    width: int,
    height: int,
    steps: int,
    guidance: float,
    negative: str = "",
    batch_size: int | None = None,
    zoom: Sequence[float] | np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Frames between (prompt_a, seed_a) and (prompt_b, seed_b), in batches, in frame order.

    Frame i: text embeddings lerped by `embed_mix[i]` (0 = prompt_a, 1 = prompt_b), initial
    noise slerped by `noise_mix[i]` (0 = seed_a, 1 = seed_b), then punched in by `zoom[i]`
    (>= 1, optional). Classifier-free guidance (with `negative`) only when `guidance` > 1.
    Yields uint8 arrays (B, height, width, 3); `batch_size` None picks it from free memory.
    Inputs are checked and prompts encoded at the call, before the first frame is asked for.
    """
    embed_w = _positions("embed_mix", embed_mix)
    noise_w = _positions("noise_mix", noise_mix)
    if embed_w.shape != noise_w.shape:
        raise ValueError(
            f"embed_mix and noise_mix need one value per frame each "
            f"({embed_w.shape[0]} != {noise_w.shape[0]})"
        )
    zoom_w = None
    if zoom is not None:
        zoom_w = _positions("zoom", zoom)
        if zoom_w.shape != embed_w.shape:
            raise ValueError(f"zoom has {zoom_w.shape[0]} values for {embed_w.shape[0]} frames")
        if np.any(zoom_w < 1.0):
            raise ValueError("zoom factors must be >= 1 (1 = no zoom)")
    _check_request(width, height, steps, batch_size)

    device = pipe.unet.device
    cond = _encode(pipe, [prompt_a, prompt_b], negative, _uses_guidance(pipe, guidance))
    noise = torch.cat(
        [_latent_noise(pipe, seed_a, width, height), _latent_noise(pipe, seed_b, width, height)]
    ).to(device)
    # per-step noise (stochastic schedulers) comes from the nearer end's seed
    step_seeds = [int(seed_a) if w < 0.5 else int(seed_b) for w in noise_w]

    def make_batch(index: np.ndarray) -> np.ndarray:
        e = torch.from_numpy(embed_w[index]).to(device)
        n = torch.from_numpy(noise_w[index]).to(device)
        latents = _denoise(
            pipe,
            cond,
            _mix(cond.embeds, e),
            None if cond.pooled is None else _mix(cond.pooled, e),
            slerp(n, noise[:1], noise[1:2]),
            [step_seeds[i] for i in index],
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
        )
        images = _decode(pipe, latents)
        if zoom_w is not None:
            images = _zoom(images, torch.from_numpy(zoom_w[index]).to(device))
        return _to_uint8(images)

    return _batches(
        pipe,
        embed_w.shape[0],
        batch_size,
        make_batch,
        width=width,
        height=height,
        guidance=guidance,
    )


def generate_images(
    pipe: Any,
    *,
    prompts: Sequence[str],
    seeds: Sequence[int],
    width: int,
    height: int,
    steps: int,
    guidance: float,
    negative: str = "",
    batch_size: int | None = None,
) -> np.ndarray:
    """One image per (prompt, seed) pair -> uint8 (N, height, width, 3), batched.

    Image i is the frame `generate_frames` makes for (prompts[i], seeds[i]) at position 0:
    previews show exactly the keyframes a render starts and ends on.
    """
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts for {len(seeds)} seeds")
    _check_request(width, height, steps, batch_size)
    if not prompts:
        return np.zeros((0, height, width, 3), dtype=np.uint8)
    device = pipe.unet.device
    unique = list(dict.fromkeys(prompts))
    rows = torch.tensor([unique.index(p) for p in prompts], device=device)
    cond = _encode(pipe, unique, negative, _uses_guidance(pipe, guidance))
    noise = torch.cat([_latent_noise(pipe, s, width, height) for s in seeds]).to(device)

    def make_batch(index: np.ndarray) -> np.ndarray:
        picked = torch.from_numpy(index).to(device)
        prompt_rows = rows[picked]
        latents = _denoise(
            pipe,
            cond,
            cond.embeds[prompt_rows],
            None if cond.pooled is None else cond.pooled[prompt_rows],
            noise[picked],
            [int(seeds[i]) for i in index],
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
        )
        return _to_uint8(_decode(pipe, latents))

    batches = _batches(
        pipe, len(prompts), batch_size, make_batch, width=width, height=height, guidance=guidance
    )
    return np.concatenate(list(batches))
