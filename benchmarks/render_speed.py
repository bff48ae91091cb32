"""Render overhead: gendisco's end-to-end render against the bare diffusers pipeline.

Run: .venv/bin/python benchmarks/render_speed.py [--seconds 10] [--size 256] [--repeats 3]

Both sides use the same tiny pipeline object, the same frames (one transition over the
demo song), steps, size, guidance and batch size. The bare side calls
`StableDiffusionPipeline.__call__` with precomputed prompt embeddings and latents and keeps
uint8 frames in memory: the model's own cost. The gendisco side is `gendisco.render` with
everything it does: analysis (cached), planning, generation, H.264 encoding in a thread,
joining and muxing the audio. Runs alternate, and the medians and their ratio are written
between the `render-speed` markers of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from report import write_section

from gendisco.audio import analyze
from gendisco.models import load_pipeline
from gendisco.render import render

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "projects" / "demo" / "song.ogg"
FPS = 12
STEPS = 2
BATCH = 4


def write_project(folder: Path, seconds: float, size: int) -> Path:
    document = {
        "song": str(SONG),
        "output": "out",
        "model": "tiny",
        "width": size,
        "height": size,
        "fps": FPS,
        "steps": STEPS,
        "guidance": 0.0,
        "scheduler": "ddim",
        "intervals": [
            {
                "start": 0.0,
                "end": seconds,
                "transition": "subject",
                "from": {"prompt": "a city skyline at dusk", "seed": 1},
                "to": {"prompt": "a flock of flamingos over the sea", "seed": 2},
            }
        ],
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@torch.inference_mode()
def bare_diffusers(pipe, frames: int, size: int) -> float:
    """Seconds for the plain pipeline to make the same frames (lerp/slerp inputs included)."""
    started = time.perf_counter()
    embeds = [
        pipe.encode_prompt(p, "cpu", 1, False)[0]
        for p in ("a city skyline at dusk", "a flock of flamingos over the sea")
    ]
    shape = (1, 4, size // 8, size // 8)
    noise = [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    t_all = torch.linspace(0, 1, frames)
    kept = []
    for first in range(0, frames, BATCH):
        t = t_all[first : first + BATCH]
        mixed = torch.lerp(embeds[0], embeds[1], t.reshape(-1, 1, 1))
        cos = (noise[0] * noise[1]).sum() / (noise[0].norm() * noise[1].norm())
        theta = torch.arccos(cos)
        w = t.reshape(-1, 1, 1, 1)
        latents = (torch.sin((1 - w) * theta) * noise[0] + torch.sin(w * theta) * noise[1]) / (
            torch.sin(theta)
        )
        images = pipe(
            prompt_embeds=mixed,
            latents=latents,
            num_inference_steps=STEPS,
            guidance_scale=0.0,
            height=size,
            width=size,
            output_type="np",
        ).images
        kept.append((images * 255).round().astype(np.uint8))
    return time.perf_counter() - started


def gendisco_render(pipe, seconds: float, size: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="gendisco-bench-"))
    try:
        project = write_project(folder, seconds, size)
        started = time.perf_counter()
        render(project, pipeline=pipe, batch_size=BATCH)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    pipe = load_pipeline("tiny", device="cpu", scheduler="ddim")
    frames = round(args.seconds * FPS)
    analyze(SONG)  # both sides start with the analysis cached
    gendisco_render(pipe, 1.0, args.size)  # warm up both paths once
    bare_diffusers(pipe, BATCH, args.size)
    ours, bare = [], []
    for _ in range(args.repeats):
        bare.append(bare_diffusers(pipe, frames, args.size))
        ours.append(gendisco_render(pipe, args.seconds, args.size))
    bare_s, ours_s = statistics.median(bare), statistics.median(ours)
    command = " ".join(["python benchmarks/render_speed.py", *sys.argv[1:]])
    text = "\n".join(
        [
            "## Render overhead (CPU, tiny model)",
            "",
            f"`{command}` on {platform.machine()} {platform.system()}, "
            f"{torch.get_num_threads()} torch threads, {datetime.date.today()}. "
            f"{frames} frames of {args.size}x{args.size}, {STEPS} steps, guidance 0, "
            f"batch {BATCH}; medians of {args.repeats} alternating runs.",
            "",
            "| what | median s | frames/s |",
            "|---|---|---|",
            f"| bare diffusers pipeline | {bare_s:.2f} | {frames / bare_s:.2f} |",
            f"| gendisco render (encode, join, mux audio) | {ours_s:.2f} | {frames / ours_s:.2f} |",
            "",
            f"Ratio gendisco / bare: **{ours_s / bare_s:.3f}**.",
        ]
    )
    print(text)
    write_section("render-speed", text)


if __name__ == "__main__":
    main()
