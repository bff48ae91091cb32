"""How the model runs: `SpeedSettings`, the project's `speed:` block and `render --speed`.

These settings change how fast frames are made, not what they show, with two exceptions
that change pixels and so enter the clips' cache keys: `fp8` and `feature_reuse`. Each
default is what measured faster (or no slower) on the GPUs tried (BENCHMARKS.md, "CUDA
settings side by side"); the rest are opt-in. Torch-free, so `gendisco validate` checks
them without importing torch; `gendisco.models.loading` applies them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gendisco.errors import UserError

COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")
CompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
# settings that change the pixels (the rest only change speed, within a grey level)
PIXEL_SETTINGS = ("fp8", "feature_reuse")


class SpeedSettings(BaseModel):
    """How the model runs on the device. Every field is optional; the defaults are safe."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="speed settings")

    compile: CompileMode = Field(
        "off",
        description="torch.compile the UNet and VAE decoder: `default`, `reduce-overhead` "
        "(CUDA graphs) or `max-autotune` (CUDA graphs and kernel search, the longest compile). "
        "A minute or more of compiling before the first frame; pays off on long renders.",
    )
    attention: Literal["sdpa", "math"] = Field(
        "sdpa",
        description="`sdpa`: PyTorch's fused attention (flash attention on CUDA in fp16); "
        "`math`: the plain matmul-softmax-matmul, slower, for comparison.",
    )
    fused_qkv: bool = Field(
        False,
        description="One matmul for the query, key and value projections of self-attention "
        "(needs `attention: sdpa`).",
    )
    channels_last: bool = Field(
        False,
        description="NHWC memory layout for the UNet and VAE (can help under `compile`).",
    )
    cudnn_benchmark: bool = Field(
        False,
        description="Let cuDNN time its convolution algorithms for each new shape (CUDA, "
        "process-wide).",
    )
    fp8: bool = Field(
        False,
        description="Float8 matmuls in the UNet's linear layers (torchao; CUDA compute "
        "capability 8.9 or newer: Ada, Hopper). Changes pixels slightly.",
    )
    overlap_decode: bool = Field(
        False,
        description="Decode batch k on a second CUDA stream while the UNet works on batch "
        "k+1. Same pixels; no effect on the CPU or MPS.",
    )
    feature_reuse: int = Field(
        0,
        ge=0,
        le=16,
        description="Reuse deep UNet features between neighbouring frames of a transition: "
        "every N-th frame runs the whole UNet, the frames between reuse its deep features "
        "(DeepCache-style). 0 or 1 = off. Changes pixels slightly; for multi-step models.",
    )

    @model_validator(mode="after")
    def _compatible(self) -> SpeedSettings:
        if self.fused_qkv and self.attention != "sdpa":
            raise ValueError("fused_qkv needs attention: sdpa")
        if self.feature_reuse > 1 and self.compile != "off":
            raise ValueError("feature_reuse runs the UNet in parts and cannot be compiled")
        return self

    @property
    def reuse_interval(self) -> int:
        """Frames per full UNet pass: 1 when feature reuse is off."""
        return max(1, self.feature_reuse)

    def pixel_key(self) -> dict[str, Any]:
        """The settings that change pixels, only where they differ from the default, so a
        project without them keeps the cache keys it always had."""
        default = SpeedSettings()
        return {
            name: getattr(self, name)
            for name in PIXEL_SETTINGS
            if getattr(self, name) != getattr(default, name)
            and not (name == "feature_reuse" and self.reuse_interval == 1)
        }

    def changed(self) -> dict[str, Any]:
        """The fields that differ from the defaults (for manifests and benchmark labels)."""
        return self.model_dump(exclude_defaults=True)


def with_overrides(base: SpeedSettings, items: list[str]) -> SpeedSettings:
    """`base` with `KEY=VALUE` items applied (`render --speed fused_qkv=on`), checked.

    Raises UserError with one line naming the item at fault.
    """
    update: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserError(f"--speed {item!r}: expected KEY=VALUE, e.g. --speed fused_qkv=on")
        if key not in SpeedSettings.model_fields:
            known = ", ".join(SpeedSettings.model_fields)
            raise UserError(f"--speed {item!r}: unknown setting {key!r}; known: {known}")
        update[key] = value.strip()
    return checked({**base.model_dump(), **update}, source="--speed")


def checked(values: dict[str, Any], *, source: str) -> SpeedSettings:
    """Validate speed settings from the command line: one `error:` line on a bad value."""
    # pydantic reads on/off, yes/no and true/false for the switches
    try:
        return SpeedSettings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        prefix = f"{source} {where}" if where else source
        raise UserError(f"{prefix}: {message}") from None


def compile_settings(base: SpeedSettings, mode: str | bool | None) -> SpeedSettings:
    """`base` with the compile mode of `render --compile [MODE]` (True = `default`)."""
    if mode is None or mode is False:
        return base
    chosen = "default" if mode is True else str(mode)
    if chosen not in COMPILE_MODES:
        raise UserError(f"--compile {chosen!r}: use one of {', '.join(COMPILE_MODES)}")
    return checked({**base.model_dump(), "compile": chosen}, source="--compile")
