"""Render overhead: gendisco's end-to-end render against the bare diffusers pipeline.

Run: .venv/bin/python benchmarks/render_speed.py [--seconds 10] [--size 256] [--repeats 3]
     python benchmarks/render_speed.py --device cuda --model random:sd-turbo --vae tiny \
         --size 512 --steps 1 --fps 24 --seconds 20 --batch 16

All sides use the same pipeline object, the same frames (one transition over the demo
song), steps, size, guidance and batch size. The bare side is the fastest bare loop we
could write: `StableDiffusionPipeline.__call__` to latents with precomputed prompt
embeddings and noise, the VAE called directly, uint8 conversion on the device and one copy
to the host per batch: the model's own cost. gendisco's generation alone is
`generate_frames`; the render is `gendisco.render` with everything it does: analysis
(cached), planning, generation, H.264 encoding in a thread, joining and muxing the audio, so
render minus generation is the cost of encoding, joining and muxing; libx264 is also timed
alone on the same frames, for what encoding costs without sharing the cores. The render runs once
per libx264 preset of `--presets` (medium, the project default, and veryfast): on a CPU the
encoder shares the cores with torch, so its preset is what the overhead depends on. Runs
alternate; the medians and their ratios are written between the `render-speed` (CPU) or
`render-speed-cuda` markers of BENCHMARKS.md, the raw times to
benchmarks/results/render_speed[_cuda].json.
"""

from __future__ import annotations

import argparse
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
from report import describe, environment, write_results, write_section

from gendisco.audio import analyze
from gendisco.encoders import cpu_cores, encoder_threads
from gendisco.models import generate_frames, load_pipeline
from gendisco.rendering import render
from gendisco.video import ClipWriter

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "projects" / "demo" / "song.ogg"
PROMPTS = ("a city skyline at dusk", "a flock of flamingos over the sea")


