"""CUDA settings side by side: what every `SpeedSettings` field buys on the full-size
models, and how fast the H.264 encoder runs on the machine.

Run: python benchmarks/cuda_settings.py [--compile] [--only MODEL]

Each variant starts from a freshly built pipeline (random weights, fp16), loaded through
`load_pipeline(..., speed=SpeedSettings(...))`, exactly as `gendisco render` applies the
project's `speed:` block, and is measured by `model_speed.measure_variant`: build time, first
batch (compiling included), compile time (first batch minus a warm batch), time to the first
frame, frames/s of the timed runs, and the frames' PSNR against the plain pipeline's. All in
one run, so the ratios compare like with like. With --compile, each torch.compile mode alone
and with channels-last are added. Every row is listed before it runs, so a run that is cut
short shows which variant it was on ("did not finish"). The encoder rows time `ClipWriter`
alone on noise-like frames (what random weights produce, the hardest case for H.264) and
smooth frames (closer to real images). Writes the `cuda-settings` section of BENCHMARKS.md
and benchmarks/results/cuda_settings.json.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from model_speed import (
    SETTINGS_HEADER,
    SETTINGS_LEGEND,
    Config,
    VariantRow,
    machine,
    run_variants,
    settings_line,
    settings_variants,
)
from report import environment, write_results, write_section

from gendisco import models
from gendisco.video import ClipWriter

CONFIGS = (
    (Config("random:sd-turbo", 512, 1, 0.0, "tiny", ()), 32),
    (Config("random:sd-turbo", 512, 1, 0.0, "default", ()), 16),
    (Config("random:sd15", 512, 25, 7.5, "default", ()), 8),
    (Config("random:sdxl", 1024, 1, 0.0, "tiny", ()), 8),
)


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
    parser.add_argument("--compile", action="store_true", help="also each torch.compile mode")
    parser.add_argument("--only", help="models whose name contains this")
    args = parser.parse_args()
    device = models.resolve_device("cuda")
    command = " ".join(["python benchmarks/cuda_settings.py", *sys.argv[1:]])
    env = environment(command)
    intro = [
        "## CUDA settings side by side",
        "",
        f"`{command}` on {machine(device)}, {datetime.date.today()}, float16. " + SETTINGS_LEGEND,
        "",
        *SETTINGS_HEADER,
    ]
    rows: list[VariantRow] = []
    encoder_lines = [
        "",
        "H.264 encoder alone (`ClipWriter`, libx264, crf 18, 512x512, 240 frames):",
        "",
        "| frames | preset | frames/s |",
        "|---|---|---|",
    ]
    encoder_rows: list[dict] = []

    def publish() -> None:
        table = [settings_line(row) for row in rows]
        write_section("cuda-settings", "\n".join(intro + table + encoder_lines))
        write_results("cuda_settings", [asdict(r) for r in rows], env, encoder_rows=encoder_rows)

    variants = settings_variants(device, args.compile)
    for config, batch in CONFIGS:
        if args.only and args.only not in config.model:
            continue
        print(f"{config.label}, vae {config.vae}, batch {batch}", flush=True)
        run_variants(config, batch, device, variants, rows, publish)

    for kind in ("noise", "smooth"):
        frames = test_frames(kind)
        for preset in ("medium", "veryfast"):
            fps = encoder_fps(frames, preset)
            encoder_rows.append({"frames": kind, "preset": preset, "frames_per_s": fps})
            encoder_lines.append(f"| {kind} | {preset} | {fps:.0f} |")
            print(encoder_lines[-1], flush=True)
            publish()


if __name__ == "__main__":
    main()
