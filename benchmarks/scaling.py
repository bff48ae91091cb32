"""Scaling with song length: frames/s and peak memory of a whole render, 10 s to 180 s.

Run: .venv/bin/python benchmarks/scaling.py [--lengths 10 60 180] [--repeats 3]

Each render runs in a fresh process (so its peak resident memory is its own) on the untrained
`random:tiny`
model at 64x64, where the model is cheap and any cost that grows with the song (frames
kept in memory, tensors concatenated one by one, quadratic planning) would show. The song
is the demo song looped to length; the project cuts it into 15 s subject transitions.
Analysis runs uncached in each process. Writes the `scaling` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import describe, environment, write_results, write_section

ROOT = Path(__file__).resolve().parents[1]
DEMO_SONG = ROOT / "projects" / "demo" / "song.ogg"
FPS = 12
SIZE = 64
INTERVAL_S = 15.0


def write_song(path: Path, seconds: float) -> None:
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(DEMO_SONG, dtype="float32", always_2d=True)
    repeats = int(np.ceil(seconds * rate / len(samples)))
    sf.write(path, np.tile(samples, (repeats, 1))[: int(seconds * rate)], rate)


def write_project(folder: Path, seconds: float, size: int = SIZE) -> Path:
    import yaml

    song = folder / "song.wav"
    write_song(song, seconds)
    subjects = ["a city skyline at dusk", "a flock of flamingos", "a desert canyon", "a jellyfish"]
    intervals = []
    start = 0.0
    while start < seconds - 1e-6:
        end = min(seconds, start + INTERVAL_S)
        k = len(intervals)
        intervals.append(
            {
                "start": start,
                "end": end,
                "transition": "subject",
                "from": {"prompt": subjects[k % 4], "seed": k},
                "to": {"prompt": subjects[(k + 1) % 4], "seed": k + 1},
            }
        )
        start = end
    document = {
        "song": str(song),
        "output": "out",
        "model": "random:tiny",
        "width": size,
        "height": size,
        "fps": FPS,
        "steps": 2,
        "guidance": 0.0,
        "intervals": intervals,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def child(seconds: float) -> None:
    """One measured render; prints its numbers as JSON."""
    import gendisco.models  # noqa: F401  (torch's import is a fixed cost, not timed)
    from gendisco.audio import analyze
    from gendisco.rendering import render

    with tempfile.TemporaryDirectory(prefix="gendisco-scaling-") as tmp:
        folder = Path(tmp)
        os.environ["GENDISCO_CACHE_DIR"] = str(folder / "cache")
        project = write_project(folder, seconds)
        started = time.perf_counter()
        analyze(folder / "song.wav")
        analysis_s = time.perf_counter() - started
        result = render(project, batch_size=8)
        wall_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "frames": result.frames_rendered,
                "analysis_s": analysis_s,
                "wall_s": wall_s,
                "frames_per_s": result.frames_per_second,
                "overall_frames_per_s": result.frames_rendered / wall_s,
                "peak_mb": peak_mb,
            }
        )
    )


def measure(seconds: float) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[10.0, 60.0, 180.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    runs: dict[float, list[dict]] = {seconds: [] for seconds in args.lengths}
    for _ in range(args.repeats):  # lengths interleaved, so drift hits all of them alike
        for seconds in args.lengths:
            runs[seconds].append(measure(seconds))
            print(f"{seconds:g} s: {runs[seconds][-1]}", flush=True)

    def median(seconds: float, key: str) -> float:
        return statistics.median(run[key] for run in runs[seconds])

    command = " ".join(["python benchmarks/scaling.py", *sys.argv[1:]])
    env = environment(command)
    lines = [
        "## Scaling with song length (CPU, random:tiny model)",
        "",
        describe(env),
        "",
        "Whole render in a fresh process (analysis uncached, plan, "
        f"generate, encode, join, mux): {SIZE}x{SIZE}, {FPS} fps, 2 steps, batch 8, "
        f"{INTERVAL_S:g} s subject transitions; medians of {args.repeats}. Overall = frames "
        "/ wall time from analysis to final.mp4; rendering = frames / time generating and "
        "encoding clips.",
        "",
        "| song | frames | analysis s | wall s | frames/s overall | frames/s rendering "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for seconds in args.lengths:
        lines.append(
            f"| {seconds:g} s | {runs[seconds][0]['frames']} | {median(seconds, 'analysis_s'):.2f} "
            f"| {median(seconds, 'wall_s'):.1f} | {median(seconds, 'overall_frames_per_s'):.1f} "
            f"| {median(seconds, 'frames_per_s'):.1f} | {median(seconds, 'peak_mb'):.0f} |"
        )
    first, last = args.lengths[0], args.lengths[-1]
    ratio = median(last, "frames_per_s") / median(first, "frames_per_s")
    lines += [
        "",
        f"Rendering frames/s at {last:g} s / at {first:g} s: **{ratio:.2f}**; peak memory "
        f"{median(first, 'peak_mb'):.0f} -> {median(last, 'peak_mb'):.0f} MB.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("scaling", text)
    rows = [{"song_s": seconds, **run} for seconds in args.lengths for run in runs[seconds]]
    write_results("scaling", rows, env, size=SIZE, fps=FPS, interval_s=INTERVAL_S)


if __name__ == "__main__":
    main()
