"""Draft renders: how long `gendisco render --draft` takes after `gendisco init`, by song
length, beside the full-size `--model tiny` render that was the quick look before drafts.

Run: .venv/bin/python benchmarks/draft_speed.py [--lengths 30 180] [--full 10] [--repeats 1]
    [--threads N]

For each length, the demo song looped to that length gets a project from `gendisco init`
(which also caches the song's analysis, as a user's first draft finds it); then
`gendisco render project.yaml --draft` runs in a fresh process, timed from start to exit:
imports, plan, generating, encoding, joining and muxing, as the user waits for it. `--full S`
also times `gendisco render project.yaml --model tiny` (the project's own 512 px at 24 fps)
on the S-second song. `--threads N` runs the renders with N torch threads (OMP_NUM_THREADS):
on a machine shared with other jobs, torch's default threads spin while they wait for a core
and a render runs many times slower than on the same cores alone. The load average during
each run is recorded beside it. Writes the `draft-speed` section of BENCHMARKS.md and its raw
rows to benchmarks/results/draft_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import RESULTS_DIR, describe, environment, write_results, write_section

ROOT = Path(__file__).resolve().parents[1]
DEMO_SONG = ROOT / "projects" / "demo" / "song.ogg"


def write_song(path: Path, seconds: float) -> None:
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(DEMO_SONG, dtype="float32", always_2d=True)
    repeats = int(np.ceil(seconds * rate / len(samples)))
    sf.write(path, np.tile(samples, (repeats, 1))[: int(seconds * rate)], rate)


def gendisco(*args: str, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run the CLI as a user does; (wall seconds, stdout)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    wall_s = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"gendisco {' '.join(args)} failed:\n{result.stderr}")
    return wall_s, result.stdout


def measure(seconds: float, *, full: bool, threads: int | None) -> dict:
    """One song: init, a draft render, and with `full` the full-size tiny render too."""
    with tempfile.TemporaryDirectory(prefix="gendisco-draft-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "GENDISCO_CACHE_DIR": str(folder / "cache")}
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        write_song(folder / "song.wav", seconds)
        gendisco("init", "song.wav", "--out", "project.yaml", cwd=folder, env=env)
        draft_s, out = gendisco("render", "project.yaml", "--draft", "--json", cwd=folder, env=env)
        draft = json.loads(out)
        row = {
            "song_s": seconds,
            "draft_frames": draft["frames_total"],
            "draft_wall_s": draft_s,
            "draft_frames_per_s": draft["frames_per_second"],
            **video_format(Path(draft["final"])),
        }
        if full:
            full_s, out = gendisco(
                "render", "project.yaml", "--model", "tiny", "--json", cwd=folder, env=env
            )
            row.update(full_frames=json.loads(out)["frames_total"], full_wall_s=full_s)
    row["load_average"] = round(os.getloadavg()[1], 1)  # over the last 5 minutes
    return row


def video_format(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "draft_size": f"{stream.codec_context.width}x{stream.codec_context.height}",
            "draft_fps": float(stream.average_rate),
        }


def section(rows: list[dict], env: dict, *, repeats: int, threads: int | None) -> str:
    """The `draft-speed` section of BENCHMARKS.md from the raw rows."""
    lengths = sorted({r["song_s"] for r in rows if not r["full"]})

    def median(seconds: float, key: str, *, full: bool = False) -> float:
        chosen = [r for r in rows if r["song_s"] == seconds and r["full"] == full]
        return statistics.median(r[key] for r in chosen)

    loads = [row["load_average"] for row in rows]  # above ~1.5 on 2 cores, others were running
    lines = [
        "## Draft renders (CPU, tiny model)",
        "",
        describe(env),
        "",
        "Wall time of `gendisco render project.yaml --draft` right after `gendisco init` "
        "(analysis cached), in a fresh process: imports, plan, generating, encoding, joining "
        f"and muxing; medians of {repeats}; "
        + (f"torch threads: {threads}. " if threads else "torch's default threads. ")
        + f"Load average {min(loads):.1f} to {max(loads):.1f} on {env['cores']} cores while "
        + (
            "these ran: the machine was shared with other work, so the times are an upper "
            "bound for it."
            if max(loads) > 1.5
            else "these ran (the machine otherwise idle)."
        ),
        "",
        "| song | draft frames | size, fps | wall s | s per minute of song |",
        "|---|---|---|---|---|",
    ]
    for seconds in lengths:
        first = next(r for r in rows if r["song_s"] == seconds and not r["full"])
        wall = median(seconds, "draft_wall_s")
        lines.append(
            f"| {seconds:g} s | {first['draft_frames']} | {first['draft_size']}, "
            f"{first['draft_fps']:g} | {wall:.1f} | {wall / seconds * 60:.0f} |"
        )
    if len(lengths) >= 2:
        # the hint `gendisco init` prints: a fixed start plus a cost per minute of song
        (short, long) = lengths[0], lengths[-1]
        per_minute = (median(long, "draft_wall_s") - median(short, "draft_wall_s")) / (
            (long - short) / 60
        )
        start = median(short, "draft_wall_s") - per_minute * short / 60
        lines += [
            "",
            f"A straight line through them: **{start:.0f} s to start** (imports, building the "
            f"model, joining) **plus {per_minute:.0f} s per minute of song**; `gendisco init` "
            "quotes these in its hint (`DRAFT_CPU_START_S`, `DRAFT_CPU_S_PER_SONG_MINUTE` in "
            "src/gendisco/scaffold.py).",
        ]
    fulls = [r for r in rows if r["full"]]
    if fulls:
        seconds = fulls[0]["song_s"]
        full = median(seconds, "full_wall_s", full=True)
        draft = median(seconds, "draft_wall_s", full=True)
        lines += [
            "",
            f"Side by side on a {seconds:g} s song: the draft took {draft:.0f} s; the same "
            "project rendered at its own size with `--model tiny` "
            f"({fulls[0]['full_frames']} frames at 512x512, 24 fps), the quick look before "
            f"drafts, took {full:.0f} s: **{full / draft:.1f}x** as long.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument(
        "--full",
        type=float,
        default=10.0,
        help="song length on which the draft and the full-size render run side by side",
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads per render (default: torch's)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the section from benchmarks/results/draft_speed.json without rendering",
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS_DIR / "draft_speed.json").read_text())
        options = saved.get("options", {"repeats": args.repeats, "threads": args.threads})
        text = section(saved["rows"], saved["environment"], **options)
        print(text)
        write_section("draft-speed", text)
        return
    env = environment(" ".join(["python benchmarks/draft_speed.py", *sys.argv[1:]]))
    rows: list[dict] = []
    for repeat in range(args.repeats):  # lengths interleaved, so load drift hits all alike
        runs = [(seconds, False) for seconds in args.lengths] + [(args.full, True)]
        for seconds, full in runs:
            row = measure(seconds, full=full, threads=args.threads)
            row |= {"repeat": repeat, "full": full}
            rows.append(row)
            print(json.dumps(row), flush=True)
    options = {"repeats": args.repeats, "threads": args.threads}
    write_results("draft_speed", rows, env, options=options)
    text = section(rows, env, **options)
    print(text)
    write_section("draft-speed", text)


if __name__ == "__main__":
    main()
