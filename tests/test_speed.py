"""Speed settings: each one on the tiny model on the CPU, where it runs there; the checks and
one-line errors of the project's `speed:` block and `render --speed` / `--compile MODE`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gendisco.errors import UserError
from gendisco.models import generate_frames, load_pipeline
from gendisco.models.reuse import unet_parts
from gendisco.project import load_project
from gendisco.rendering import pixel_settings
from gendisco.speed import SpeedSettings, compile_settings, with_overrides

PROMPTS = dict(prompt_a="a red cube on a table", prompt_b="a blue sphere in the sky")


def frames(pipe, count: int = 6, batch_size: int = 3, span: float = 1.0, **kwargs) -> np.ndarray:
    positions = np.linspace(0, span, count)
    options = dict(
        **PROMPTS,
        seed_a=3,
        seed_b=11,
        embed_mix=positions,
        noise_mix=positions,
        width=64,
        height=64,
        steps=2,
        guidance=0.0,
        batch_size=batch_size,
    )
    options.update(kwargs)
    return np.concatenate(list(generate_frames(pipe, **options)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def plain():
    return load_pipeline("tiny", device="cpu")


@pytest.mark.parametrize(
    "settings",
    [
        dict(attention="math"),
        dict(fused_qkv=True),
        dict(channels_last=True),
        dict(overlap_decode=True),
        dict(cudnn_benchmark=True),  # a CUDA switch: nothing changes on the CPU
    ],
    ids=lambda settings: next(iter(settings)),
)
def test_speed_settings_keep_the_frames_within_one_grey_level(plain, settings):
    exact = frames(plain, guidance=5.0)
    pipe = load_pipeline("tiny", device="cpu", speed=SpeedSettings(**settings))
    assert pipe.gendisco_info["speed"] == settings
    fast = frames(pipe, guidance=5.0)
    assert fast.shape == exact.shape
    assert np.abs(fast.astype(int) - exact).max() <= 1


def test_the_settings_reach_the_model(plain):
    from diffusers.models.attention_processor import AttnProcessor, FusedAttnProcessor2_0

    math = load_pipeline("tiny", device="cpu", speed=SpeedSettings(attention="math"))
    assert {type(p) for p in math.unet.attn_processors.values()} == {AttnProcessor}
    fused = load_pipeline("tiny", device="cpu", speed=SpeedSettings(fused_qkv=True))
    assert {type(p) for p in fused.unet.attn_processors.values()} == {FusedAttnProcessor2_0}
    nhwc = load_pipeline("tiny", device="cpu", speed=SpeedSettings(channels_last=True))
    weight = nhwc.unet.conv_in.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


def test_overlapped_decoding_hands_every_batch_over_in_order(plain):
    pipe = load_pipeline("tiny", device="cpu", speed=SpeedSettings(overlap_decode=True))
    batches = list(
        generate_frames(
            pipe,
            **PROMPTS,
            seed_a=3,
            seed_b=11,
            embed_mix=np.linspace(0, 1, 7),
            noise_mix=np.linspace(0, 1, 7),
            width=64,
            height=64,
            steps=2,
            guidance=0.0,
            batch_size=3,
        )
    )
    assert [len(b) for b in batches] == [3, 3, 1]
    assert np.array_equal(np.concatenate(batches), frames(plain, count=7))


@pytest.mark.parametrize("model", ["tiny", "random:tiny", "tiny-sdxl"])
def test_the_split_unet_is_the_unets_own_forward(model):
    pipe = load_pipeline(model, device="cpu")
    unet = pipe.unet
    torch.manual_seed(0)
    sample = torch.randn(2, unet.config.in_channels, 8, 8)
    states = torch.randn(2, 77, unet.config.cross_attention_dim)
    extra = {}
    if unet.config.addition_embed_type == "text_time":
        pooled = unet.config.projection_class_embeddings_input_dim - 6 * 8
        extra["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, pooled),
            "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2),
        }
    t = torch.tensor(500)
    with torch.inference_mode():
        own = unet(sample, t, encoder_hidden_states=states, return_dict=False, **extra)[0]
        split, deep = unet_parts(unet, sample, t, states, **extra)
        again, _ = unet_parts(unet, sample, t, states, deep=deep, **extra)
    assert torch.allclose(own, split, atol=1e-5)
    assert torch.equal(split, again)  # given its own deep features, the same prediction


def _deep_rows(pipe) -> list[int]:
    """The latents that pass the UNet's mid block (the deepest), counted per call."""
    seen: list[int] = []
    pipe.unet.mid_block.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    return seen


