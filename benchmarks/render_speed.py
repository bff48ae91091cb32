"""Render overhead: gendisco's end-to-end render against the bare diffusers pipeline.

Run: .venv/bin/python benchmarks/render_speed.py [--seconds 10] [--size 256] [--repeats 3]
     python benchmarks/render_speed.py --device cuda --model random:sd-turbo --vae tiny \
         --size 512 --steps 1 --fps 24 --seconds 20 --batch 16

Both sides use the same tiny pipeline object, the same frames (one transition over the
demo song), steps, size, guidance and batch size. The bare side calls
`StableDiffusionPipeline.__call__` with precomputed prompt embeddings and latents and keeps
uint8 frames in memory: the model's own cost. The gendisco side is `gendisco.render` with
everything it does: analysis (cached), planning, generation, H.264 encoding in a thread,
joining and muxing the audio. Runs alternate, and the medians and their ratio are written
between the `render-speed` (CPU) or `render-speed-cuda` markers of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from model_speed import machine, sync
from report import write_section

from gendisco.audio import analyze
from gendisco.models import load_pipeline
from gendisco.render import render

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "projects" / "demo" / "song.ogg"
PROMPTS = ("a city skyline at dusk", "a flock of flamingos over the sea")


def write_project(folder: Path, args: argparse.Namespace) -> Path:
    document = {
        "song": str(SONG),
        "output": "out",
        "model": args.model,
        "vae": args.vae,
        "width": args.size,
        "height": args.size,
        "fps": args.fps,
        "steps": args.steps,
        "guidance": 0.0,
        "scheduler": "ddim",
        "intervals": [
            {
                "start": 0.0,
                "end": args.seconds,
                "transition": "subject",
                "from": {"prompt": PROMPTS[0], "seed": 1},
                "to": {"prompt": PROMPTS[1], "seed": 2},
            }
        ],
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@torch.inference_mode()
def bare_diffusers(pipe, frames: int, args: argparse.Namespace) -> float:
    """Seconds for the plain pipeline to make the same frames (lerp/slerp inputs included)."""
    device = pipe.unet.device
    sync(device)
    started = time.perf_counter()
    embeds = [pipe.encode_prompt(p, device, 1, False)[0] for p in PROMPTS]
    shape = (1, 4, args.size // 8, args.size // 8)
    noise = [
        torch.randn(shape, generator=torch.Generator().manual_seed(s)).to(device) for s in (1, 2)
    ]
    t_all = torch.linspace(0, 1, frames, device=device)
    kept = []
    for first in range(0, frames, args.batch):
        t = t_all[first : first + args.batch]
        mixed = torch.lerp(embeds[0], embeds[1], t.reshape(-1, 1, 1).to(embeds[0].dtype))
        cos = (noise[0] * noise[1]).sum() / (noise[0].norm() * noise[1].norm())
        theta = torch.arccos(cos)
        w = t.reshape(-1, 1, 1, 1)
        latents = (torch.sin((1 - w) * theta) * noise[0] + torch.sin(w * theta) * noise[1]) / (
            torch.sin(theta)
        )
        images = pipe(
            prompt_embeds=mixed,
            latents=latents.to(pipe.unet.dtype),
            num_inference_steps=args.steps,
            guidance_scale=0.0,
            height=args.size,
            width=args.size,
            output_type="np",
        ).images
        kept.append((images * 255).round().astype(np.uint8))
    sync(device)
    return time.perf_counter() - started


def gendisco_render(pipe, args: argparse.Namespace) -> float:
    folder = Path(tempfile.mkdtemp(prefix="gendisco-bench-"))
    try:
        project = write_project(folder, args)
        started = time.perf_counter()
        render(project, pipeline=pipe, batch_size=args.batch)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--vae", default="default", choices=("default", "tiny"))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--fps", type=float, default=12)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    pipe = load_pipeline(args.model, device=args.device, vae=args.vae, scheduler="ddim")
    device = pipe.unet.device
    frames = round(args.seconds * args.fps)
    analyze(SONG)  # both sides start with the analysis cached
    warm_up = argparse.Namespace(**{**vars(args), "seconds": 2 * args.batch / args.fps})
    gendisco_render(pipe, warm_up)  # warm up both paths once
    bare_diffusers(pipe, args.batch, args)
    ours, bare = [], []
    for _ in range(args.repeats):
        bare.append(bare_diffusers(pipe, frames, args))
        ours.append(gendisco_render(pipe, args))
    bare_s, ours_s = statistics.median(bare), statistics.median(ours)
    command = " ".join(["python benchmarks/render_speed.py", *sys.argv[1:]])
    vae = ", vae tiny" if args.vae == "tiny" else ""
    text = "\n".join(
        [
            f"## Render overhead ({device.type}, {args.model}{vae})",
            "",
            f"`{command}` on {machine(device)}, {datetime.date.today()}. "
            f"{frames} frames of {args.size}x{args.size} at {args.fps:g} fps, {args.steps} "
            f"step{'s' * (args.steps > 1)}, guidance 0, batch {args.batch}; medians of "
            f"{args.repeats} alternating runs.",
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
    write_section("render-speed" if device.type == "cpu" else f"render-speed-{device.type}", text)


if __name__ == "__main__":
    main()
