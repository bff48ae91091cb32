"""Frames from per-frame interpolation positions: noise (slerp), prompts (lerp), the UNet and
scheduler, the VAE decoder, the zoom, in batches on the pipeline's device."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderTiny, StableDiffusionXLPipeline

from gendisco.errors import GendiscoError, ModelError, UserError
from gendisco.models.devices import numpy2_quiet
from gendisco.speed import SpeedSettings


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


def latent_noise(pipe: Any, seed: int, width: int, height: int) -> torch.Tensor:
    """Initial noise (1, C, H/f, W/f) in float32, f the VAE's downscale (8 for Stable
    Diffusion, 16 for `tiny`): drawn on the CPU, so any device gets it."""
    factor = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, height // factor, width // factor)
    generator = torch.Generator("cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=generator, dtype=torch.float32)


@dataclass
class Conditioning:
    """Encoded prompts, one row each, and the negative prompt (when guidance is on)."""

    embeds: torch.Tensor  # (P, T, D)
    pooled: torch.Tensor | None  # (P, D2), SDXL only
    negative: torch.Tensor | None  # (1, T, D)
    negative_pooled: torch.Tensor | None  # (1, D2)


def is_sdxl(pipe: Any) -> bool:
    return isinstance(pipe, StableDiffusionXLPipeline)


def uses_guidance(pipe: Any, guidance: float) -> bool:
    return guidance > 1.0 and pipe.unet.config.time_cond_proj_dim is None


@torch.inference_mode()
def encode(pipe: Any, prompts: Sequence[str], negative: str, guided: bool) -> Conditioning:
    """Encode each prompt once, alone (so its embedding never depends on the others), and the
    negative once when guidance is on, exactly as the pipeline itself would."""
    device = pipe.unet.device
    embeds, pooled = [], []
    neg = neg_pooled = None
    for i, prompt in enumerate(prompts):
        with_negative = guided and i == 0
        if is_sdxl(pipe):
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
    return Conditioning(torch.cat(embeds), torch.cat(pooled) if pooled else None, neg, neg_pooled)


def mix(pair: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Linear mix of pair[0] -> pair[1] for each weight (B,); exact at 0 and 1. (B, ...)."""
    shape = (-1,) + (1,) * (pair.dim() - 1)
    mixed = torch.lerp(pair[:1].float(), pair[1:2].float(), weights.float().reshape(shape))
    return mixed.to(pair.dtype)


