"""The built-in `tiny` model: speed beside the untrained one, prompt following, size, training.

Run: python benchmarks/tiny_model.py [--repeats 5] [--seeds 3]

1. Frames/s at the demo's size (256 px, batch 4; 2 Euler steps without guidance, and the
   demo's 8 steps with guidance 3) through gendisco's own generation path, for the trained
   `tiny` (its autoencoder and its distilled TAESD-style decoder) and the untrained
   `random:tiny` it replaced, interleaved in one run; each row is the median of `--repeats`
   timed runs after a warm-up.
2. Prompt following on the (colour, time, subject) combinations held out of training, one
   picture per combination and seed (`--seeds`): the share of pictures
   `gendisco.tinymodel.measure` classifies as prompted, per attribute, at both settings, and
   its range over the seeds; the same on the generator's own pictures (how far the
   measuring stick itself can be trusted), on those pictures blurred (time of day must
   read the same without the detail), on those pictures after a round trip through the
   trained autoencoder (what the autoencoder alone changes) and on `random:tiny` (what
   chance looks like).
3. The weights' size on disk and the training time recorded in weights/training.json.

Writes the `tiny-model` section of BENCHMARKS.md and benchmarks/results/tiny_model.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from report import describe, environment, write_results, write_section

from gendisco import models
from gendisco.models.generate import _to_uint8, decode, generate_frames, generate_images
from gendisco.tinymodel import WEIGHTS
from gendisco.tinymodel.measure import SceneClassifier, accuracy, blurred
from gendisco.tinymodel.scenes import Scene, held_out, render_scene
from gendisco.tinymodel.train import pixels_to_tensor

SIZE, BATCH, FRAMES = 256, 4, 48
# (steps, guidance): what the untrained model was timed at, and the demo's setting
SETTINGS = ((2, 0.0), (8, 3.0))
BLUR_SIGMA = 4  # px: stars and stripe edges gone, the light where it was
VARIANTS = (("random:tiny", "default"), ("tiny", "default"), ("tiny", "tiny"))


def frames_per_second(pipe, steps: int, guidance: float) -> float:
    positions = np.linspace(0.0, 1.0, FRAMES)
    started = time.perf_counter()
    for _ in generate_frames(
        pipe,
        prompt_a="a city skyline at dusk, red",
        prompt_b="a city skyline at dusk, teal",
        seed_a=7,
        seed_b=7,
        embed_mix=positions,
        noise_mix=positions,
        width=SIZE,
        height=SIZE,
        steps=steps,
        guidance=guidance,
        batch_size=BATCH,
    ):
        pass
    return FRAMES / (time.perf_counter() - started)


def picture_seeds(count: int, seeds: int) -> list[list[int]]:
    """One list of picture seeds per round: round r draws picture i with seed 1 + i + 1000 r."""
    return [[1 + i + 1000 * r for i in range(count)] for r in range(seeds)]


def scores_over_rounds(per_round: list[dict[str, float]]) -> dict:
    """Mean share per attribute over the rounds, and its lowest and highest round."""
    return {
        "scores": {k: statistics.mean(r[k] for r in per_round) for k in per_round[0]},
        "low": {k: min(r[k] for r in per_round) for k in per_round[0]},
        "high": {k: max(r[k] for r in per_round) for k in per_round[0]},
        "rounds": per_round,
    }


def following(
    pipe,
    classifier: SceneClassifier,
    scenes: list[Scene],
    steps: int,
    guidance: float,
    seeds: int,
) -> dict:
    rounds = []
    for picture_seed in picture_seeds(len(scenes), seeds):
        images = generate_images(
            pipe,
            prompts=[s.prompt() for s in scenes],
            seeds=picture_seed,
            width=SIZE,
            height=SIZE,
            steps=steps,
            guidance=guidance,
            batch_size=8,
        )
        rounds.append(accuracy(classifier.classify(list(images)), scenes))
    return scores_over_rounds(rounds)


@torch.no_grad()
def autoencoder_round_trip(pipe, images: list[np.ndarray]) -> list[np.ndarray]:
    """The pictures encoded by the pipeline's autoencoder as in training (posterior mean,
    scaled as the UNet sees latents) and decoded to uint8 the way generation decodes."""
    vae = pipe.vae
    posterior = vae.encode(pixels_to_tensor(np.stack(images)).to(vae.dtype)).latent_dist
    return list(_to_uint8(decode(pipe, posterior.mean * vae.config.scaling_factor)))


def _share(r: dict, key: str) -> str:
    mean = f"{r['scores'][key]:.0%}"
    if r["low"][key] == r["high"][key]:
        return mean
    return f"{mean} ({r['low'][key]:.0%}-{r['high'][key]:.0%})"


def section(rows: list[dict], env: dict, repeats: int) -> str:
    speed = [r for r in rows if r["kind"] == "speed"]
    follow = [r for r in rows if r["kind"] == "following"]
    info = next(r for r in rows if r["kind"] == "weights")
    lines = [
        "## The built-in `tiny` model (CPU)",
        "",
        describe(env),
        "",
        f"Frames/s at {SIZE} px, batch {BATCH}, Euler, {FRAMES} frames of a colour transition "
        f"through `generate_frames`; median of {repeats} runs, the models interleaved. "
        "2 steps without guidance is what the untrained model was used at; 8 steps with "
        "guidance 3 is the demo's setting for the trained one.",
        "",
        "| model | VAE | steps, guidance | frames/s | vs `random:tiny` at 2 steps |",
        "|---|---|---|---|---|",
    ]
    base = next(r["fps"] for r in speed if r["model"] == "random:tiny" and r["steps"] == 2)
    for r in speed:
        lines.append(
            f"| {r['model']} | {r['vae']} | {r['steps']}, {r['guidance']:g} | {r['fps']:.1f} "
            f"| {r['fps'] / base:.2f}x |"
        )
    lines += [
        "",
        f"Prompt following: the {follow[0]['count']} (colour, time, subject) combinations "
        f"held out of training, flat style, one picture each per round, "
        f"{follow[0]['seeds']} rounds with different seeds, classified by "
        "`gendisco.tinymodel.measure`: the share classified as prompted, the mean over the "
        "rounds and (in brackets) its lowest and highest round. The autoencoder round trip "
        "is the generator's pictures encoded and decoded by the trained autoencoder: how "
        "much the autoencoder alone changes what the measure reads (guidance can push "
        "colours further than that); the blurred pictures check that the measure reads "
        "time of day from the light, not from detail such as stars.",
        "",
        "| pictures | steps, guidance | colour | time of day | subject |",
        "|---|---|---|---|---|",
    ]
    for r in follow:
        setting = f"{r['steps']}, {r['guidance']:g}" if "steps" in r else "-"
        lines.append(
            f"| {r['source']} | {setting} | {_share(r, 'color')} | {_share(r, 'time')} "
            f"| {_share(r, 'subject')} |"
        )
    training = info["training"]
    seconds = training.get("seconds", {})
    stages = ", ".join(
        f"{k.removesuffix('_s')} {v / 60:.1f} min" for k, v in seconds.items() if k != "total_s"
    )
    lines += [
        "",
        f"Weights: {info['size_mb']:.1f} MB on disk (float16 safetensors, "
        f"{info['parameters'] / 1e6:.2f} M parameters in the UNet, autoencoder and text "
        f"encoder). Training, as recorded in weights/training.json when the weights were "
        f"made (not in this run): {seconds.get('total_s', 0) / 60:.1f} min on "
        f"{training.get('threads')} threads of a {training.get('cpu_count')}-core CPU "
        f"({training.get('date')}; `{training.get('command')}`): {stages}.",
    ]
    refinement = training.get("refinement")
    if refinement:
        lines[-1] += (
            f" Then the decoder refinement, run on those weights: "
            f"{refinement['seconds']['refine_s'] / 60:.1f} min on {refinement['threads']} "
            f"threads of an {refinement.get('cpu', 'unknown CPU')} ({refinement['date']}; "
            f"`{refinement['command']}`)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--seeds", type=int, default=3, help="rounds of held-out pictures, one seed each"
    )
    args = parser.parse_args()
    env = environment(" ".join(["python benchmarks/tiny_model.py", *sys.argv[1:]]))
    rows: list[dict] = []

    pipes = {v: models.load_pipeline(v[0], device="cpu", vae=v[1]) for v in VARIANTS}
    runs: dict = {(v, s): [] for v in VARIANTS for s in SETTINGS}
    for pipe in pipes.values():
        frames_per_second(pipe, 2, 0.0)  # warm-up
    for _ in range(args.repeats):
        for variant, setting in runs:
            runs[(variant, setting)].append(frames_per_second(pipes[variant], *setting))
    for ((model, vae), (steps, guidance)), values in runs.items():
        row = {
            "kind": "speed",
            "model": model,
            "vae": vae,
            "steps": steps,
            "guidance": guidance,
            "fps": statistics.median(values),
            "runs": values,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    classifier = SceneClassifier.fit()
    scenes = [Scene(c, t, s) for c, t, s in sorted(held_out())]
    generator_rounds, blurred_rounds, round_trip_rounds = [], [], []
    for picture_seed in picture_seeds(len(scenes), args.seeds):
        generator = [render_scene(s, seed)[0] for s, seed in zip(scenes, picture_seed, strict=True)]
        generator_rounds.append(accuracy(classifier.classify(generator), scenes))
        blurred_rounds.append(accuracy(classifier.classify(blurred(generator, BLUR_SIGMA)), scenes))
        round_trip = autoencoder_round_trip(pipes[("tiny", "default")], generator)
        round_trip_rounds.append(accuracy(classifier.classify(round_trip), scenes))
    for source, rounds in (
        ("the scene generator itself", generator_rounds),
        (f"the generator's pictures, blurred (Gaussian, {BLUR_SIGMA} px)", blurred_rounds),
        ("the generator's pictures, `tiny`'s autoencoder round trip", round_trip_rounds),
    ):
        rows.append(
            {
                "kind": "following",
                "source": source,
                "count": len(scenes),
                "seeds": args.seeds,
                **scores_over_rounds(rounds),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    for model, vae in VARIANTS:
        for steps, guidance in SETTINGS:
            scores = following(pipes[(model, vae)], classifier, scenes, steps, guidance, args.seeds)
            label = f"`{model}`" + (", its TAESD-style decoder" if vae == "tiny" else "")
            rows.append(
                {
                    "kind": "following",
                    "source": label,
                    "steps": steps,
                    "guidance": guidance,
                    "count": len(scenes),
                    "seeds": args.seeds,
                    **scores,
                }
            )
            print(json.dumps(rows[-1]), flush=True)

    trained = pipes[("tiny", "default")]
    parts = (trained.unet, trained.vae, trained.text_encoder)
    rows.append(
        {
            "kind": "weights",
            "size_mb": sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file()) / 1e6,
            "parameters": sum(p.numel() for m in parts for p in m.parameters()),
            "training": json.loads((WEIGHTS / "training.json").read_text()),
            "threads": torch.get_num_threads(),
        }
    )
    write_results("tiny_model", rows, env, options={"repeats": args.repeats, "seeds": args.seeds})
    text = section(rows, env, args.repeats)
    print(text)
    write_section("tiny-model", text)


if __name__ == "__main__":
    main()
