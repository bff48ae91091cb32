"""Models from elsewhere: Hugging Face hub ids, local diffusers folders, single-file
checkpoints, the TAESD decoders; and one sentence on how to get a model that is missing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderTiny, StableDiffusionPipeline, StableDiffusionXLPipeline

from gendisco.errors import ModelError, ModelPathError

# re-exported: the loaders ask these, the torch-free checks own them
from gendisco.model_check import TAESD, download_hint, looks_like_path, offline_mode, offline_reason  # noqa: F401
from gendisco.models.devices import dtype_argument


def fetch_error(what: str, model: str, error: BaseException, offline: bool) -> ModelError:
    """One sentence: what was tried, why it failed, how to get the model."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    if isinstance(error, HFValidationError):
        return ModelPathError(
            f"{what} '{model}' is neither an existing file or folder nor a valid Hugging Face "
            "repo id (owner/name)"
        )
    if isinstance(error, GatedRepoError):
        return ModelError(
            f"{what} '{model}' is gated on the Hugging Face Hub: accept its license on "
            f"https://huggingface.co/{model}, then run `hf auth login`"
        )
    if isinstance(error, RepositoryNotFoundError):
        return ModelPathError(
            f"{what} '{model}' was not found on the Hugging Face Hub (check the spelling; "
            "a private repo needs `hf auth login`)"
        )
    if offline or isinstance(error, LocalEntryNotFoundError):
        return ModelError(
            f"{what} '{model}' is not in the Hugging Face cache and {offline_reason()}; "
            f"{download_hint(model)}"
        )
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ModelError(f"could not load {what} '{model}': {first_line}")


def hub_model_index(model: str, offline: bool) -> dict[str, Any]:
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(model, "model_index.json", local_files_only=offline)
    except Exception as error:  # every hub failure becomes one sentence
        raise fetch_error("model", model, error, offline) from error
    return read_model_index(Path(path), model, downloaded=True)


def read_model_index(path: Path, model: str, *, downloaded: bool = False) -> dict[str, Any]:
    """The pipeline's `model_index.json`, or one line on what is wrong with it: a folder's
    file is the user's to fix (exit 2), a cached download's is a failed download (exit 1)."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error).splitlines()[0]
        if downloaded:
            problem: ModelError = ModelError(
                f"model '{model}': its downloaded model_index.json cannot be read ({reason}); "
                f"{download_hint(model)}"
            )
        else:
            problem = ModelPathError(
                f"model folder {model}: model_index.json cannot be read ({reason}); "
                "a diffusers pipeline folder has one, as `save_pretrained` writes it"
            )
        raise problem from None
    if not isinstance(index, dict):
        kind = ModelError if downloaded else ModelPathError
        raise kind(f"model {model}: model_index.json is not a JSON object")
    return index


def pipeline_class(model: str, index: dict[str, Any]) -> type:
    name = index.get("_class_name", "")
    if name in ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline"):
        return StableDiffusionXLPipeline
    if name in ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"):
        return StableDiffusionPipeline
    raise ModelError(
        f"model '{model}' is a {name or 'pipeline of unknown type'}; gendisco runs Stable "
        "Diffusion 1.x/2.x, SD-Turbo, SDXL and SDXL-Turbo pipelines"
    )


def from_pretrained(
    model: str, source: str, index: dict[str, Any], dtype: torch.dtype, offline: bool
) -> Any:
    cls = pipeline_class(model, index)
    kwargs: dict[str, Any] = {
        **dtype_argument(dtype),
        "use_safetensors": True,
        "local_files_only": offline,
    }
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
    raise fetch_error("model", model, last, offline) from last


def checkpoint_is_sdxl(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as checkpoint:
            keys = list(checkpoint.keys())
    except Exception as error:
        raise ModelError(f"could not read checkpoint {path}: {error}") from error
    return any(key.startswith("conditioner.embedders.1.") for key in keys)


def from_single_file(path: Path, dtype: torch.dtype, offline: bool) -> Any:
    cls = StableDiffusionXLPipeline if checkpoint_is_sdxl(path) else StableDiffusionPipeline
    kwargs: dict[str, Any] = {**dtype_argument(dtype), "local_files_only": offline}
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
                f"the Hugging Face cache and {offline_reason()}; load it once with the network "
                "reachable (or convert it to a diffusers folder)"
            ) from error
        raise fetch_error("checkpoint", str(path), error, offline) from error


def load_taesd(architecture: str, dtype: torch.dtype, offline: bool) -> AutoencoderTiny:
    repo = TAESD[architecture]
    try:
        return AutoencoderTiny.from_pretrained(
            repo, **dtype_argument(dtype), use_safetensors=True, local_files_only=offline
        )
    except Exception as error:
        raise fetch_error("tiny VAE", repo, error, offline) from error
