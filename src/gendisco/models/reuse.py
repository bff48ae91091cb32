"""Feature reuse between neighbouring frames (`speed: {feature_reuse: N}`), DeepCache-style.

Neighbouring frames of a transition differ little, and so do the UNet's deep features (the
coarse, low-resolution blocks that cost most). With reuse on, every N-th frame of a clip (an
anchor) runs the whole UNet and leaves its deep features at each denoising call; the N-1
frames after it run only the shallow ends (the input convolution, the first down block, the
last up block and the output convolution) on their own latents, with the anchor's deep
features at the same call in between. The frames stay in step: frame i's anchor is frame
i - i % N of the same clip, whichever batch either lands in.

The UNet is split as DeepCache splits it: deep = `down_blocks[1:]`, `mid_block` and
`up_blocks[:-1]`; its output is the input of the last up block. `unet_parts` runs one
UNet2DConditionModel call in the two parts; with no features given it is the model's own
forward (tests check that), for the configurations gendisco loads: SD 1.x/2.x and SDXL
without ControlNet, adapters or attention masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


def _embeddings(
    unet: Any,
    sample: torch.Tensor,
    timestep: Any,
    encoder_hidden_states: torch.Tensor,
    timestep_cond: torch.Tensor | None,
    added_cond_kwargs: dict[str, Any] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The time (and SDXL text-time) embedding and the processed text states, as the
    model's own forward makes them."""
    t_emb = unet.get_time_embed(sample=sample, timestep=timestep)
    emb = unet.time_embedding(t_emb, timestep_cond)
    class_emb = unet.get_class_embed(sample=sample, class_labels=None)
    if class_emb is not None:
        concat = unet.config.class_embeddings_concat
        emb = torch.cat([emb, class_emb], dim=-1) if concat else emb + class_emb
    aug_emb = unet.get_aug_embed(
        emb=emb, encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added_cond_kwargs
    )
    if aug_emb is not None:
        emb = emb + aug_emb
    if unet.time_embed_act is not None:
        emb = unet.time_embed_act(emb)
    states = unet.process_encoder_hidden_states(
        encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added_cond_kwargs
    )
    return emb, states


def _down(block: Any, sample: torch.Tensor, emb: torch.Tensor, states: torch.Tensor):
    if getattr(block, "has_cross_attention", False):
        return block(hidden_states=sample, temb=emb, encoder_hidden_states=states)
    return block(hidden_states=sample, temb=emb)


def _up(block: Any, sample, emb, states, res, upsample_size) -> torch.Tensor:
    if getattr(block, "has_cross_attention", False):
        return block(
            hidden_states=sample,
            temb=emb,
            res_hidden_states_tuple=res,
            encoder_hidden_states=states,
            upsample_size=upsample_size,
        )
    return block(
        hidden_states=sample, temb=emb, res_hidden_states_tuple=res, upsample_size=upsample_size
    )


