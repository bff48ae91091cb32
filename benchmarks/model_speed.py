"""Model throughput: frames/s by model, size, steps, VAE and batch size, and where the time goes.

Run: python benchmarks/model_speed.py [--device cuda] [--compile] [--quick]

On CUDA the full-size architectures are built with random weights (`random:sd-turbo`,
`random:sd15`, `random:sdxl`): the published models' layers, so their cost, in fp16. On
the CPU the published architectures are too slow to sweep, so the sweep uses `tiny` and the
breakdown one `random:sd-turbo` frame at 256x256 (fp32). Frames come from gendisco's own
generation path (`generate_frames`: lerped embeddings, slerped noise, decode, uint8 on the
host); every row is the median of several timed runs after a warm-up. The breakdown times
the text encoder, the UNet with its scheduler, and the VAE decoder separately. Writes the
`model-speed-<device>` section of BENCHMARKS.md and, with --results, every row as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from report import write_section

from gendisco import models
from gendisco.errors import ModelError
from gendisco.models import generate

PROMPTS = ("a city skyline at dusk", "a flock of flamingos over the sea")
TARGET_SECONDS = 1.0  # each timed run lasts about this long
REPEATS = 3


@dataclass(frozen=True)
class Config:
    model: str
    size: int
    steps: int
    guidance: float
    vae: str
    batches: tuple[int, ...]
    breakdown_batch: int | None = None  # time the parts at this batch size

    @property
    def label(self) -> str:
        cfg = f", CFG {self.guidance:g}" if self.guidance > 1 else ""
        return f"{self.model} {self.size}px {self.steps} step{'s' * (self.steps > 1)}{cfg}"


CUDA_CONFIGS = (
    Config("random:sd-turbo", 512, 1, 0.0, "tiny", (1, 4, 8, 16, 32, 64), 16),
    Config("random:sd-turbo", 512, 1, 0.0, "default", (4, 16, 32), 16),
    Config("random:sd-turbo", 512, 4, 0.0, "tiny", (16, 32)),
    Config("random:sd-turbo", 512, 4, 0.0, "default", (16,)),
    Config("random:sd15", 512, 25, 7.5, "default", (8, 16), 8),
    Config("random:sd15", 512, 25, 7.5, "tiny", (16,)),
    Config("random:sdxl", 1024, 1, 0.0, "tiny", (4, 8, 16), 4),
    Config("random:sdxl", 1024, 1, 0.0, "default", (4,), 4),
)
CPU_CONFIGS = (
    Config("tiny", 256, 2, 0.0, "default", (1, 4, 8), 4),
    Config("tiny", 256, 2, 0.0, "tiny", (1, 4, 8), 4),
    Config("tiny", 256, 2, 7.5, "default", (4,)),
    Config("random:sd-turbo", 256, 1, 0.0, "default", (), 1),
    Config("random:sd-turbo", 256, 1, 0.0, "tiny", (), 1),
)


@dataclass
class Row:
    config: str
    vae: str
    batch: int
    frames_per_s: float | None = None
    peak_gib: float | None = None
    note: str = ""
    parts_ms: dict[str, float] = field(default_factory=dict)  # per frame (encode: per call)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def make_frames(pipe, config: Config, count: int, batch: int) -> int:
    """Generate `count` frames of one transition; returns how many came out."""
    positions = np.linspace(0.0, 1.0, count)
    made = 0
    for frames in models.generate_frames(
        pipe,
        prompt_a=PROMPTS[0],
        prompt_b=PROMPTS[1],
        seed_a=1,
        seed_b=2,
        embed_mix=positions,
        noise_mix=positions,
        width=config.size,
        height=config.size,
        steps=config.steps,
        guidance=config.guidance,
        batch_size=batch,
    ):
        made += len(frames)
    return made


def timed(device: torch.device, work) -> float:
    sync(device)
    started = time.perf_counter()
    work()
    sync(device)
    return time.perf_counter() - started


def throughput(pipe, config: Config, batch: int, device: torch.device) -> Row:
    row = Row(config.label, config.vae, batch)
    try:
        make_frames(pipe, config, batch, batch)  # warm-up: kernels, allocator
        one = timed(device, lambda: make_frames(pipe, config, batch, batch))
        batches = max(2, min(16, math.ceil(TARGET_SECONDS / max(one, 1e-6))))
        count = batches * batch
        reset_peak(device)
        runs = [timed(device, lambda: make_frames(pipe, config, count, batch)) for _ in range(3)]
        row.frames_per_s = count / statistics.median(runs)
        row.peak_gib = peak_gib(device)
    except ModelError as error:
        row.note = "out of memory" if "out of memory" in str(error) else str(error)
    free_memory(device)
    return row


def breakdown(pipe, config: Config, batch: int, device: torch.device) -> dict[str, float]:
    """Milliseconds per frame in the UNet (with scheduler) and the VAE decoder, and per call
    in the text encoder (both prompts, and the negative with CFG)."""
    guided = generate.uses_guidance(pipe, config.guidance)
    cond = generate.encode(pipe, list(PROMPTS), "", guided)
    noise = generate.latent_noise(pipe, 1, config.size, config.size).to(device)
    weights = torch.linspace(0, 1, batch, device=device)

    def encode():
        generate.encode(pipe, list(PROMPTS), "", guided)

    def denoise():
        return generate.denoise(
            pipe,
            cond,
            generate.mix(cond.embeds, weights),
            None if cond.pooled is None else generate.mix(cond.pooled, weights),
            noise.expand(batch, -1, -1, -1),
            [1] * batch,
            width=config.size,
            height=config.size,
            steps=config.steps,
            guidance=config.guidance,
        )

    latents = denoise()

    def decode():
        generate.decode(pipe, latents)

    parts = {}
    for name, work, per in (("text", encode, 1), ("unet", denoise, batch), ("vae", decode, batch)):
        work()  # warm-up
        runs = [timed(device, work) for _ in range(REPEATS)]
        parts[name] = 1000 * statistics.median(runs) / per
    return parts


def compile_row(pipe, config: Config, batch: int, device: torch.device) -> Row:
    """torch.compile on the UNet and the VAE decoder: compile time and frames/s after."""
    pipe.unet = torch.compile(pipe.unet)
    pipe.vae.decoder = torch.compile(pipe.vae.decoder)
    started = time.perf_counter()
    make_frames(pipe, config, batch, batch)
    sync(device)
    compile_s = time.perf_counter() - started
    row = throughput(pipe, config, batch, device)
    row.config += " + torch.compile"
    row.note = f"compile {compile_s:.0f} s"
    return row


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"{platform.machine()} {platform.system()} CPU, {torch.get_num_threads()} torch threads"


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def section(device: torch.device, rows: list[Row], meta: dict) -> str:
    lines = [
        f"## Model throughput ({device.type})",
        "",
        f"`{meta['command']}` on {meta['machine']}, {meta['date']}, {meta['dtype']}. "
        "Frames of one transition through `generate_frames` (lerp/slerp, denoise, decode, "
        f"uint8 on the host); medians of {REPEATS} runs after a warm-up. Random weights in the "
        "published architectures.",
        "",
        "| model | vae | batch | frames/s | peak GiB | note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.parts_ms:
            continue
        lines.append(
            f"| {row.config} | {row.vae} | {row.batch} | {fmt(row.frames_per_s)} | "
            f"{fmt(row.peak_gib)} | {row.note} |"
        )
    if meta["auto"]:
        picks = "; ".join(meta["auto"])
        lines += ["", f"Batch size gendisco picks from free memory: {picks}."]
    parted = [row for row in rows if row.parts_ms]
    if parted:
        lines += [
            "",
            "Where the model time goes (ms per frame at that batch; text encoding is per "
            "transition, paid once per clip):",
            "",
            "| model | vae | batch | text encoder ms/call | UNet ms/frame | VAE decode ms/frame "
            "| VAE share |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in parted:
            unet, vae = row.parts_ms["unet"], row.parts_ms["vae"]
            lines.append(
                f"| {row.config} | {row.vae} | {row.batch} | {row.parts_ms['text']:.1f} | "
                f"{unet:.1f} | {vae:.1f} | {100 * vae / (unet + vae):.0f}% |"
            )
        if device.type == "cpu":
            lines += [
                "",
                "The `tiny` model's own VAE is a scaled-down KL autoencoder (8 to 16 channels), "
                "cheaper than TAESD (64 channels): `vae: tiny` pays off on the published "
                "models, whose full decoder is the expensive part.",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--quick", action="store_true", help="first batch size of each only")
    parser.add_argument("--only", help="models whose name contains this")
    parser.add_argument("--results", type=Path, help="also write the rows here as JSON")
    args = parser.parse_args()
    device = models.resolve_device(args.device)
    configs = CUDA_CONFIGS if device.type == "cuda" else CPU_CONFIGS
    if args.only:
        configs = tuple(c for c in configs if args.only in c.model)
    meta = {
        "command": " ".join(["python benchmarks/model_speed.py", *sys.argv[1:]]),
        "machine": machine(device),
        "date": str(datetime.date.today()),
        "dtype": str(models.resolve_dtype(None, device)).removeprefix("torch."),
        "auto": [],
    }
    rows: list[Row] = []

    def publish() -> None:
        write_section(f"model-speed-{device.type}", section(device, rows, meta))
        if args.results:
            args.results.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")

    for config in configs:
        started = time.perf_counter()
        pipe = models.load_pipeline(config.model, device=device, vae=config.vae)
        print(f"{config.label} vae={config.vae}: built in {time.perf_counter() - started:.1f} s")
        for batch in config.batches[:1] if args.quick else config.batches:
            row = throughput(pipe, config, batch, device)
            rows.append(row)
            print(f"  batch {batch}: {fmt(row.frames_per_s, 2)} frames/s {row.note}", flush=True)
            publish()
        if config.breakdown_batch:
            batch = config.breakdown_batch
            row = Row(config.label, config.vae, batch, note="breakdown")
            row.parts_ms = breakdown(pipe, config, batch, device)
            rows.append(row)
            print(f"  parts at batch {batch}: {row.parts_ms}", flush=True)
            publish()
        if device.type == "cuda":
            auto = models.auto_batch_size(
                pipe, width=config.size, height=config.size, guidance=config.guidance
            )
            meta["auto"].append(f"{config.label}, vae {config.vae}: {auto}")
        del pipe
        free_memory(device)
    if args.compile and device.type == "cuda":
        config = configs[0]
        mine = [r for r in rows if r.config == config.label and r.vae == config.vae]
        best = max((r for r in mine if r.frames_per_s), key=lambda r: r.frames_per_s)
        pipe = models.load_pipeline(config.model, device=device, vae=config.vae)
        try:
            row = compile_row(pipe, config, best.batch, device)
        except Exception as error:  # a compiler failure is a result too
            row = Row(config.label + " + torch.compile", config.vae, best.batch)
            row.note = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        rows.append(row)
        print(f"{config.label} compiled, batch {best.batch}: {fmt(row.frames_per_s, 2)} frames/s")
        publish()


if __name__ == "__main__":
    main()