@torch.inference_mode()
def decode(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
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


def _pixels(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8, on the images' device."""
    pixels = (images * 255.0).round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous()


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 on the host, converted on the device."""
    return _pixels(images).cpu().numpy()


class _Pending:
    """A batch whose decoding was queued on a second CUDA stream: `result()` waits for its
    pixels, which by then sit in pinned host memory."""

    def __init__(self, host: torch.Tensor, done: Any = None):
        self.host = host
        self.done = done  # a torch.cuda.Event, or None when the pixels are ready

    def result(self) -> np.ndarray:
        if self.done is not None:
            self.done.synchronize()
        return self.host.numpy()


def _decode_later(pipe: Any, latents: torch.Tensor, finish: Any) -> _Pending:
    """`finish(latents) -> images (B, 3, H, W)` queued on a second CUDA stream, so the
    decoder of this batch runs beside the UNet of the next (`speed: {overlap_decode: on}`).

    Elsewhere there is no second stream: it decodes now and hands the pixels over one batch
    later, the same order of work and the same pixels.
    """
    device = latents.device
    if device.type != "cuda":
        return _Pending(torch.from_numpy(_to_uint8(finish(latents))))
    streams = pipe.__dict__.setdefault("gendisco_decode_streams", {})
    stream = streams.setdefault(str(device), torch.cuda.Stream(device))
    stream.wait_stream(torch.cuda.current_stream(device))  # the latents are written
    with torch.cuda.stream(stream):
        pixels = _pixels(finish(latents))
        host = torch.empty(pixels.shape, dtype=torch.uint8, pin_memory=True)
        host.copy_(pixels, non_blocking=True)
        done = torch.cuda.Event()
        done.record(stream)
    # the main stream may not reuse the latents' memory before the side stream has read them
    latents.record_stream(stream)
    return _Pending(host, done)


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
    unet_gb = 0.3 * (2 if uses_guidance(pipe, guidance) else 1) * (1.5 if is_sdxl(pipe) else 1)
    unet_gb *= pipe.unet.dtype.itemsize / 2
    vae_gb = 0.15 if isinstance(pipe.vae, AutoencoderTiny) else 1.5
    vae_gb *= pipe.vae.dtype.itemsize / 2
    per_frame = (unet_gb + vae_gb) * scale * 2**30
    return max(1, min(32, int(0.8 * free_bytes // per_frame)))


@torch.inference_mode()
def denoise(
    pipe: Any,
    cond: Conditioning,
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
    guided = uses_guidance(pipe, guidance)
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
    with numpy2_quiet():
        return pipe(**kwargs)[0]


def _speed(pipe: Any) -> SpeedSettings:
    """The speed settings `load_pipeline` applied (defaults for a pipeline built elsewhere)."""
    return getattr(pipe, "gendisco_speed", None) or SpeedSettings()


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

    `make_batch` may instead return a `_Pending` batch still decoding on a second stream
    (overlap_decode): it is handed over after the next batch has been queued.

    The automatic batch size is chosen once per pipeline and frame size (free memory shrinks
    once the allocator caches what the first batches used), and an out-of-memory batch is
    retried at half the size. A compiled pipeline gets one batch shape throughout: the last
    batch is padded by repeating its last frame, since every new shape would recompile.
    """
    device = pipe.unet.device
    auto = batch_size is None
    chosen = pipe.__dict__.setdefault("gendisco_batch_sizes", {})
    request = (width, height, uses_guidance(pipe, guidance))
    if auto and request not in chosen:
        chosen[request] = auto_batch_size(pipe, width=width, height=height, guidance=guidance)
    size = batch_size or chosen[request]
    fixed_shape = bool(getattr(pipe, "gendisco_info", {}).get("compiled"))
    pending: tuple[_Pending, int] | None = None  # a batch still decoding (overlap_decode)
    start = 0
    while start < total:
        stop = min(total, start + size)
        index = np.arange(start, stop)
        if fixed_shape and stop - start < size:
            index = np.concatenate([index, np.full(size - (stop - start), stop - 1)])
        try:
            frames = make_batch(index)
        except GendiscoError:
            raise
        except Exception as error:  # torch/diffusers failures: one sentence with a hint
            if auto and size > 1 and _is_out_of_memory(error):
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                size = chosen[request] = max(1, size // 2)
                continue
            raise _model_failure(error, stop - start) from error
        if isinstance(frames, _Pending):
            if pending is not None:
                yield _collect(*pending)
            pending = (frames, stop - start)
        else:
            yield frames[: stop - start]
        start = stop
    if pending is not None:
        yield _collect(*pending)


def _collect(pending: _Pending, count: int) -> np.ndarray:
    try:
        return pending.result()[:count]
    except Exception as error:
        raise _model_failure(error, count) from error


def _positions(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must hold one value per frame (1-D), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _check_request(pipe: Any, width: int, height: int, steps: int, batch_size: int | None) -> None:
    factor = max(8, int(getattr(pipe, "vae_scale_factor", 8)))
    model = getattr(pipe, "gendisco_info", {}).get("model", "this model")
    for name, value in (("width", width), ("height", height)):
        if value < 8 or value % 8:
            raise UserError(f"{name} {value} must be a positive multiple of 8")
        if value % factor:
            raise UserError(
                f"{name} {value} must be a multiple of {factor} for {model} "
                f"(it draws in {factor}-pixel blocks); try {max(factor, value // factor * factor)}"
            )
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
    _check_request(pipe, width, height, steps, batch_size)

    device = pipe.unet.device
    cond = encode(pipe, [prompt_a, prompt_b], negative, uses_guidance(pipe, guidance))
    noise = torch.cat(
        [latent_noise(pipe, seed_a, width, height), latent_noise(pipe, seed_b, width, height)]
    ).to(device)
    # per-step noise (stochastic schedulers) comes from the nearer end's seed
    step_seeds = [int(seed_a) if w < 0.5 else int(seed_b) for w in noise_w]

    reuse = getattr(pipe, "gendisco_feature_reuse", None)
    if reuse is not None:
        reuse.start_clip()  # anchors never cross from one clip to another
    overlap = _speed(pipe).overlap_decode

    def make_batch(index: np.ndarray) -> np.ndarray | _Pending:
        e = torch.from_numpy(embed_w[index]).to(device)
        n = torch.from_numpy(noise_w[index]).to(device)
        if reuse is not None:
            reuse.start_batch(index)
        try:
            latents = denoise(
                pipe,
                cond,
                mix(cond.embeds, e),
                None if cond.pooled is None else mix(cond.pooled, e),
                slerp(n, noise[:1], noise[1:2]),
                [step_seeds[i] for i in index],
                width=width,
                height=height,
                steps=steps,
                guidance=guidance,
            )
        finally:
            if reuse is not None:
                reuse.start_batch(None)

        def finish(latents: torch.Tensor) -> torch.Tensor:
            images = decode(pipe, latents)
            if zoom_w is not None:
                images = _zoom(images, torch.from_numpy(zoom_w[index]).to(images.device))
            return images

        if overlap:
            return _decode_later(pipe, latents, finish)
        return _to_uint8(finish(latents))

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
    _check_request(pipe, width, height, steps, batch_size)
    if not prompts:
        return np.zeros((0, height, width, 3), dtype=np.uint8)
    device = pipe.unet.device
    unique = list(dict.fromkeys(prompts))
    rows = torch.tensor([unique.index(p) for p in prompts], device=device)
    cond = encode(pipe, unique, negative, uses_guidance(pipe, guidance))
    noise = torch.cat([latent_noise(pipe, s, width, height) for s in seeds]).to(device)
    overlap = _speed(pipe).overlap_decode

    def make_batch(index: np.ndarray) -> np.ndarray | _Pending:
        picked = torch.from_numpy(index).to(device)
        prompt_rows = rows[picked]
        latents = denoise(
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
        if overlap:
            return _decode_later(pipe, latents, lambda kept: decode(pipe, kept))
        return _to_uint8(decode(pipe, latents))

    batches = _batches(
        pipe, len(prompts), batch_size, make_batch, width=width, height=height, guidance=guidance
    )
    return np.concatenate(list(batches))
