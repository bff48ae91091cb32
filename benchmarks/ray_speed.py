"""`gendisco render --ray` with local workers against a single-process render, same project.

Run: .venv/bin/python benchmarks/ray_speed.py [--seconds 60] [--size 128] [--repeats 3]

The project is benchmarks/scaling.py's (the demo song looped, 15 s subject transitions,
`random:tiny` model). Each run renders from scratch into a new folder; single-process and Ray runs
alternate. The Ray side starts a local Ray (one CPU worker per core, each torch on its one
core; every GPU instead, where there are GPUs) and shuts it down, all inside its wall time,
as `gendisco render --ray` does. Writes the `ray-speed` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import describe, environment, write_results, write_section
from scaling import FPS, write_project

from gendisco.audio import analyze
from gendisco.rendering import render


def timed_render(project: Path, ray_address: str | None) -> tuple[float, int]:
    output = project.parent / "out"
    shutil.rmtree(output, ignore_errors=True)
    started = time.perf_counter()
    result = render(project, ray_address=ray_address, batch_size=4)
    return time.perf_counter() - started, result.frames_rendered


def ray_startup_seconds() -> float:
    import ray

    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.shutdown()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gendisco-ray-bench-"))
    os.environ["GENDISCO_CACHE_DIR"] = str(folder / "cache")
    try:
        project = write_project(folder, args.seconds, args.size)
        analyze(folder / "song.wav")  # both sides start with the analysis cached
        timed_render(project, None)  # warm-up: imports, first model build
        single, ray = [], []
        for _ in range(args.repeats):
            single.append(timed_render(project, None))
            ray.append(timed_render(project, "local"))
            print(f"single {single[-1][0]:.1f} s, ray {ray[-1][0]:.1f} s", flush=True)
        startup = statistics.median(ray_startup_seconds() for _ in range(args.repeats))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    frames = single[0][1]
    single_s = statistics.median(s for s, _ in single)
    ray_s = statistics.median(s for s, _ in ray)
    command = " ".join(["python benchmarks/ray_speed.py", *sys.argv[1:]])
    env = environment(command)
    text = "\n".join(
        [
            "## `--ray` against one process (CPU, random:tiny model)",
            "",
            describe(env),
            "",
            f"{frames} frames of {args.size}x{args.size} at {FPS} fps "
            f"({args.seconds:g} s song, {len(ray)} alternating runs each, medians), batch 4, "
            "rendered from scratch each time; the Ray side includes starting and stopping a "
            f"local Ray ({startup:.1f} s of it on its own) and one pipeline load per worker.",
            "",
            "| render | wall s | frames/s |",
            "|---|---|---|",
            f"| single process | {single_s:.1f} | {frames / single_s:.1f} |",
            f"| `--ray`, {os.cpu_count()} CPU workers | {ray_s:.1f} | {frames / ray_s:.1f} |",
            "",
            f"Speed-up: **{single_s / ray_s:.2f}x**.",
        ]
    )
    print(text)
    write_section("ray-speed", text)
    rows = [{"side": "single", "wall_s": s} for s, _ in single]
    rows += [{"side": "ray", "wall_s": s} for s, _ in ray]
    write_results("ray_speed", rows, env, frames=frames, ray_startup_s=startup)


if __name__ == "__main__":
    main()
