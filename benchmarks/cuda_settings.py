"""CUDA settings side by side: what cuDNN autotuning, channels-last layout, fused QKV
projections and torch.compile buy, and how fast the H.264 encoder runs on the machine.

Run: python benchmarks/cuda_settings.py [--compile]

Each variant starts from a freshly built pipeline (random weights, fp16) and measures
frames/s through `generate_frames`, as benchmarks/model_speed.py does, all in one run so
the ratios compare like with like. The first row is what `load_pipeline` gives (cuDNN's
default algorithm choice, NCHW layout); gendisco keeps it, since on an H200 neither autotune
nor channels-last paid for itself (channels-last slowed the full VAE by 7 %, and autotune
re-benchmarks every new batch shape, with large workspaces). The encoder rows time
`ClipWriter` alone on noise-like frames (what random weights produce, the hardest case
for H.264) and smooth frames (closer to real images). Writes the `cuda-settings` section
of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from model_speed import Config, fmt, free_memory, machine, throughput
from report import write_section

from gendisco import models
from gendisco.video import ClipWriter

CONFIGS = (
    (Config("random:sd-turbo", 512, 1, 0.0, "tiny", ()), 32),
    (Config("random:sd-turbo", 512, 1, 0.0, "default", ()), 16),
    (Config("random:sd15", 512, 25, 7.5, "default", ()), 8),
    (Config("random:sdxl", 1024, 1, 0.0, "tiny", ()), 8),
)
VARIANTS = (
    ("plain (gendisco's default)", dict(autotune=False, channels_last=False)),
    ("cuDNN autotune", dict(autotune=True, channels_last=False)),
    ("channels-last", dict(autotune=False, channels_last=True)),
    ("autotune + channels-last", dict(autotune=True, channels_last=True)),
    ("autotune + channels-last + fused QKV", dict(autotune=True, channels_last=True, fuse=True)),
)
COMPILED = (
    "autotune + channels-last + torch.compile",
    dict(autotune=True, channels_last=True, compile=True),
)


def prepare(config: Config, device: torch.device, settings: dict):
    pipe = models.load_pipeline(config.model, device=device, vae=config.vae)
    torch.backends.cudnn.benchmark = settings["autotune"]
    layout = torch.channels_last if settings["channels_last"] else torch.contiguous_format
    pipe.unet.to(memory_format=layout)
    pipe.vae.to(memory_format=layout)
    if settings.get("fuse"):
        pipe.fuse_qkv_projections(vae=config.vae == "default")
    if settings.get("compile"):
        pipe.unet = torch.compile(pipe.unet)
        pipe.vae.decoder = torch.compile(pipe.vae.decoder)
    return pipe


def encoder_fps(frames: np.ndarray, preset: str) -> float:
    runs = []
    for _ in range(3):
        folder = Path(tempfile.mkdtemp())
        started = time.perf_counter()
        with ClipWriter(folder / "clip.mp4", fps=24, width=512, height=512, preset=preset) as clip:
            clip.write(frames)
        runs.append(time.perf_counter() - started)
    return len(frames) / statistics.median(runs)


def test_frames(kind: str, count: int = 240) -> np.ndarray:
    if kind == "noise":
        return np.random.default_rng(0).integers(0, 256, (count, 512, 512, 3), dtype=np.uint8)
    y, x = np.mgrid[0:512, 0:512]
    return np.stack(
        [
            np.stack([(x + 3 * i) % 256, (y + 2 * i) % 256, ((x + y) // 2 + i) % 256], -1)
            for i in range(count)
        ]
    ).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    device = models.resolve_device("cuda")
    command = " ".join(["python benchmarks/cuda_settings.py", *sys.argv[1:]])
    lines = [
        "## CUDA settings side by side",
        "",
        f"`{command}` on {machine(device)}, {datetime.date.today()}, float16. Frames/s "
        "through `generate_frames`, medians of 3 runs after a warm-up, every variant in the "
        "same run.",
        "",
        "| model | vae | batch | variant | frames/s | vs plain | note |",
        "|---|---|---|---|---|---|---|",
    ]
    encoder_lines = [
        "",
        "H.264 encoder alone (`ClipWriter`, libx264, crf 18, 512x512, 240 frames):",
        "",
        "| frames | preset | frames/s |",
        "|---|---|---|",
    ]

    def publish() -> None:
        write_section("cuda-settings", "\n".join(lines + encoder_lines))

    plain: dict[str, float] = {}

    def measure(name: str, settings: dict, config: Config, batch: int) -> None:
        try:
            started = time.perf_counter()
            pipe = prepare(config, device, settings)
            row = throughput(pipe, config, batch, device)
            seconds = time.perf_counter() - started
            note = row.note or (f"{seconds:.0f} s with compile" if "compile" in name else "")
            fps = row.frames_per_s
            del pipe
        except Exception as error:  # a failing variant is a result too
            fps, note = None, f"failed: {type(error).__name__}: {str(error)[:100]}"
        free_memory(device)
        key = f"{config.label} {config.vae}"
        if name.startswith("plain") and fps:
            plain[key] = fps
        ratio = f"{fps / plain[key]:.2f}x" if fps and key in plain else "-"
        lines.append(
            f"| {config.label} | {config.vae} | {batch} | {name} | {fmt(fps)} | {ratio} | {note} |"
        )
        print(lines[-1], flush=True)
        publish()

    for name, settings in VARIANTS:
        for config, batch in CONFIGS:
            measure(name, settings, config, batch)
    torch.backends.cudnn.benchmark = False

    for kind in ("noise", "smooth"):
        frames = test_frames(kind)
        for preset in ("medium", "veryfast"):
            encoder_lines.append(f"| {kind} | {preset} | {encoder_fps(frames, preset):.0f} |")
            print(encoder_lines[-1], flush=True)
            publish()

    if args.compile:
        # compile pays off where the model time is long: the full VAE and many steps
        for config, batch in CONFIGS:
            if config.vae == "default":
                measure(*COMPILED, config, batch)


if __name__ == "__main__":
    main()