def test_feature_reuse_is_close_to_the_exact_frames_with_fewer_deep_passes(plain):
    # a multi-step model, one second (24 frames) of a six-second transition: neighbouring
    # frames differ by 3.6 grey levels on average
    request = dict(count=24, steps=4, span=1 / 6)
    # (the untrained model, on which the README's numbers were measured)
    exact_pipe = load_pipeline("random:tiny", device="cpu", scheduler="ddim")
    exact_deep = _deep_rows(exact_pipe)
    exact = frames(exact_pipe, batch_size=8, **request)
    reuse_pipe = load_pipeline(
        "random:tiny", device="cpu", scheduler="ddim", speed=SpeedSettings(feature_reuse=2)
    )
    reuse_deep = _deep_rows(reuse_pipe)
    reused = frames(reuse_pipe, batch_size=8, **request)
    fidelity = psnr(reused, exact)
    print(f"\nfeature_reuse=2: PSNR {fidelity:.1f} dB against the exact frames")
    assert fidelity >= 35.0
    assert not np.array_equal(reused, exact)  # it did skip work
    assert sum(exact_deep) == 24 * 4
    assert sum(reuse_deep) == 12 * 4  # every other frame through the deep blocks
    # anchors are frames of the clip, not of the batch: the batch size changes nothing
    other_batches = frames(reuse_pipe, batch_size=5, **request)
    assert np.abs(other_batches.astype(int) - reused).max() <= 1
    # anchor frames themselves are exact
    assert np.abs(reused[::2].astype(int) - exact[::2]).max() <= 1


def test_feature_reuse_keeps_guided_halves_apart_on_sdxl():
    # with guidance each frame is two UNet rows (unconditional, conditional): each reuses
    # its own anchor row
    request = dict(count=24, steps=4, span=1 / 6, guidance=5.0)
    exact_pipe = load_pipeline("tiny-sdxl", device="cpu", scheduler="ddim")
    exact = frames(exact_pipe, batch_size=8, **request)
    pipe = load_pipeline(
        "tiny-sdxl", device="cpu", scheduler="ddim", speed=SpeedSettings(feature_reuse=2)
    )
    reused = frames(pipe, batch_size=8, **request)
    assert psnr(reused, exact) >= 35.0  # 38.6 dB measured
    reuse = pipe.gendisco_feature_reuse
    assert reuse.deep_rows == reuse.reused_rows == 24 * 4  # 48 rows per step, half deep
    assert np.abs(frames(pipe, batch_size=5, **request).astype(int) - reused).max() <= 1


def test_fp8_on_the_cpu_is_one_clear_line():
    with pytest.raises(UserError) as raised:
        load_pipeline("tiny", device="cpu", speed=SpeedSettings(fp8=True))
    message = str(raised.value)
    assert "fp8 needs an NVIDIA GPU" in message and "cpu" in message
    assert "\n" not in message


def test_settings_that_cannot_go_together_are_refused():
    with pytest.raises(ValueError, match="fused_qkv needs attention: sdpa"):
        SpeedSettings(fused_qkv=True, attention="math")
    with pytest.raises(ValueError, match="cannot be compiled"):
        SpeedSettings(feature_reuse=2, compile="default")
    with pytest.raises(UserError, match="unknown setting 'fusedqkv'"):
        with_overrides(SpeedSettings(), ["fusedqkv=on"])
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        with_overrides(SpeedSettings(), ["fused_qkv"])
    with pytest.raises(UserError, match=r"--speed attention: .*'sdpa' or 'math'"):
        with_overrides(SpeedSettings(), ["attention=flash"])
    with pytest.raises(UserError, match="--compile 'fast'"):
        compile_settings(SpeedSettings(), "fast")
    settings = with_overrides(SpeedSettings(), ["fused-qkv=on", "feature_reuse=3"])
    assert settings.fused_qkv is True and settings.feature_reuse == 3
    assert compile_settings(settings.model_copy(update={"feature_reuse": 0}), True).compile == (
        "default"
    )


