"""The built-in tiny models, frame generation and model loading, on the CPU (64x64, 2 steps)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from frame_checks import (
    GPU_SPEED_CASES,
    committed_gpu_fps,
    controls,
    same_frames_in_lower_precision,
    speed_label,
)
from gendisco.errors import ModelError, UserError
from gendisco.models import (
    SCHEDULERS,
    describe_pipeline,
    generate_frames,
    generate_images,
    load_pipeline,
    resolve_device,
    resolve_dtype,
)
from gendisco.models.architectures import build_random

SIZE = dict(width=64, height=64, steps=2)


@pytest.fixture(scope="module")
def tiny():
    return load_pipeline("tiny", device="cpu")


@pytest.fixture(scope="module")
def tiny_sdxl():
    return load_pipeline("tiny-sdxl", device="cpu")


def frames(pipe, **kwargs) -> np.ndarray:
    options = dict(
        prompt_a="a red cube on a table",
        prompt_b="a blue sphere in the sky",
        seed_a=3,
        seed_b=11,
        embed_mix=np.linspace(0, 1, 5),
        noise_mix=np.linspace(0, 1, 5),
        guidance=0.0,
        **SIZE,
    )
    options.update(kwargs)
    return np.concatenate(list(generate_frames(pipe, **options)))


def test_tiny_builds_in_well_under_a_second_with_the_same_weights_each_time(tiny):
    started = time.perf_counter()
    again = load_pipeline("tiny", device="cpu")
    assert time.perf_counter() - started < 1.0
    for name in ("unet", "vae", "text_encoder"):
        ours = getattr(tiny, name).state_dict()
        theirs = getattr(again, name).state_dict()
        assert all(torch.equal(ours[key], theirs[key]) for key in ours), name
    assert again.vae_scale_factor == 16  # the trained tiny draws in 16-pixel blocks
    assert again.tokenizer.model_max_length == 77


def test_frames_are_uint8_rgb_in_frame_order_and_repeatable(tiny):
    first = frames(tiny, batch_size=2)
    assert first.shape == (5, 64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, frames(tiny, batch_size=2))
    # the picture moves from one end to the other: neighbours are closer than the ends
    step = np.abs(first[1].astype(int) - first[0]).mean()
    span = np.abs(first[4].astype(int) - first[0]).mean()
    assert 0 < step < span


def test_positions_zero_and_one_give_exactly_the_two_keyframes(tiny):
    moving = frames(tiny, batch_size=1)
    ends = generate_images(
        tiny,
        prompts=["a red cube on a table", "a blue sphere in the sky"],
        seeds=[3, 11],
        guidance=0.0,
        batch_size=1,
        **SIZE,
    )
    assert np.array_equal(moving[0], ends[0])
    assert np.array_equal(moving[-1], ends[1])
    assert not np.array_equal(moving[2], ends[0])
    assert not np.array_equal(moving[2], ends[1])


def test_embedding_and_noise_positions_act_separately(tiny):
    only_text = frames(tiny, noise_mix=np.zeros(5), batch_size=5)
    only_noise = frames(tiny, embed_mix=np.zeros(5), batch_size=5)
    assert not np.array_equal(only_text[-1], only_noise[-1])
    assert np.array_equal(only_text[0], only_noise[0])


def test_batch_size_does_not_change_the_pixels(tiny):
    one = frames(tiny, batch_size=1)
    five = frames(tiny, batch_size=5)
    three = frames(tiny, batch_size=3)
    # float summation order may differ between batch shapes: one grey level at most
    assert np.abs(one.astype(int) - five).max() <= 1
    assert np.abs(one.astype(int) - three).max() <= 1


def test_guidance_runs_only_above_one_and_uses_the_negative_prompt(tiny):
    plain = frames(tiny, guidance=0.0, batch_size=5)
    assert np.array_equal(plain, frames(tiny, guidance=1.0, batch_size=5))
    guided = frames(tiny, guidance=6.0, batch_size=5)
    assert guided.shape == plain.shape
    assert np.abs(guided.astype(int) - plain).mean() > 1
    other_negative = frames(tiny, guidance=6.0, negative="blurry, text", batch_size=5)
    assert not np.array_equal(guided, other_negative)


def test_bfloat16_on_the_cpu(tiny):
    pipe = load_pipeline("tiny", device="cpu", dtype="bf16")
    assert pipe.unet.dtype == torch.bfloat16
    assert pipe.text_encoder.dtype == torch.bfloat16
    assert describe_pipeline(pipe)["dtype"] == "bfloat16"
    low = frames(pipe, guidance=4.0, batch_size=5)
    assert low.shape == (5, 64, 64, 3) and low.dtype == np.uint8
    # the same model in lower precision: the same frames, not identical ones
    full = frames(tiny, guidance=4.0, batch_size=5)
    assert not np.array_equal(low, full)
    assert same_frames_in_lower_precision(low, full)
    # the criterion is tight enough to tell: a flat grey picture and the frames in reverse
    # order are not the fp32 frames
    for name, control in controls(full).items():
        assert not same_frames_in_lower_precision(control, full), name


def test_the_gpu_speed_tests_find_their_committed_numbers():
    for model, size, steps, guidance, vae, batch in GPU_SPEED_CASES:
        label = speed_label(model, size, steps, guidance)
        assert committed_gpu_fps(label, vae, batch) is not None, (label, vae, batch)
    table = (
        "<!-- model-speed-cuda -->\n| model | vae | batch | frames/s |\n|---|---|---|---|\n"
        "| random:sd-turbo 512px 1 step | tiny | 16 | 201.8 | 4.8 |\n"
        "| random:sd-turbo 512px 1 step | tiny | 32 | 223.4 | 7.3 |\n<!-- /model-speed-cuda -->"
    )
    assert committed_gpu_fps("random:sd-turbo 512px 1 step", "tiny", 16, table) == 201.8
    assert committed_gpu_fps("random:sd-turbo 512px 1 step", "default", 16, table) is None


def test_tiny_sdxl_mixes_pooled_embeddings_and_guides():
    pipe = load_pipeline("tiny-sdxl", device="cpu")
    assert describe_pipeline(pipe)["architecture"] == "sdxl"
    moving = frames(pipe, batch_size=5)
    ends = generate_images(
        pipe,
        prompts=["a red cube on a table", "a blue sphere in the sky"],
        seeds=[3, 11],
        guidance=0.0,
        batch_size=1,
        **SIZE,
    )
    assert np.abs(moving[0].astype(int) - ends[0]).max() <= 1
    assert np.abs(moving[-1].astype(int) - ends[1]).max() <= 1
    guided = frames(pipe, guidance=5.0, negative="dull", batch_size=5)
    assert not np.array_equal(guided, moving)


def test_zoom_punches_into_the_centre():
    # the untrained model: its busy texture shows where every pixel went
    textured = load_pipeline("random:tiny", device="cpu")
    flat = frames(textured, batch_size=5)
    zoomed = frames(textured, batch_size=5, zoom=[1.0, 2.0, 1.0, 1.0, 1.0])
    assert np.array_equal(zoomed[0], flat[0])
    assert not np.array_equal(zoomed[1], flat[1])
    # zoom 2: the centre 32x32 of the plain frame, twice as large
    centre = torch.from_numpy(flat[1][16:48, 16:48]).permute(2, 0, 1)[None].float()
    expected = torch.nn.functional.interpolate(centre, size=(64, 64), mode="bilinear")
    expected = expected[0].permute(1, 2, 0).numpy()
    assert np.abs(zoomed[1] - expected).mean() < 3
    assert np.abs(flat[1].astype(float) - expected).mean() > 10
    with pytest.raises(ValueError, match="zoom"):
        frames(textured, zoom=[0.5] * 5)


@pytest.mark.parametrize("name", ["euler_a", "ddim", "dpm++", "dpm++_sde", "lcm", "unipc", "lms"])
def test_schedulers_by_short_name_are_deterministic(name):
    pipe = load_pipeline("tiny", device="cpu", scheduler=name)
    assert type(pipe.scheduler).__name__ == SCHEDULERS[name][0]
    assert describe_pipeline(pipe)["scheduler"] == name
    first = frames(pipe, batch_size=5)
    # per-step noise (ancestral, SDE, LCM) is drawn per frame: batching does not matter
    again = frames(pipe, batch_size=2)
    assert np.abs(first.astype(int) - again).max() <= 1


def test_plain_dpm_is_the_multistep_solver_most_interfaces_mean():
    pipe = load_pipeline("tiny", device="cpu", scheduler="dpm")
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert describe_pipeline(pipe)["scheduler"] == "dpm++"


def test_unknown_scheduler_lists_the_known_ones():
    with pytest.raises(UserError) as raised:
        load_pipeline("tiny", scheduler="eulr")
    message = str(raised.value)
    assert "did you mean euler" in message
    assert "dpm++" in message and "unipc" in message


def test_unknown_model_offline_fails_in_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    started = time.perf_counter()
    with pytest.raises(ModelError) as raised:
        load_pipeline("nobody-here/no-such-model", device="cpu")
    assert time.perf_counter() - started < 10
    message = str(raised.value)
    assert "'nobody-here/no-such-model'" in message
    assert "HF_HUB_OFFLINE=1" in message
    assert "hf download nobody-here/no-such-model" in message
    assert "\n" not in message


def test_local_paths_must_exist_and_be_safetensors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_pipeline(str(tmp_path / "missing-model"), device="cpu")
    pickle = tmp_path / "model.ckpt"
    pickle.write_bytes(b"not really")
    with pytest.raises(ModelError, match="safetensors only"):
        load_pipeline(str(pickle), device="cpu")
    with pytest.raises(ModelError, match="model_index.json"):
        load_pipeline(str(tmp_path), device="cpu")
    with pytest.raises(UserError, match="built-in"):
        load_pipeline("random:sd99")


def test_a_saved_diffusers_folder_loads_and_gives_the_same_frames(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny.save_pretrained(tmp_path / "tiny-model")
    loaded = load_pipeline(str(tmp_path / "tiny-model"), device="cpu")
    assert not list((tmp_path / "tiny-model").rglob("*.bin"))
    assert np.array_equal(frames(loaded, batch_size=5), frames(tiny, batch_size=5))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # parameter counts of the published models
        ("random:sd15", {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}),
        (
            "random:sd-turbo",
            {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840},
        ),
        (
            "random:sdxl",
            {
                "unet": 2_567_463_684,
                "vae": 83_653_863,
                "text_encoder": 123_060_480,
                "text_encoder_2": 694_659_840,
            },
        ),
    ],
)
def test_random_architectures_match_the_real_models(name, expected):
    # on the meta device: the architecture without allocating a single weight
    pipe = build_random(name, torch.device("meta"), torch.float16, "default")
    counts = {part: sum(p.numel() for p in getattr(pipe, part).parameters()) for part in expected}
    assert counts == expected
    assert pipe.unet.dtype == torch.float16


def test_device_and_dtype_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            resolve_device("cuda")
        assert resolve_device(None).type in ("mps", "cpu")
    with pytest.raises(UserError):
        resolve_device("tpu-please")
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == torch.float32
    assert resolve_dtype(None, torch.device("cuda")) == torch.float16
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    assert resolve_dtype("fp32", cpu) == torch.float32
    with pytest.raises(UserError, match="fp16, bf16 or fp32"):
        resolve_dtype("int8", cpu)


def test_bad_requests_fail_before_any_frame(tiny):
    with pytest.raises(UserError, match="multiple of 8"):
        generate_frames(tiny, **{**_request(), "width": 60})
    with pytest.raises(ValueError, match="one value per frame"):
        generate_frames(tiny, **{**_request(), "noise_mix": [0.0, 1.0]})
    with pytest.raises(ValueError, match="NaN"):
        generate_frames(tiny, **{**_request(), "embed_mix": [0.0, float("nan"), 1.0]})


def _request() -> dict:
    return dict(
        prompt_a="a",
        prompt_b="b",
        seed_a=0,
        seed_b=1,
        embed_mix=[0.0, 0.5, 1.0],
        noise_mix=[0.0, 0.5, 1.0],
        guidance=0.0,
        **SIZE,
    )


def test_describe_pipeline_is_json_ready(tiny):
    import json

    info = describe_pipeline(tiny)
    assert json.loads(json.dumps(info)) == info
    assert info["model"] == "tiny"
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["vae"] == "default"
    tiny_vae = load_pipeline("tiny", device="cpu", vae="tiny")
    assert describe_pipeline(tiny_vae)["vae"] == "tiny"
    decoded = frames(tiny_vae, batch_size=5)
    assert decoded.shape == (5, 64, 64, 3)


def _unet_batch_sizes(pipe) -> list[int]:
    """Record the batch of every UNet call (the hook stays for the pipeline's lifetime)."""
    seen: list[int] = []
    pipe.unet.register_forward_pre_hook(lambda _module, args: seen.append(args[0].shape[0]))
    return seen


def test_a_compiled_pipeline_gets_one_batch_shape_and_the_same_frames():
    pipe = load_pipeline("tiny", device="cpu")
    seen = _unet_batch_sizes(pipe)
    plain = frames(pipe, batch_size=2)  # 5 frames: batches of 2, 2, 1
    assert seen == [2, 2, 2, 2, 1, 1]  # two steps each
    pipe.gendisco_info["compiled"] = True  # what load_pipeline(compile=True) marks
    seen.clear()
    padded = frames(pipe, batch_size=2)
    assert seen == [2] * 6  # the last frame is padded to a batch of two, then dropped
    assert padded.shape == plain.shape
    assert np.abs(padded.astype(int) - plain).max() <= 1


COMPILE_CHECK = """
import json, numpy as np, torch._dynamo.utils
from gendisco.models import describe_pipeline, generate_frames, load_pipeline

def frames(pipe, embed):
    positions = np.linspace(0, 1, 5)
    return np.concatenate(list(generate_frames(
        pipe, prompt_a="a red cube", prompt_b="a blue sphere", seed_a=3, seed_b=11,
        embed_mix=positions * embed, noise_mix=positions, guidance=0.0, batch_size=2,
        width=64, height=64, steps=2)))

compiled = load_pipeline("tiny", device="cpu", compile=True)
first = frames(compiled, 1.0)  # compiles here
again = frames(compiled, 0.0)  # other positions, same shapes
eager = frames(load_pipeline("tiny", device="cpu"), 1.0)
print(json.dumps({
    "compiled": describe_pipeline(compiled)["compiled"],
    "max_difference": int(np.abs(first.astype(int) - eager).max()),
    "shapes": [list(first.shape), list(again.shape)],
    "graphs": torch._dynamo.utils.counters["stats"]["unique_graphs"],
}))
"""


@pytest.mark.slow
def test_torch_compile_renders_the_same_frames_without_recompiling(tmp_path):
    # in a process of its own: the compiler's worker processes stay out of the test run
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    done = subprocess.run(
        [sys.executable, "-c", COMPILE_CHECK], capture_output=True, text=True, env=env, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["compiled"] is True
    assert result["max_difference"] <= 1  # the README promises one grey level
    assert result["shapes"] == [[5, 64, 64, 3]] * 2
    assert result["graphs"] == 2  # the UNet and the VAE decoder, each compiled once
