"""The whole process a user waits for: `gendisco render` against a bare diffusers loop.

Run: .venv/bin/python benchmarks/render_process.py [--seconds 180] [--size 64] [--fps 12]
     [--batch 8] [--repeats 3]

Both sides are fresh Python processes, timed from start to exit, over the same frames (the
song's length at `--fps`) of the same built-in untrained `random:tiny` pipeline, steps, size and
batch:

- bare: imports torch and diffusers, builds the pipeline, encodes the two prompts of each
  interval and runs `StableDiffusionPipeline.__call__` batch after batch on lerped
  embeddings and slerped noise, keeping uint8 frames in memory only as long as a batch;
- gendisco: `gendisco render project.yaml --quiet --batch-size N` on a song it has never
  analysed (an empty analysis cache, a fresh output folder): imports, the song's analysis,
  the model build, generation, encoding every clip, joining them and muxing the audio.

The song is synthesised (a drum-and-band arrangement), one interval per 20 s. Runs alternate;
the medians and their ratio go between the `render-process` markers of BENCHMARKS.md, raw
rows to benchmarks/results/render_process.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from report import describe, environment, write_results, write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from synth import drum_song, write_audio  # noqa: E402

INTERVAL_SECONDS = 20.0

# The bare loop, run as its own process: argv = project.yaml, batch size.
BARE_LOOP = """
import sys, time
import numpy as np
import torch
import yaml
from gendisco.models import load_pipeline

document = yaml.safe_load(open(sys.argv[1]))
batch = int(sys.argv[2])
size, fps, steps = document["width"], document["fps"], document["steps"]
pipe = load_pipeline("random:tiny", scheduler=document["scheduler"])
device = pipe.unet.device
with torch.inference_mode():
    for interval in document["intervals"]:
        frames = round(interval["end"] * fps) - round(interval["start"] * fps)
        prompts = (interval["from"]["prompt"], interval["to"]["prompt"])
        seeds = (interval["from"]["seed"], interval["to"]["seed"])
        embeds = [pipe.encode_prompt(p, device, 1, False)[0] for p in prompts]
        factor = pipe.vae_scale_factor
        shape = (1, pipe.unet.config.in_channels, size // factor, size // factor)
        noise = [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds]
        cos = (noise[0] * noise[1]).sum() / (noise[0].norm() * noise[1].norm())
        theta = torch.arccos(cos)
        t_all = torch.linspace(0, 1, frames)
        for first in range(0, frames, batch):
            t = t_all[first : first + batch]
            mixed = torch.lerp(embeds[0], embeds[1], t.reshape(-1, 1, 1))
            w = t.reshape(-1, 1, 1, 1)
            latents = (torch.sin((1 - w) * theta) * noise[0] + torch.sin(w * theta) * noise[1])
            latents = latents / torch.sin(theta)
            images = pipe(
                prompt_embeds=mixed,
                latents=latents,
                num_inference_steps=steps,
                guidance_scale=0.0,
                height=size,
                width=size,
                output_type="np",
            ).images
            kept = (images * 255).round().astype(np.uint8)
"""


def write_project(folder: Path, song: Path, args: argparse.Namespace) -> Path:
    count = max(1, round(args.seconds / INTERVAL_SECONDS))
    edges = [round(args.seconds * k / count, 3) for k in range(count + 1)]
    intervals = [
        {
            "start": edges[k],
            "end": edges[k + 1],
            "transition": "color",
            "from": {"prompt": f"a city skyline, scene {k}", "seed": k},
            "to": {"prompt": f"a city skyline, scene {k}, neon pink and teal", "seed": k + 100},
        }
        for k in range(count)
    ]
    document = {
        "song": str(song),
        "output": "out",
        "model": "random:tiny",
        "width": args.size,
        "height": args.size,
        "fps": args.fps,
        "steps": args.steps,
        "guidance": 0.0,
        "scheduler": "ddim",
        "intervals": intervals,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="song length")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--fps", type=float, default=12)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="gendisco-process-"))
    rows = []
    try:
        track = drum_song(120, args.seconds, seed=4)
        song = write_audio(folder / "song.wav", track.y, track.sr)
        project = write_project(folder, song, args)
        frames = sum(
            round(i["end"] * args.fps) - round(i["start"] * args.fps)
            for i in yaml.safe_load(project.read_text())["intervals"]
        )
        env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error"}
        bare_command = [sys.executable, "-c", BARE_LOOP, str(project), str(args.batch)]
        ours_command = [
            sys.executable,
            "-m",
            "gendisco",
            "render",
            str(project),
            "--quiet",
            "--batch-size",
            str(args.batch),
        ]
        bare, ours = [], []
        for repeat in range(args.repeats):
            bare.append(timed(bare_command, env))
            shutil.rmtree(folder / "out", ignore_errors=True)
            cache = folder / f"cache-{repeat}"  # never analysed before
            ours.append(timed(ours_command, {**env, "GENDISCO_CACHE_DIR": str(cache)}))
            rows += [
                {"side": "bare", "repeat": repeat, "seconds": bare[-1]},
                {"side": "gendisco", "repeat": repeat, "seconds": ours[-1]},
            ]
            print(f"run {repeat}: bare {bare[-1]:.2f} s, gendisco {ours[-1]:.2f} s")
        manifest = json.loads((folder / "out" / "render.json").read_text())
        assert manifest["frames_total"] == frames, (manifest["frames_total"], frames)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    bare_s, ours_s = statistics.median(bare), statistics.median(ours)
    env_info = environment(" ".join(["python benchmarks/render_process.py", *sys.argv[1:]]))
    text = "\n".join(
        [
            "## The whole process: `gendisco render` vs a bare diffusers loop "
            "(CPU, random:tiny model)",
            "",
            describe(env_info),
            "",
            f"A {args.seconds:g} s synthesised song, {frames} frames of {args.size}x{args.size} "
            f"at {args.fps:g} fps in intervals of {INTERVAL_SECONDS:g} s, {args.steps} steps, "
            f"guidance 0, batch {args.batch}. Each side is a fresh process timed from start to "
            "exit; gendisco analyses the song for the first time (empty analysis cache). "
            f"Medians of {args.repeats} alternating runs.",
            "",
            "| process | median s | frames/s |",
            "|---|---|---|",
            f"| bare diffusers loop (imports, model build, generation) | {bare_s:.2f} | "
            f"{frames / bare_s:.2f} |",
            f"| `gendisco render` (imports, analysis, model build, generation, encoding, join, "
            f"audio) | {ours_s:.2f} | {frames / ours_s:.2f} |",
            "",
            f"Ratio gendisco / bare: **{ours_s / bare_s:.3f}**.",
        ]
    )
    print(text)
    write_section("render-process", text)
    write_results("render_process", rows, env_info, frames=frames)


if __name__ == "__main__":
    main()
