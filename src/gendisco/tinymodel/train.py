"""Train the built-in `tiny` model on procedural scenes, on a CPU: `make train-tiny`.

    python -m gendisco.tinymodel.train --out src/gendisco/tinymodel/weights

Five stages, each seeded: (1) draw the scenes, (2) train the autoencoder (AutoencoderKL, 16x
down, 8 latent channels) on crops, (3) encode every scene once and train the UNet and the
text encoder together on the latents (v-prediction, captions resampled every time a scene is
drawn, one caption in ten left empty so guidance works), (4) refine the decoder alone with an
extra loss on blurred pictures that holds flat colour and light (the encoder frozen, so the
UNet's latents stay valid), (5) distil a TAESD-style decoder (AutoencoderTiny) for
`vae: tiny`. The result is a diffusers folder, saved in float16. `--refine FOLDER` runs stage 4
alone on a model trained before it existed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gendisco.tinymodel.scenes import SIZE, caption, training_example

TEXT_CONFIG = dict(
    hidden_size=64,
    intermediate_size=256,
    num_attention_heads=4,
    num_hidden_layers=2,
    projection_dim=64,
    hidden_act="quick_gelu",
)
VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 5,  # five blocks: 16x down
    up_block_types=("UpDecoderBlock2D",) * 5,
    block_out_channels=(8, 16, 32, 32, 32),
    layers_per_block=1,
    latent_channels=8,
    # one group: with as few channels as these, more groups normalise each channel on its own
    # and flat colour (most of these pictures) would come out grey
    norm_num_groups=1,
    mid_block_add_attention=False,
    sample_size=SIZE,
)
UNET_CONFIG = dict(
    sample_size=SIZE // 16,
    in_channels=8,
    out_channels=8,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=64,
    attention_head_dim=4,
    norm_num_groups=8,
)
TAESD_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    encoder_block_out_channels=(16, 16, 16, 16, 16),
    decoder_block_out_channels=(16, 16, 16, 16, 16),
    num_encoder_blocks=(1, 1, 1, 1, 1),
    num_decoder_blocks=(1, 1, 1, 1, 1),
    latent_channels=8,
    scaling_factor=1.0,
)
VAE_LR = 1e-3
# Decoder refinement: the pixel losses are dominated by edges, so the small decoder shifts
# the flat colour and light a picture is judged by (red came back orange, dusk as night); an
# extra loss on 16x16-pixel averages, with the encoder (and so the UNet's latents) frozen,
# pulls them back.
LOW_FREQUENCY_WEIGHT = 10.0
LOW_FREQUENCY_POOL = 16
REFINE_LR = 3e-4
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="v_prediction",
    timestep_spacing="trailing",
    steps_offset=1,
)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _cpu_name() -> str:
    """The processor's model name (Linux), for the training time's context."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _scene_chunk(seeds: list[int]) -> tuple[np.ndarray, list]:
    images, scenes = [], []
    for seed in seeds:
        image, _, scene = training_example(seed)
        images.append(image)
        scenes.append(scene)
    return np.stack(images), scenes


def draw_scenes(count: int, seed: int, workers: int) -> tuple[np.ndarray, list]:
    """`count` training scenes (uint8 N,H,W,3) and their `Scene`s, seeded."""
    seeds = [seed * 1_000_003 + i for i in range(count)]
    chunks = [seeds[i : i + 256] for i in range(0, count, 256)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_scene_chunk, chunks))
    return np.concatenate([p[0] for p in parts]), [s for p in parts for s in p[1]]


def pixels_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) pictures -> float (N, 3, H, W) in [-1, 1], as the autoencoder sees."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _step(opt, loss: torch.Tensor, lr: float, clip: list | None = None) -> None:
    """One optimiser step at learning rate `lr`, the gradient norm clipped to 1 over `clip`."""
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip, 1.0)
    opt.step()


