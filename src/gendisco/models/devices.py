"""Where and in which precision a pipeline runs."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from gendisco.errors import UserError

DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
}


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
    if key not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}: use fp16, bf16 or fp32")
    return DTYPES[key]


@functools.cache
def _dtype_keyword() -> str:
    import diffusers
    from diffusers.utils import deprecation_utils
    from packaging.version import Version

    renamed = hasattr(deprecation_utils, "_resolve_dtype")  # the release that renamed it
    return "dtype" if renamed or Version(diffusers.__version__).major >= 1 else "torch_dtype"


def dtype_argument(dtype: torch.dtype) -> dict[str, Any]:
    """The precision as diffusers' `from_pretrained` takes it: `dtype` in the releases that
    deprecate `torch_dtype` (which print a FutureWarning for it on every load), `torch_dtype`
    before them (which would ignore an unknown `dtype` and load float32)."""
    return {_dtype_keyword(): dtype}


@contextlib.contextmanager
def numpy2_quiet() -> Iterator[None]:
    """Several diffusers schedulers trip numpy 2's `copy` DeprecationWarning on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@contextlib.contextmanager
def build_on(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Create modules directly on `device` in `dtype` (no fp32 copy on the CPU first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)