def write_project(folder: Path, args: argparse.Namespace, preset: str) -> Path:
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
        "preset": preset,
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
    """Seconds for the fastest bare loop we could write to make the same frames.

    Everything stays on the device until one uint8 copy per batch: prompt embeddings and
    both noises computed once, lerp/slerp on the device, the pipeline asked for latents,
    the VAE called directly, the [0, 1] -> uint8 conversion on the device. No progress bar,
    no per-frame Python work. This is the model's own cost for these frames.
    """
    device = pipe.unet.device
    dtype = pipe.unet.dtype
    sync(device)
    started = time.perf_counter()
    embeds = [pipe.encode_prompt(p, device, 1, False)[0] for p in PROMPTS]
    shape = (1, 4, args.size // 8, args.size // 8)
    noise = [
        torch.randn(shape, generator=torch.Generator().manual_seed(s)).to(device) for s in (1, 2)
    ]
    cos = (noise[0] * noise[1]).sum() / (noise[0].norm() * noise[1].norm())
    theta = torch.arccos(cos)
    t_all = torch.linspace(0, 1, frames, device=device)
    scale = pipe.vae.config.scaling_factor
    kept = []
    for first in range(0, frames, args.batch):
        t = t_all[first : first + args.batch]
        mixed = torch.lerp(embeds[0], embeds[1], t.reshape(-1, 1, 1).to(embeds[0].dtype))
        w = t.reshape(-1, 1, 1, 1)
        latents = (torch.sin((1 - w) * theta) * noise[0] + torch.sin(w * theta) * noise[1]) / (
            torch.sin(theta)
        )
        denoised = pipe(
            prompt_embeds=mixed,
            latents=latents.to(dtype),
            num_inference_steps=args.steps,
            guidance_scale=0.0,
            height=args.size,
            width=args.size,
            output_type="latent",
            return_dict=False,
        )[0]
        images = pipe.vae.decode(denoised.to(pipe.vae.dtype) / scale, return_dict=False)[0]
        pixels = ((images.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
        kept.append(pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy())
    sync(device)
    return time.perf_counter() - started


def gendisco_batches(pipe, frames: int, args: argparse.Namespace):
    """gendisco's own generation loop (`generate_frames`) over the benchmark's transition:
    batches of uint8 frames on the host, as the render makes them."""
    positions = np.linspace(0.0, 1.0, frames)
    return generate_frames(
        pipe,
        prompt_a=PROMPTS[0],
        prompt_b=PROMPTS[1],
        seed_a=1,
        seed_b=2,
        embed_mix=positions,
        noise_mix=positions,
        width=args.size,
        height=args.size,
        steps=args.steps,
        guidance=0.0,
        batch_size=args.batch,
    )


def gendisco_generation(pipe, frames: int, args: argparse.Namespace) -> float:
    """Seconds for gendisco's own generation loop alone (nothing encoded): the render minus
    this is what encoding, joining and muxing cost."""
    device = pipe.unet.device
    sync(device)
    started = time.perf_counter()
    for _ in gendisco_batches(pipe, frames, args):
        pass
    sync(device)
    return time.perf_counter() - started


def generated_frames(pipe, frames: int, args: argparse.Namespace) -> np.ndarray:
    """The frames gendisco's generation makes (the render's frames), kept for encoding alone."""
    return np.concatenate(list(gendisco_batches(pipe, frames, args)))


def encoding_alone(images: np.ndarray, args: argparse.Namespace, preset: str) -> float:
    """Seconds libx264 takes for the render's frames with nothing else running, at the thread
    count the render gives each encoder: what encoding would add if it shared no cores."""
    folder = Path(tempfile.mkdtemp(prefix="gendisco-bench-"))
    try:
        started = time.perf_counter()
        writer = ClipWriter(
            folder / "clip.mp4",
            fps=args.fps,
            width=args.size,
            height=args.size,
            preset=preset,
            threads=encoder_threads(cpu_cores()),
        )
        with writer as clip:
            for start in range(0, len(images), args.batch):
                clip.write(images[start : start + args.batch])
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def gendisco_render(pipe, args: argparse.Namespace, preset: str) -> float:
    folder = Path(tempfile.mkdtemp(prefix="gendisco-bench-"))
    try:
        project = write_project(folder, args, preset)
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
    parser.add_argument("--model", default="random:tiny")
    parser.add_argument("--vae", default="default", choices=("default", "tiny"))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--fps", type=float, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--presets",
        default="medium,veryfast",
        help="libx264 presets of the render rows, comma-separated; the first is the one the "
        "ratio is quoted for (medium is the project default)",
    )
    args = parser.parse_args()
    presets = args.presets.split(",")
    torch.manual_seed(0)
    pipe = load_pipeline(args.model, device=args.device, vae=args.vae, scheduler="ddim")
    device = pipe.unet.device
    frames = round(args.seconds * args.fps)
    analyze(SONG)  # both sides start with the analysis cached
    warm_up = argparse.Namespace(**{**vars(args), "seconds": 2 * args.batch / args.fps})
    gendisco_render(pipe, warm_up, presets[0])  # warm up both paths once
    bare_diffusers(pipe, args.batch, args)
    gendisco_generation(pipe, args.batch, args)
    images = generated_frames(pipe, frames, args)
    bare, generation = [], []
    renders: dict[str, list[float]] = {preset: [] for preset in presets}
    encodes: dict[str, list[float]] = {preset: [] for preset in presets}
    for _ in range(args.repeats):
        bare.append(bare_diffusers(pipe, frames, args))
        generation.append(gendisco_generation(pipe, frames, args))
        for preset in presets:
            renders[preset].append(gendisco_render(pipe, args, preset))
            encodes[preset].append(encoding_alone(images, args, preset))
    bare_s, generation_s = statistics.median(bare), statistics.median(generation)
    render_s = {preset: statistics.median(times) for preset, times in renders.items()}
    encode_ms = {p: 1000 * statistics.median(times) / frames for p, times in encodes.items()}
    ours_s = render_s[presets[0]]
    rows = [
        {"what": "bare loop", "seconds": bare, "median_s": bare_s},
        {"what": "gendisco generation", "seconds": generation, "median_s": generation_s},
        *(
            {
                "what": f"gendisco render, preset {preset}",
                "seconds": renders[preset],
                "median_s": render_s[preset],
            }  # fmt: skip
            for preset in presets
        ),
        *(
            {
                "what": f"libx264 alone, preset {preset}",
                "seconds": encodes[preset],
                "median_s": statistics.median(encodes[preset]),
            }  # fmt: skip
            for preset in presets
        ),
    ]
    render_lines = [
        f"| gendisco render (generation, encode, join, mux audio), preset {preset} | "
        f"{render_s[preset]:.2f} | {frames / render_s[preset]:.2f} |"
        for preset in presets
    ]
    other_ratios = "; ".join(
        f"with preset {preset}: {render_s[preset] / bare_s:.3f}" for preset in presets[1:]
    )
    command = " ".join(["python benchmarks/render_speed.py", *sys.argv[1:]])
    env = environment(command)
    vae = ", vae tiny" if args.vae == "tiny" else ""
    text = "\n".join(
        [
            f"## Render overhead ({device.type}, {args.model}{vae})",
            "",
            f"{describe(env)} {machine(device)}. "
            f"{frames} frames of {args.size}x{args.size} at {args.fps:g} fps, {args.steps} "
            f"step{'s' * (args.steps > 1)}, guidance 0, batch {args.batch}; medians of "
            f"{args.repeats} alternating runs.",
            "",
            "The bare side is the fastest bare loop we could write (latents, VAE and uint8 "
            "conversion on the device, one copy to the host per batch); gendisco's generation "
            "is `generate_frames` alone; the render adds analysis (cached), planning, H.264 "
            "encoding in a thread, joining and muxing the audio.",
            "",
            "| what | median s | frames/s |",
            "|---|---|---|",
            f"| bare loop (diffusers pipeline to latents, VAE, uint8 on the device) | "
            f"{bare_s:.2f} | {frames / bare_s:.2f} |",
            f"| gendisco generation alone (`generate_frames`) | {generation_s:.2f} | "
            f"{frames / generation_s:.2f} |",
            *render_lines,
            "",
            f"Ratio gendisco render / bare loop, preset {presets[0]}: **{ours_s / bare_s:.3f}**"
            f"{' (' + other_ratios + ')' if other_ratios else ''}; gendisco "
            f"generation / bare loop: {generation_s / bare_s:.3f}. Encoding, joining and "
            f"muxing at preset {presets[0]} add {1000 * (ours_s - generation_s) / frames:.2f} "
            "ms per frame "
            f"({100 * (ours_s - generation_s) / ours_s:.0f} % of the render) over generation "
            "alone.",
            "",
            f"libx264 alone on the same frames, nothing else running, at the render's "
            f"{encoder_threads(cpu_cores())} encoder thread(s): "
            + ", ".join(f"{encode_ms[p]:.2f} ms per frame at {p}" for p in presets)
            + ". Encoding costs the render more than this where it takes a core from torch's "
            "threads; with a core to itself (a GPU machine) it overlaps generation.",
        ]
    )
    print(text)
    name = "render-speed" if device.type == "cpu" else f"render-speed-{device.type}"
    write_section(name, text)
    write_results(name.replace("-", "_"), rows, env, frames=frames)


if __name__ == "__main__":
    main()