def _project(folder: Path, song: Path, speed: dict | None) -> Path:
    document = {
        "song": str(song),
        "model": "tiny",
        "width": 64,
        "height": 64,
        "intervals": [{"start": 0, "end": 1, "hold": {"prompt": "a disco ball"}}],
    }
    if speed is not None:
        document["speed"] = speed
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_only_pixel_changing_settings_enter_the_cache_key(tmp_path, make_wav):
    song = make_wav(seconds=2)
    plain = pixel_settings(load_project(_project(tmp_path, song, None)), "tiny")
    assert "speed" not in plain  # projects without `speed:` keep their clips
    faster = load_project(_project(tmp_path, song, {"fused_qkv": True, "compile": "default"}))
    assert pixel_settings(faster, "tiny") == plain
    reused = load_project(_project(tmp_path, song, {"feature_reuse": 2}))
    assert pixel_settings(reused, "tiny")["speed"] == {"feature_reuse": 2}
    off = load_project(_project(tmp_path, song, {"feature_reuse": 1}))
    assert pixel_settings(off, "tiny") == plain


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "GENDISCO_CACHE_DIR": str(cwd / "cache"), "GENDISCO_DEBUG": ""},
        timeout=300,
    )


def test_bad_speed_settings_are_one_line_errors(tmp_path, make_wav):
    song = make_wav(seconds=2)
    project = _project(tmp_path, song, {"compile": "fast", "fused_qkv": "maybe"})
    done = _cli("validate", str(project), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any("speed.compile: must be one of" in line and "max-autotune" in line for line in lines)
    assert any("speed.fused_qkv:" in line for line in lines)
    assert all(line.startswith("error:") for line in lines)
    assert "Traceback" not in done.stderr
    good = _project(tmp_path, song, None)
    for args, expected in (
        (("--speed", "fp9=on"), "unknown setting 'fp9'"),
        (("--compile", "fast"), "--compile"),
        (("--speed", "fp8=on"), "fp8 needs an NVIDIA GPU"),
    ):
        done = _cli("render", str(good), "--device", "cpu", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error:") and expected in line


def test_bare_compile_means_the_default_mode():
    from gendisco.cli import expand_bare_ray

    assert expand_bare_ray(["render", "p.yaml", "--compile"])[-1] == "default"
    assert expand_bare_ray(["render", "--compile", "p.yaml"])[:4] == [
        "render",
        "--compile",
        "default",
        "p.yaml",
    ]
    assert expand_bare_ray(["render", "p.yaml", "--compile", "max-autotune"])[-1] == (
        "max-autotune"
    )
    # a misspelt mode stays, so that click names the modes in its one-line error
    assert expand_bare_ray(["render", "p.yaml", "--compile", "fast"])[-1] == "fast"


def test_a_render_with_feature_reuse_gets_clips_of_its_own(tmp_path, make_wav):
    song = make_wav(seconds=2)
    project = _project(tmp_path, song, None)
    clips = tmp_path / "renders" / "project" / "clips"
    assert _cli("render", str(project), "--quiet", cwd=tmp_path).returncode == 0
    plain = {path.name for path in clips.glob("*.mp4")}
    done = _cli("render", str(project), "--quiet", "--speed", "feature_reuse=2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reused = {path.name for path in clips.glob("*.mp4")} - plain
    assert len(reused) == len(plain) == 1  # rendered again, beside the exact clip
    again = _cli("render", str(project), "--quiet", "--speed", "feature_reuse=2", cwd=tmp_path)
    assert again.returncode == 0
    assert {path.name for path in clips.glob("*.mp4")} == plain | reused  # cached now