def _lr(step: int, steps: int, peak: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train_vae(images: np.ndarray, steps: int, seed: int, batch: int = 16, crop: int = 128):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(**VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=VAE_LR, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(len(images), size=batch)
        y0, x0 = rng.integers(0, SIZE - crop + 1, size=2) // 16 * 16
        x = pixels_to_tensor(images[idx, y0 : y0 + crop, x0 : x0 + crop])
        posterior = vae.encode(x).latent_dist
        out = vae.decode(posterior.sample()).sample
        kl = posterior.kl().mean() / x[0].numel()
        loss = F.l1_loss(out, x) + F.mse_loss(out, x) + 1e-4 * kl
        _step(opt, loss, _lr(step, steps, VAE_LR))
        if step % 200 == 0 or step == steps - 1:
            psnr = -10 * math.log10(F.mse_loss(out, x).item() / 4)
            _log(
                f"vae {step}/{steps} loss {loss.item():.4f} psnr {psnr:.1f} dB "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return vae.eval().requires_grad_(False)


def refine_decoder(
    vae, images: np.ndarray, steps: int, seed: int, batch: int = 16, crop: int = 128
):
    """Train the decoder alone, with the low-frequency loss added; the encoder is frozen, so
    the latents the UNet was trained on stay what they were."""
    vae.requires_grad_(False)
    decoder = [*vae.post_quant_conv.parameters(), *vae.decoder.parameters()]
    for parameter in decoder:
        parameter.requires_grad_(True)
    opt = torch.optim.AdamW(decoder, lr=REFINE_LR)
    rng = np.random.default_rng(seed + 5)
    generator = torch.Generator().manual_seed(seed + 6)
    started = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(len(images), size=batch)
        y0, x0 = rng.integers(0, SIZE - crop + 1, size=2) // 16 * 16
        x = pixels_to_tensor(images[idx, y0 : y0 + crop, x0 : x0 + crop])
        with torch.no_grad():
            latents = vae.encode(x).latent_dist.sample(generator)
        out = vae.decode(latents).sample
        pool = LOW_FREQUENCY_POOL
        low = F.mse_loss(F.avg_pool2d(out, pool), F.avg_pool2d(x, pool))
        loss = F.l1_loss(out, x) + F.mse_loss(out, x) + LOW_FREQUENCY_WEIGHT * low
        _step(opt, loss, _lr(step, steps, REFINE_LR, warmup=50))
        if step % 200 == 0 or step == steps - 1:
            _log(
                f"refine {step}/{steps} loss {loss.item():.4f} low {low.item():.5f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def encode_all(vae, images: np.ndarray, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    means, stds = [], []
    for i in range(0, len(images), batch):
        dist = vae.encode(pixels_to_tensor(images[i : i + batch])).latent_dist
        means.append(dist.mean)
        stds.append(dist.std)
    return torch.cat(means), torch.cat(stds)


def train_unet(
    means: torch.Tensor,
    stds: torch.Tensor,
    scenes: list,
    tokenizer,
    scaling: float,
    steps: int,
    seed: int,
    batch: int = 64,
):
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    from gendisco.models.architectures import text_config

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(text_config(tokenizer, vocab_size=len(tokenizer), **TEXT_CONFIG))
    noise_schedule = DDPMScheduler(**SCHEDULER_CONFIG)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    ema = [p.detach().clone() for p in params]
    rng = np.random.default_rng(seed + 1)
    generator = torch.Generator().manual_seed(seed + 2)
    started = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(len(scenes), size=batch)
        texts = ["" if rng.random() < 0.1 else caption(scenes[i], rng) for i in idx]
        ids = tokenizer(
            texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
        ).input_ids
        eps = torch.randn(means[idx].shape, generator=generator)
        latents = (means[idx] + stds[idx] * eps) * scaling
        noise = torch.randn(latents.shape, generator=generator)
        t = torch.randint(0, 1000, (batch,), generator=generator)
        noisy = noise_schedule.add_noise(latents, noise, t)
        target = noise_schedule.get_velocity(latents, noise, t)
        hidden = text_encoder(ids)[0]
        pred = unet(noisy, t, encoder_hidden_states=hidden).sample
        loss = F.mse_loss(pred, target)
        _step(opt, loss, _lr(step, steps, 1e-3, warmup=200), clip=params)
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for shadow, p in zip(ema, params, strict=True):
                shadow.lerp_(p.detach(), 1 - decay)
        if step % 200 == 0 or step == steps - 1:
            _log(
                f"unet {step}/{steps} loss {loss.item():.4f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    with torch.no_grad():
        for shadow, p in zip(ema, params, strict=True):
            p.copy_(shadow)
    return unet.eval().requires_grad_(False), text_encoder.eval().requires_grad_(False)


def train_taesd(
    vae,
    means: torch.Tensor,
    images: np.ndarray,
    scaling: float,
    steps: int,
    seed: int,
    batch: int = 8,
):
    """A TAESD-style autoencoder whose latents are the scaled latents of `vae`."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    taesd = AutoencoderTiny(**TAESD_CONFIG)
    opt = torch.optim.AdamW(taesd.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed + 3)
    started = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(len(images), size=batch)
        x = pixels_to_tensor(images[idx])
        z = means[idx] * scaling
        out = taesd.decoder(z)
        z_hat = taesd.encoder(x)
        loss = F.l1_loss(out, x) + F.mse_loss(out, x) + F.mse_loss(z_hat, z)
        _step(opt, loss, _lr(step, steps, 1e-3))
        if step % 200 == 0 or step == steps - 1:
            _log(
                f"taesd {step}/{steps} loss {loss.item():.4f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return taesd.eval().requires_grad_(False)


def save(out: Path, vae, unet, text_encoder, tokenizer, taesd, report: dict) -> None:
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16)
    pipe.save_pretrained(out, safe_serialization=True)
    taesd.to(torch.float16).save_pretrained(out / "vae_tiny", safe_serialization=True)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _record(args: argparse.Namespace, clock: dict[str, float]) -> dict:
    import diffusers
    import transformers

    return {
        "command": "python -m gendisco.tinymodel.train "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if k not in ("out", "refine") and v is not None
        ),
        "seconds": {k: round(v, 1) for k, v in clock.items()},
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_name(),
        "versions": {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
        },
        "date": time.strftime("%Y-%m-%d"),
    }


def refine_model(args: argparse.Namespace) -> None:
    """Stage 4 alone on a model trained before it existed: its decoder refined, every other
    file copied as it is (the encoder is frozen, so the UNet's latents are unchanged), the
    training record extended."""
    from diffusers import AutoencoderKL

    source = args.refine
    report = json.loads((source / "training.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    _log(f"drawing {args.scenes} scenes")
    images, _ = draw_scenes(args.scenes, args.seed, workers=args.threads)
    clock = {"scenes_s": time.perf_counter() - started}
    mark = time.perf_counter()
    vae = AutoencoderKL.from_pretrained(source / "vae").float()
    vae = refine_decoder(vae, images, args.refine_steps, args.seed)
    clock["refine_s"] = time.perf_counter() - mark
    clock["total_s"] = time.perf_counter() - started
    report["refinement"] = _record(args, clock)
    report["refinement"]["command"] += f" --refine {source}"
    shutil.copytree(source, args.out)
    vae.to(torch.float16).save_pretrained(args.out / "vae", safe_serialization=True)
    config_path = args.out / "vae" / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("_name_or_path", None)  # where it was read from: not part of the model
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (args.out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _log(f"saved to {args.out} in {clock['total_s'] / 60:.1f} min")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the diffusers folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", type=int, default=6000, help="distinct training pictures")
    parser.add_argument("--vae-steps", type=int, default=2000)
    parser.add_argument("--unet-steps", type=int, default=4000)
    parser.add_argument("--refine-steps", type=int, default=800)
    parser.add_argument("--taesd-steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--refine",
        type=Path,
        help="only refine the decoder of this model folder (trained before that stage existed)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.refine is not None:
        refine_model(args)
        return

    from transformers import CLIPTokenizer

    from gendisco.tinymodel.tokenizer import write_tokenizer_files

    clock = {}
    started = time.perf_counter()
    _log(f"drawing {args.scenes} scenes")
    images, scenes = draw_scenes(args.scenes, args.seed, workers=args.threads)
    clock["scenes_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    vae = train_vae(images, args.vae_steps, args.seed)
    clock["vae_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    means, stds = encode_all(vae, images)
    scaling = float(1.0 / means.std())
    vae.register_to_config(scaling_factor=scaling)
    _log(f"latents {tuple(means.shape)}, scaling factor {scaling:.4f}")
    tokenizer_dir = args.out.with_name(args.out.name + ".tokenizer")
    vocab_path, merges_path = write_tokenizer_files(tokenizer_dir)
    tokenizer = CLIPTokenizer(str(vocab_path), str(merges_path), model_max_length=77)
    unet, text_encoder = train_unet(
        means, stds, scenes, tokenizer, scaling, args.unet_steps, args.seed
    )
    clock["unet_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    vae = refine_decoder(vae, images, args.refine_steps, args.seed)
    clock["refine_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    taesd = train_taesd(vae, means, images, scaling, args.taesd_steps, args.seed)
    clock["taesd_s"] = time.perf_counter() - mark
    clock["total_s"] = time.perf_counter() - started

    report = _record(args, clock)
    save(args.out, vae, unet, text_encoder, tokenizer, taesd, report)
    for path in tokenizer_dir.iterdir():
        path.unlink()
    tokenizer_dir.rmdir()
    _log(f"saved to {args.out} in {clock['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
