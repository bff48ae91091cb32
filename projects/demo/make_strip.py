"""Frames from the rendered demo, one row per interval: `demo-strip.png` beside this file.

Run `make demo` first, then `python projects/demo/make_strip.py` (or `make demo-strip`). Each
row is one interval of demo.yaml: its prompts on the left, then frames evenly spaced from
its start to its end, read back from renders/demo/final.mp4 with PyAV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np
import yaml
from PIL import Image, ImageDraw

from gendisco.project import parse_time

HERE = Path(__file__).resolve().parent
FRAMES_PER_ROW = 6
TILE = 128
LABEL_WIDTH = 250


def interval_label(interval: dict, previous_end: str) -> list[str]:
    if "hold" in interval:
        return ["hold", interval["hold"]["prompt"]]
    start = interval.get("from", {}).get("prompt", previous_end)
    return [f"{interval['transition']} transition", start, "-> " + interval["to"]["prompt"]]


def read_frames(video: Path, times_s: list[float]) -> list[np.ndarray]:
    """The decoded frame shown at each time (the last one starting at or before it)."""
    wanted = sorted(times_s)
    found: dict[float, np.ndarray] = {}
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        last = None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            while wanted and wanted[0] < t:
                found[wanted.pop(0)] = (
                    last if last is not None else frame.to_ndarray(format="rgb24")
                )
            last = frame.to_ndarray(format="rgb24")
        for t in wanted:
            found[t] = last
    return [found[t] for t in times_s]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=HERE / "demo.yaml")
    parser.add_argument("--out", type=Path, default=HERE / "demo-strip.png")
    args = parser.parse_args(argv)

    project = yaml.safe_load(args.project.read_text(encoding="utf-8"))
    video = args.project.parent / project["output"] / "final.mp4"
    if not video.is_file():
        print(f"error: {video} not found; run `make demo` first", file=sys.stderr)
        return 1
    rows = []
    previous_end = ""
    for interval in project["intervals"]:
        start, end = parse_time(interval["start"]), parse_time(interval["end"])
        step = (end - start) / FRAMES_PER_ROW
        times = [start + step * (i + 0.5) for i in range(FRAMES_PER_ROW)]
        tiles = [
            Image.fromarray(frame).resize((TILE, TILE), Image.LANCZOS)
            for frame in read_frames(video, times)
        ]
        row = Image.new("RGB", (LABEL_WIDTH + TILE * FRAMES_PER_ROW, TILE + 4), "white")
        draw = ImageDraw.Draw(row)
        lines = [f"{start:g}-{end:g} s", *interval_label(interval, previous_end)]
        for i, line in enumerate(lines):
            draw.text((6, 8 + 16 * i), line, fill="black")
        for i, tile in enumerate(tiles):
            row.paste(tile, (LABEL_WIDTH + TILE * i, 2))
        rows.append(row)
        previous_end = interval.get("to", interval.get("hold", {})).get("prompt", previous_end)
    strip = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    for i, row in enumerate(rows):
        strip.paste(row, (0, row.height * i))
    strip.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
