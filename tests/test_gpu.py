"""On a CUDA GPU: fp16 frames and the cost of the full-size architectures (random weights).

Run with `pytest -m gpu -s tests/test_gpu.py`; each speed test prints its frames/s and
records it as a junit property (`--junitxml`).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from gendisco.models import describe_pipeline, generate_frames, generate_images, load_pipeline

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _frames(pipe, count: int, size: int, steps: int, guidance: float = 0.0) -> np.ndarray:
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


@pytest.mark.parametrize(
    ("model", "size", "vae", "guidance"),
    [
        ("random:sd15", 512, "default", 7.5),
        ("random:sd-turbo", 512, "default", 0.0),
        ("random:sd-turbo", 512, "tiny", 0.0),
        ("random:sdxl", 1024, "tiny", 0.0),
    ],
)
def test_full_size_architectures_speed(model, size, vae, guidance, record_property):
    started = time.perf_counter()
    pipe = load_pipeline(model, device="cuda", vae=vae)
    build_s = time.perf_counter() - started
    assert pipe.unet.device.type == "cuda" and pipe.unet.dtype == torch.float16
    _frames(pipe, 2, size, 2, guidance)  # warm-up: kernels, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    count = 24
    started = time.perf_counter()
    frames = _frames(pipe, count, size, 2, guidance)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert frames.shape == (count, size, size, 3) and frames.dtype == np.uint8
    fps = count / seconds
    peak_gb = torch.cuda.max_memory_allocated() / 2**30
    name = f"{model} {size}px vae={vae} guidance={guidance}"
    print(f"\n{name}: {fps:.2f} frames/s, build {build_s:.1f} s, peak {peak_gb:.1f} GiB")
    record_property(f"fps {name}", round(fps, 3))
    record_property(f"peak_gib {name}", round(peak_gb, 2))
    assert fps > 0.2
