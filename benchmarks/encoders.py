"""Encoders at once: a whole render's frames/s with 1, 2, ... encoders and a generator
faster than any encoder.

Run: .venv/bin/python benchmarks/encoders.py [--encoders 1,2,3,4] [--size 256] [--repeats 3]

The generator is fake and free: every clip's frames are precomputed in memory (a smooth
texture panning across the picture, so libx264 has realistic work) and handed out by a
stand-in for `gendisco.models.generate_frames`. Everything else is the real
`gendisco.render`: the plan, the encoder pool, the join and the song's audio. With the
generator out of the way the render's speed is the encoders' speed, which must rise with
their number until the cores are used. Every final.mp4 is compared with the one-encoder
render's bytes. Runs alternate over the encoder counts; medians go between the `encoders`
markers of BENCHMARKS.md, raw rows to benchmarks/results/encoders.json.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from report import describe, environment, write_results, write_section
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import gendisco.models  # noqa: E402
from gendisco.audio import analyze  # noqa: E402
from gendisco.encoders import cpu_cores, encoder_threads, max_encoders  # noqa: E402
from gendisco.models import load_pipeline  # noqa: E402
from gendisco.rendering import render  # noqa: E402
from synth import drum_song, write_audio  # noqa: E402

CLIP_SECONDS = 2.0
TEXTURES = 4  # distinct clip contents (memory: TEXTURES clips of frames, whatever --clips)


def panning_frames(seed: int, count: int, size: int) -> np.ndarray:
    """A smooth random texture sliding one pixel per frame: (count, size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    width = size + count
    coarse = rng.uniform(0, 255, (size // 16 + 2, width // 16 + 2, 3))
    scale = (size / coarse.shape[0], width / coarse.shape[1], 1)
    texture = ndimage.zoom(coarse, scale, order=1)[:size, :width]
    texture += rng.normal(0, 6, texture.shape)  # a little grain, as generated frames have
    texture = np.clip(texture, 0, 255).astype(np.uint8)
    return np.stack([texture[:, i : i + size] for i in range(count)])


def install_fake_generator(frames_by_seed: dict[int, np.ndarray]) -> None:
    """`generate_frames` replaced by precomputed frames (keyed by the clip's first seed)."""

    def fake_generate_frames(pipe, *, seed_a, embed_mix, batch_size=None, **_):
        frames = frames_by_seed[seed_a][: len(embed_mix)]
        size = batch_size or 8
        return (frames[first : first + size] for first in range(0, len(frames), size))

    gendisco.models.generate_frames = fake_generate_frames


def write_project(folder: Path, song: Path, args: argparse.Namespace) -> Path:
    intervals = [
        {
            "start": k * CLIP_SECONDS,
            "end": (k + 1) * CLIP_SECONDS,
            "transition": "color",
            "from": {"prompt": f"scene {k}", "seed": k},
            "to": {"prompt": f"scene {k}, at night"},
        }
        for k in range(args.clips)
    ]
    document = {
        "song": str(song),
        "output": "out",
        "model": "random:tiny",
        "width": args.size,
        "height": args.size,
        "fps": args.fps,
        "preset": args.preset,
        "intervals": intervals,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def one_render(project: Path, pipe, encoders: int | None, batch: int) -> tuple[float, str]:
    shutil.rmtree(project.parent / "out", ignore_errors=True)
    started = time.perf_counter()
    result = render(project, pipeline=pipe, encoders=encoders, batch_size=batch)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(result.final_path.read_bytes()).hexdigest()
    return seconds, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="1,2,3,4", help="comma-separated counts")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fps", type=float, default=24)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    counts = [int(x) for x in args.encoders.split(",")]
    cores = cpu_cores()
    frames_per_clip = round(CLIP_SECONDS * args.fps)
    frames = frames_per_clip * args.clips

    folder = Path(tempfile.mkdtemp(prefix="gendisco-encoders-"))
    try:
        track = drum_song(120, args.clips * CLIP_SECONDS + 1, seed=2)
        song = write_audio(folder / "song.wav", track.y, track.sr)
        analyze(song)  # cached: every run starts with the analysis done
        project = write_project(folder, song, args)
        textures = [panning_frames(k, frames_per_clip, args.size) for k in range(TEXTURES)]
        install_fake_generator({k: textures[k % TEXTURES] for k in range(args.clips)})
        # only described in the manifest: no frame comes from it
        pipe = load_pipeline("random:tiny")
        one_render(project, pipe, 1, args.batch)  # warm up
        runs: dict[str, list[float]] = {str(n): [] for n in counts} | {"auto": []}
        digests: dict[str, set[str]] = {key: set() for key in runs}
        rows = []
        for repeat in range(args.repeats):
            for key in runs:
                seconds, digest = one_render(
                    project, pipe, None if key == "auto" else int(key), args.batch
                )
                runs[key].append(seconds)
                digests[key].add(digest)
                rows.append({"encoders": key, "repeat": repeat, "seconds": seconds})
                print(f"encoders {key}: {seconds:.2f} s ({frames / seconds:.1f} frames/s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    reference = digests[str(counts[0])]
    env = environment(" ".join(["python benchmarks/encoders.py", *sys.argv[1:]]))
    lines = [
        f"## Encoders at once (CPU, a generator faster than any encoder, {cores} cores)",
        "",
        describe(env),
        "",
        f"{frames} frames of {args.size}x{args.size} at {args.fps:g} fps in {args.clips} clips, "
        f"preset {args.preset}, batch {args.batch}; frames precomputed in memory stand in for "
        f"the model, everything else is `gendisco.render` (plan, encoders, join, audio). "
        f"Each encoder runs libx264 with {encoder_threads(cores)} thread(s) on this machine; "
        f"automatic choice: up to {max_encoders(cores)}. Medians of {args.repeats} "
        "alternating runs.",
        "",
        "| encoders | median s | frames/s | vs 1 encoder | final.mp4 bytes as with 1 encoder |",
        "|---|---|---|---|---|",
    ]
    base = statistics.median(runs[str(counts[0])])
    for key, seconds in runs.items():
        median = statistics.median(seconds)
        same = "yes" if digests[key] == reference and len(reference) == 1 else "NO"
        lines.append(
            f"| {key} | {median:.2f} | {frames / median:.1f} | {base / median:.2f}x | {same} |"
        )
    text = "\n".join(lines)
    print(text)
    write_section("encoders", text)
    write_results("encoders", rows, env, frames=frames, cores=cores)


if __name__ == "__main__":
    main()
