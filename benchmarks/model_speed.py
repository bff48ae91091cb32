"""Model throughput: frames/s by model, size, steps, VAE and batch size, where the time goes,
and each speed setting side by side.

Run: python benchmarks/model_speed.py [--device cuda] [--compile] [--quick] [--no-settings]

On CUDA the full-size architectures are built with random weights (`random:sd-turbo`,
`random:sd15`, `random:sdxl`): the published models' layers, so their cost, in fp16. On
the CPU the published architectures are too slow to sweep, so the sweep uses the untrained
`random:tiny` and the breakdown one `random:sd-turbo` frame at 256x256 (fp32). Frames come
from gendisco's own generation path (`generate_frames`: lerped embeddings, slerped noise,
decode, uint8 on the host); every row is the median of several timed runs after a warm-up.
The breakdown times the text encoder, the UNet with its scheduler, and the VAE decoder
separately.

The settings table (`measure_variant`) loads a fresh pipeline per `SpeedSettings` variant and
reports, apart from each other: building the pipeline, the first batch (compiling included
under `compile`), the time to the first frame (build + first batch), the compile time (first
batch minus a warm batch), frames/s of the timed runs after that, and the fidelity of the
frames against the plain pipeline's (PSNR and the largest difference in grey levels). On the
CPU it runs on `random:tiny` (256 px, 4 DDIM steps, so that feature reuse has steps to work on);
benchmarks/cuda_settings.py runs the same on the full-size models on a GPU.

Writes the `model-speed-<device>` and `model-settings-<device>` sections of BENCHMARKS.md
and the raw rows to benchmarks/results/model_speed_<device>.json.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from report import environment, write_results, write_section

from gendisco import models
from gendisco.errors import ModelError
from gendisco.models import generate
from gendisco.speed import SpeedSettings

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
    Config("random:tiny", 256, 2, 0.0, "default", (1, 4, 8), 4),
    Config("random:tiny", 256, 2, 0.0, "tiny", (1, 4, 8), 4),
    Config("random:tiny", 256, 2, 7.5, "default", (4,)),
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


def transition(pipe, config: Config, positions: np.ndarray, batch: int):
    """gendisco's frames of one transition (the benchmark's two prompts and seeds) at
    `positions` along it, in batches."""
    return models.generate_frames(
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
    )


def make_frames(pipe, config: Config, count: int, batch: int) -> int:
    """Generate `count` frames of one transition; returns how many came out."""
    made = 0
    for frames in transition(pipe, config, np.linspace(0.0, 1.0, count), batch):
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
    row.note = f"first batch, compiling included: {compile_s:.0f} s"
    return row


@dataclass
class VariantRow:
    config: str
    vae: str
    batch: int
    variant: str
    settings: dict
    build_s: float | None = None  # load_pipeline with these settings
    first_batch_s: float | None = None  # the first batch (compiling included)
    first_frame_s: float | None = None  # build + first batch: until the first frame is out
    compile_s: float | None = None  # first batch minus a warm batch, for compile variants
    frames_per_s: float | None = None  # timed runs after the warm-up
    vs_plain: float | None = None
    psnr_db: float | None = None  # against the plain pipeline's frames (inf: identical)
    max_grey_levels: int | None = None
    deep_share: float | None = None  # share of latents through the deep UNet blocks
    note: str = ""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def fidelity_frames(pipe, config: Config, batch: int) -> np.ndarray:
    """Two batches of one transition: what every variant is compared on."""
    count = 2 * batch
    positions = np.linspace(0.0, 1.0 / 12, count)  # half a second of a 6 s transition
    return np.concatenate(list(transition(pipe, config, positions, batch)))


def measure_variant(
    config: Config,
    batch: int,
    device: torch.device,
    name: str,
    settings: SpeedSettings,
    reference: np.ndarray | None,
    scheduler: str | None = None,
) -> tuple[VariantRow, np.ndarray | None]:
    """One speed variant on a freshly built pipeline -> its row and its fidelity frames."""
    row = VariantRow(config.label, config.vae, batch, name, settings.changed())
    frames = None
    try:
        free_memory(device)
        sync(device)
        started = time.perf_counter()
        pipe = models.load_pipeline(
            config.model, device=device, vae=config.vae, scheduler=scheduler, speed=settings
        )
        sync(device)
        row.build_s = time.perf_counter() - started
        first = timed(device, lambda: make_frames(pipe, config, batch, batch))
        row.first_batch_s = first
        row.first_frame_s = row.build_s + first
        warm = statistics.median(
            [timed(device, lambda: make_frames(pipe, config, batch, batch)) for _ in range(3)]
        )
        if settings.compile != "off":
            row.compile_s = max(0.0, first - warm)
        reuse = getattr(pipe, "gendisco_feature_reuse", None)
        if reuse is not None:
            reuse.deep_rows = reuse.reused_rows = 0
        batches = max(2, min(16, math.ceil(TARGET_SECONDS / max(warm, 1e-6))))
        count = batches * batch
        runs = [timed(device, lambda: make_frames(pipe, config, count, batch)) for _ in range(3)]
        row.frames_per_s = count / statistics.median(runs)
        if reuse is not None:
            row.deep_share = reuse.deep_rows / max(1, reuse.deep_rows + reuse.reused_rows)
        frames = fidelity_frames(pipe, config, batch)
        if reference is not None:
            row.psnr_db = psnr(frames, reference)
            row.max_grey_levels = int(np.abs(frames.astype(int) - reference).max())
        pipe = None  # free it before the next variant is built
    except Exception as error:  # a variant that fails is a result too
        text = str(error).strip().splitlines()
        row.note = f"failed: {type(error).__name__}: {text[0][:120] if text else ''}"
    torch.backends.cudnn.benchmark = False  # process-wide: the next variant starts from off
    free_memory(device)
    return row, frames


# (name, settings): every setting alone, then the combinations worth knowing
SETTING_VARIANTS: tuple[tuple[str, SpeedSettings], ...] = (
    ("plain (defaults)", SpeedSettings()),
    ("attention: math", SpeedSettings(attention="math")),
    ("fused_qkv", SpeedSettings(fused_qkv=True)),
    ("channels_last", SpeedSettings(channels_last=True)),
    ("cudnn_benchmark", SpeedSettings(cudnn_benchmark=True)),
    ("overlap_decode", SpeedSettings(overlap_decode=True)),
    ("feature_reuse: 2", SpeedSettings(feature_reuse=2)),
    ("feature_reuse: 3", SpeedSettings(feature_reuse=3)),
    ("fp8", SpeedSettings(fp8=True)),
)
COMPILE_VARIANTS: tuple[tuple[str, SpeedSettings], ...] = (
    ("compile: default", SpeedSettings(compile="default")),
    ("compile: reduce-overhead", SpeedSettings(compile="reduce-overhead")),
    ("compile: max-autotune", SpeedSettings(compile="max-autotune")),
    (
        "compile: max-autotune + channels_last",
        SpeedSettings(compile="max-autotune", channels_last=True),
    ),
    (
        "compile: max-autotune + channels_last + fused_qkv + overlap_decode",
        SpeedSettings(
            compile="max-autotune", channels_last=True, fused_qkv=True, overlap_decode=True
        ),
    ),
)
CPU_ONLY_SKIPPED = ("cudnn_benchmark", "fp8")  # CUDA-only: nothing to measure on the CPU


def settings_variants(device: torch.device, with_compile: bool):
    variants = [
        (name, settings)
        for name, settings in SETTING_VARIANTS
        if device.type == "cuda" or name not in CPU_ONLY_SKIPPED
    ]
    if with_compile:
        variants += [
            (name, settings)
            for name, settings in COMPILE_VARIANTS
            if device.type == "cuda" or "reduce-overhead" not in name and "+" not in name
        ]
    return variants


def run_variants(
    config: Config,
    batch: int,
    device: torch.device,
    variants,
    rows: list[VariantRow],
    publish,
    scheduler: str | None = None,
) -> None:
    """Every variant of one config side by side; the first must be the plain one. A row is
    listed (as not finished) before it runs, so a run cut short still shows what it tried."""
    # the process's own first-use costs (thread pools, allocator, lazy imports) must not be
    # charged to whichever variant happens to run first
    measure_variant(config, batch, device, "warm-up", SpeedSettings(), None, scheduler)
    reference: np.ndarray | None = None
    plain_fps: float | None = None
    for name, settings in variants:
        placeholder = VariantRow(
            config.label, config.vae, batch, name, settings.changed(), note="did not finish"
        )
        rows.append(placeholder)
        publish()
        row, frames = measure_variant(config, batch, device, name, settings, reference, scheduler)
        if reference is None and frames is not None:
            reference, plain_fps = frames, row.frames_per_s
        if row.frames_per_s and plain_fps:
            row.vs_plain = row.frames_per_s / plain_fps
        rows[rows.index(placeholder)] = row
        print(f"  {settings_line(row)}", flush=True)
        publish()


def settings_line(row: VariantRow) -> str:
    def num(value, digits=1, suffix=""):
        if value is None:
            return "-"
        if isinstance(value, float) and math.isinf(value):
            return "identical"
        return f"{value:.{digits}f}{suffix}"

    deep = "-" if row.deep_share is None else f"{100 * row.deep_share:.0f}%"
    return (
        f"| {row.config} | {row.vae} | {row.batch} | {row.variant} | {num(row.frames_per_s)} | "
        f"{num(row.vs_plain, 2, 'x')} | {num(row.build_s)} | {num(row.first_batch_s, 2)} | "
        f"{num(row.compile_s)} | {num(row.first_frame_s)} | {num(row.psnr_db)} | "
        f"{'-' if row.max_grey_levels is None else row.max_grey_levels} | {deep} | "
        f"{row.note} |"
    )


SETTINGS_HEADER = [
    "| model | vae | batch | variant | frames/s | vs plain | build s | first batch s | "
    "compile s | first frame s | PSNR dB | max grey diff | deep UNet share | note |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]
SETTINGS_LEGEND = (
    "Each variant on a freshly built pipeline, all in one run. frames/s: timed runs after "
    "the first batch and 3 warm batches (medians of 3). build s: `load_pipeline` with the "
    "settings. first batch s: the first batch, compiling included. compile s: first batch "
    "minus a warm batch (compile variants only). first frame s: build + first batch, in a "
    "process whose imports are done. PSNR and max grey diff: the variant's frames against "
    "the plain pipeline's (same positions, 2 batches); random weights, so they say how far "
    "the numbers move, not how the pictures look. deep UNet share: latents that went "
    "through the deep blocks (feature reuse)."
)


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
                "The `random:tiny` model's own VAE is a scaled-down KL autoencoder (8 to 16 "
                "channels), cheaper than TAESD (64 channels): `vae: tiny` pays off on the "
                "published models, whose full decoder is the expensive part.",
            ]
    return "\n".join(lines)


SETTINGS_CPU_CONFIG = Config("random:tiny", 256, 4, 0.0, "default", ())
SETTINGS_CPU_BATCH = 4


def settings_section(device: torch.device, rows: list[VariantRow], meta: dict) -> str:
    scheduler = ", DDIM" if device.type == "cpu" else ""
    lines = [
        f"## Speed settings side by side ({device.type})",
        "",
        f"`{meta['command']}` on {meta['machine']}, {meta['date']}, {meta['dtype']}{scheduler}. "
        + SETTINGS_LEGEND,
        "",
        *SETTINGS_HEADER,
        *(settings_line(row) for row in rows),
    ]
    if device.type == "cpu":
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        lines += [
            "",
            "On the CPU, `overlap_decode` has no second stream and only hands batches over one "
            "later (the same work, so its distance from 1.00x shows this run's noise); "
            "`cudnn_benchmark` and `fp8` are CUDA settings and are "
            "not run here. The machine may be shared (load average over 1, 5 and 15 minutes "
            f"when this table was written: {load} on {os.cpu_count()} cores): compare the "
            "ratios, not the absolute times.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--quick", action="store_true", help="first batch size of each only")
    parser.add_argument("--only", help="models whose name contains this")
    parser.add_argument(
        "--no-settings", action="store_true", help="skip the speed settings side by side"
    )
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
    variant_rows: list[VariantRow] = []
    env = environment(meta["command"])

    def publish() -> None:
        write_section(f"model-speed-{device.type}", section(device, rows, meta))
        if variant_rows:
            write_section(
                f"model-settings-{device.type}", settings_section(device, variant_rows, meta)
            )
        write_results(
            f"model_speed_{device.type}",
            [asdict(r) for r in rows],
            env,
            settings_rows=[asdict(r) for r in variant_rows],
        )

    if device.type == "cpu" and not args.no_settings:
        # first, while the machine's state is the same for every variant
        print(f"speed settings side by side on {SETTINGS_CPU_CONFIG.label}", flush=True)
        run_variants(
            SETTINGS_CPU_CONFIG,
            SETTINGS_CPU_BATCH,
            device,
            settings_variants(device, args.compile),
            variant_rows,
            publish,
            scheduler="ddim",
        )

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
        # torch.compile alone (gendisco's `--compile`), at the best eager batch
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
