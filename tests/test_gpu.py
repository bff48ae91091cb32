"""On a CUDA GPU: fp16 frames, and the speed of the full-size architectures (random weights)
against the GPU numbers committed in BENCHMARKS.md.

Run with `pytest -m gpu -s tests/test_gpu.py`; each speed test prints its frames/s and
records it as a junit property (`--junitxml`). A speed test fails below half the committed
frames/s of the same model, VAE and batch (a regression, or a much smaller GPU than the
H200 they were measured on).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from frame_checks import (
    GPU_SPEED_CASES,
    committed_gpu_fps,
    controls,
    same_frames_in_lower_precision,
    speed_label,
)
from gendisco.errors import UserError
from gendisco.models import describe_pipeline, generate_frames, generate_images, load_pipeline
from gendisco.speed import SpeedSettings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

# at least this share of the committed frames/s on the same model, VAE and batch
COMMITTED_SHARE = 0.5


def _frames(
    pipe, count: int, size: int, steps: int, guidance: float = 0.0, batch: int | None = None
) -> np.ndarray:
    positions = np.linspace(0, 1, count)
    return np.concatenate(
        list(
            generate_frames(
                pipe,
                prompt_a="a city skyline at dusk",
                prompt_b="a flock of flamingos over the sea",
                seed_a=1,
                seed_b=2,
                embed_mix=positions,
                noise_mix=positions,
                width=size,
                height=size,
                steps=steps,
                guidance=guidance,
                batch_size=batch,
            )
        )
    )


def test_tiny_in_fp16_on_cuda_is_repeatable_and_hits_its_keyframes():
    pipe = load_pipeline("tiny", device="cuda")
    assert describe_pipeline(pipe)["dtype"] == "float16"
    first = _frames(pipe, 6, 64, 2)
    assert np.array_equal(first, _frames(pipe, 6, 64, 2))
    ends = generate_images(
        pipe,
        prompts=["a city skyline at dusk", "a flock of flamingos over the sea"],
        seeds=[1, 2],
        width=64,
        height=64,
        steps=2,
        guidance=0.0,
    )
    assert np.abs(first[0].astype(int) - ends[0]).max() <= 2
    assert np.abs(first[-1].astype(int) - ends[1]).max() <= 2


def test_fp16_on_cuda_shows_the_fp32_frames():
    low = _frames(load_pipeline("tiny", device="cuda"), 5, 64, 2, guidance=4.0)
    full = _frames(load_pipeline("tiny", device="cpu"), 5, 64, 2, guidance=4.0)
    assert same_frames_in_lower_precision(low, full)
    for name, control in controls(full).items():
        assert not same_frames_in_lower_precision(control, full), name


def test_overlapped_decoding_on_a_second_stream_gives_the_same_frames():
    plain = _frames(load_pipeline("tiny", device="cuda"), 7, 64, 2, batch=3)
    overlap = load_pipeline("tiny", device="cuda", speed=SpeedSettings(overlap_decode=True))
    assert np.array_equal(_frames(overlap, 7, 64, 2, batch=3), plain)
    assert overlap.gendisco_decode_streams  # the decoder really ran on its own stream


def test_fp8_runs_where_the_gpu_has_float8_or_says_why_not():
    capability = torch.cuda.get_device_capability()
    try:
        import torchao  # noqa: F401

        has_torchao = True
    except ImportError:
        has_torchao = False
    if capability < (8, 9) or not has_torchao:
        with pytest.raises(UserError, match="fp8 needs"):
            load_pipeline("tiny", device="cuda", speed=SpeedSettings(fp8=True))
        return
    fp8 = load_pipeline("tiny", device="cuda", dtype="bf16", speed=SpeedSettings(fp8=True))
    full = _frames(load_pipeline("tiny", device="cpu"), 5, 64, 2)
    assert same_frames_in_lower_precision(_frames(fp8, 5, 64, 2), full)


@pytest.mark.parametrize(("model", "size", "steps", "guidance", "vae", "batch"), GPU_SPEED_CASES)
def test_full_size_architectures_keep_their_committed_speed(
    model, size, steps, guidance, vae, batch, record_property
):
    label = speed_label(model, size, steps, guidance)
    committed = committed_gpu_fps(label, vae, batch)
    assert committed, f"no committed frames/s for {label}, vae {vae}, batch {batch}"
    started = time.perf_counter()
    pipe = load_pipeline(model, device="cuda", vae=vae)
    build_s = time.perf_counter() - started
    assert pipe.unet.device.type == "cuda" and pipe.unet.dtype == torch.float16
    _frames(pipe, batch, size, steps, guidance, batch)  # warm-up: kernels, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    count = 3 * batch
    started = time.perf_counter()
    frames = _frames(pipe, count, size, steps, guidance, batch)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert frames.shape == (count, size, size, 3) and frames.dtype == np.uint8
    fps = count / seconds
    peak_gb = torch.cuda.max_memory_allocated() / 2**30
    name = f"{label} vae={vae} batch={batch}"
    print(
        f"\n{name}: {fps:.2f} frames/s (committed {committed:.2f}), build {build_s:.1f} s, "
        f"peak {peak_gb:.1f} GiB"
    )
    record_property(f"fps {name}", round(fps, 3))
    record_property(f"peak_gib {name}", round(peak_gb, 2))
    assert fps >= COMMITTED_SHARE * committed, (
        f"{fps:.2f} frames/s is below {COMMITTED_SHARE:.0%} of the committed {committed:.2f}"
    )