def unet_parts(
    unet: Any,
    sample: torch.Tensor,
    timestep: Any,
    encoder_hidden_states: torch.Tensor,
    *,
    timestep_cond: torch.Tensor | None = None,
    added_cond_kwargs: dict[str, Any] | None = None,
    deep: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One UNet call -> (noise prediction, deep features), both (B, ...).

    With `deep` given (B, C, h, w), the deep blocks are skipped and those features used
    instead; without, they run and their output is returned for later reuse.
    """
    needs_size = any(dim % 2**unet.num_upsamplers for dim in sample.shape[-2:])
    if unet.config.center_input_sample:
        sample = 2 * sample - 1.0
    emb, states = _embeddings(
        unet, sample, timestep, encoder_hidden_states, timestep_cond, added_cond_kwargs
    )
    hidden = unet.conv_in(sample)
    res: tuple[torch.Tensor, ...] = (hidden,)
    hidden, first_res = _down(unet.down_blocks[0], hidden, emb, states)
    res += first_res
    last = unet.up_blocks[-1]
    if deep is None:
        for block in unet.down_blocks[1:]:
            hidden, block_res = _down(block, hidden, emb, states)
            res += block_res
        if unet.mid_block is not None:
            if getattr(unet.mid_block, "has_cross_attention", False):
                hidden = unet.mid_block(hidden, emb, encoder_hidden_states=states)
            else:
                hidden = unet.mid_block(hidden, emb)
        for block in unet.up_blocks[:-1]:
            used, res = res[-len(block.resnets) :], res[: -len(block.resnets)]
            size = res[-1].shape[2:] if needs_size else None
            hidden = _up(block, hidden, emb, states, used, size)
        deep = hidden
    # the last up block takes the conv_in output and the first down block's resnets
    skips = res[: len(last.resnets)]
    out = _up(last, deep, emb, states, skips, None)
    if unet.conv_norm_out is not None:
        out = unet.conv_act(unet.conv_norm_out(out))
    return unet.conv_out(out), deep


def _rows(value: Any, rows: torch.Tensor, count: int) -> Any:
    """`value` restricted to `rows` when it holds one row per sample; else unchanged."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == count:
        return value[rows]
    if isinstance(value, dict):
        return {key: _rows(item, rows, count) for key, item in value.items()}
    return value


@dataclass
class FeatureReuse:
    """Installed on a pipeline's UNet by `install`; `generate_frames` tells it which frames
    each batch holds (`start_clip`, `start_batch`). Outside a clip (previews), and for
    frames it has no anchor features for, the UNet runs whole."""

    unet: Any
    interval: int
    forward: Any  # the UNet's own forward
    frames: np.ndarray | None = None  # clip frame index of each latent in the batch
    calls: int = 0  # UNet calls so far in this batch: the denoising call index
    # (call index, CFG half) -> (anchor frame, its deep features (1, C, h, w))
    kept: dict[tuple[int, int], tuple[int, torch.Tensor]] = field(default_factory=dict)
    deep_rows: int = 0  # latents that went through the deep blocks (for tests, benchmarks)
    reused_rows: int = 0

    def start_clip(self) -> None:
        self.kept.clear()
        self.frames = None

    def start_batch(self, frames: np.ndarray | None) -> None:
        self.frames = None if frames is None else np.asarray(frames)
        self.calls = 0

    def __call__(self, sample: torch.Tensor, timestep: Any, *args: Any, **kwargs: Any) -> Any:
        if self.frames is None or args or kwargs.get("cross_attention_kwargs"):
            self.deep_rows += sample.shape[0]
            return self.forward(sample, timestep, *args, **kwargs)
        call = self.calls
        self.calls += 1
        predicted = self._reuse(sample, timestep, call, kwargs)
        if kwargs.get("return_dict", True):
            from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

            return UNet2DConditionOutput(sample=predicted)
        return (predicted,)

    def _reuse(self, sample: torch.Tensor, timestep: Any, call: int, kwargs: dict) -> torch.Tensor:
        count = sample.shape[0]
        frames = self.frames
        halves = count // len(frames)  # 2 with classifier-free guidance (uncond, cond)
        row_frame = np.tile(frames, halves)
        row_half = np.repeat(np.arange(halves), len(frames))
        anchor = row_frame - row_frame % self.interval
        inputs = {
            "encoder_hidden_states": kwargs.get("encoder_hidden_states"),
            "timestep_cond": kwargs.get("timestep_cond"),
            "added_cond_kwargs": kwargs.get("added_cond_kwargs"),
        }

        def run(rows: np.ndarray, deep: torch.Tensor | None):
            index = torch.from_numpy(rows).to(sample.device)
            part = {name: _rows(value, index, count) for name, value in inputs.items()}
            return unet_parts(
                self.unet, sample[index], _rows(timestep, index, count), deep=deep, **part
            )

        out = torch.empty_like(sample)
        # 1. anchors in this batch, and frames whose anchor features are not at hand
        have = {
            half: frame for (kept_call, half), (frame, _) in self.kept.items() if kept_call == call
        }
        is_anchor = row_frame == anchor
        orphan = ~is_anchor & ~np.isin(anchor, frames)
        orphan &= np.array([have.get(h) != a for h, a in zip(row_half, anchor, strict=True)])
        whole = np.flatnonzero(is_anchor | orphan)
        deep_of: dict[tuple[int, int], torch.Tensor] = {}
        if whole.size:
            predicted, deep = run(whole, None)
            out[torch.from_numpy(whole).to(sample.device)] = predicted
            self.deep_rows += whole.size
            for i, row in enumerate(whole):
                if is_anchor[row]:
                    deep_of[(int(row_half[row]), int(row_frame[row]))] = deep[i : i + 1]
        # 2. the others: shallow ends around their anchor's deep features
        rest = np.setdiff1d(np.arange(count), whole)
        if rest.size:
            features = []
            for row in rest:
                key = (int(row_half[row]), int(anchor[row]))
                if key not in deep_of:
                    deep_of[key] = self.kept[(call, key[0])][1]
                features.append(deep_of[key])
            predicted, _ = run(rest, torch.cat(features))
            out[torch.from_numpy(rest).to(sample.device)] = predicted
            self.reused_rows += rest.size
        # 3. keep the latest anchor of each half for the next batch
        for (half, frame), deep in deep_of.items():
            previous = self.kept.get((call, half))
            if previous is None or frame >= previous[0]:
                self.kept[(call, half)] = (frame, deep)
        return out


def install(pipe: Any, interval: int) -> FeatureReuse:
    """Route the pipeline's UNet calls through a `FeatureReuse` (kept as
    `pipe.gendisco_feature_reuse`)."""
    unet = pipe.unet
    reuse = FeatureReuse(unet=unet, interval=interval, forward=unet.forward)
    unet.forward = reuse  # an instance attribute: nn.Module.__call__ finds it first
    pipe.gendisco_feature_reuse = reuse
    return reuse
