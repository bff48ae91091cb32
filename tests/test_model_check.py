"""Models are checked before the long wait: a missing path, a model that cannot be downloaded,
a device that is not there or a bad dtype fail at once, in one line, before the song is
analysed or a model loaded. `validate` only warns, and stays torch-free."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gendisco import model_check
from gendisco.errors import ModelError, ModelPathError, UserError
from gendisco.model_check import check_model, model_warnings
from gendisco.project import load_project

REPO_ROOT = Path(__file__).resolve().parents[1]
# A hub that refuses connections at once: the offline case, on any machine.
CLOSED_HUB = "http://127.0.0.1:9"
NOT_DOWNLOADED = "someone-else/not-downloaded-model"

PROJECT = """\
song: song.wav
output: out
model: {model}
width: 64
height: 64
fps: 4
intervals:
  - {{start: 0, end: 2, hold: {{prompt: "a disco ball", seed: 3}}}}
"""


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> dict[str, str]:
    """An empty Hugging Face cache and an unreachable hub, for this process and children."""
    env = {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
        "HF_ENDPOINT": CLOSED_HUB,
        "HF_HUB_OFFLINE": "",
        "HTTPS_PROXY": "",
        "https_proxy": "",
        "ALL_PROXY": "",
        "GENDISCO_CACHE_DIR": str(tmp_path / "analysis"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(model_check, "_hub_unreachable", False)
    return env


def project_file(folder: Path, make_wav, model: str = "tiny") -> Path:
    make_wav("song.wav", seconds=3)
    path = folder / "project.yaml"
    path.write_text(PROJECT.format(model=model))
    return path


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "GENDISCO_DEBUG": "", **env},
        timeout=120,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_missing_model_path_or_a_ckpt_is_the_users_mistake_before_any_work(
    tmp_path, make_wav, empty_hub
):
    project = project_file(tmp_path, make_wav)
    (tmp_path / "old.ckpt").write_bytes(b"pickled weights")
    for model, words in (
        (str(tmp_path / "models" / "mine.safetensors"), "does not exist"),
        (str(tmp_path / "old.ckpt"), "safetensors only"),
        (str(tmp_path), "no model_index.json"),
    ):
        result = run_cli("render", str(project), "--model", model, env=empty_hub, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == error_lines(result.stderr), result.stderr
        assert len(error_lines(result.stderr)) == 1 and words in result.stderr
        assert not (tmp_path / "out").exists(), "nothing may be started for a bad model"


BUILT_IN = "tiny, tiny-sdxl, random:tiny, random:sd15, random:sd-turbo, random:sdxl"


def test_a_mistyped_built_in_model_is_caught_before_any_work(tmp_path, make_wav, empty_hub):
    project = project_file(tmp_path, make_wav, model="tiny2")
    # validate warns, as for any model it cannot find (--model may still override it) ...
    checked = run_cli("validate", str(project), env=empty_hub, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines() == [
        f"warning: {project}: unknown built-in model 'tiny2' (did you mean tiny?); "
        f"built-in: {BUILT_IN}"
    ]
    # ... and render stops before the song is analysed, as a user's mistake
    for model, expected in (("tiny2", "tiny"), ("random:sd-15", "random:sd15")):
        result = run_cli("render", str(project), "--model", model, env=empty_hub, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"error: unknown built-in model {model!r} (did you mean {expected}?); "
            f"built-in: {BUILT_IN}"
        ]
        assert not (tmp_path / "out").exists()
    # a hub id or a local folder whose name starts with "tiny" is what it says
    assert model_check.locate_model("tiny-org/sd-model").kind == "hub"
    (tmp_path / "tiny-model").mkdir()
    (tmp_path / "tiny-model" / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline"}'
    )
    project.write_text(PROJECT.format(model="tiny-model"))
    assert load_project(project).model == str(tmp_path / "tiny-model")
    assert model_check.locate_model(str(tmp_path / "tiny-model")).kind == "folder"


def test_a_model_folder_beside_the_project_renders_from_any_folder(tmp_path, make_wav, empty_hub):
    """`model: ./models/mine` means the folder next to the project file, as `song:` does,
    wherever `gendisco` runs from; `--model` stays relative to where the command runs."""
    import av

    from gendisco.tinymodel import WEIGHTS

    project_dir = tmp_path / "video"
    project_dir.mkdir()
    shutil.copytree(WEIGHTS, project_dir / "models" / "mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    make_wav("song.wav", seconds=3)
    shutil.move(tmp_path / "song.wav", project_dir / "song.wav")
    project = project_dir / "project.yaml"
    project.write_text(PROJECT.format(model="./models/mine"))

    result = run_cli("render", str(project), "--quiet", env=empty_hub, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    with av.open(str(project_dir / "out" / "final.mp4")) as video:
        assert video.streams.video[0].frames == 8  # 2 s at 4 fps
    missing = run_cli(
        "render", str(project), "--model", "./models/mine", env=empty_hub, cwd=elsewhere
    )
    assert missing.returncode == 2
    assert error_lines(missing.stderr) == [
        f"error: model path {elsewhere.resolve() / 'models' / 'mine'} does not exist"
    ], missing.stderr


def test_a_model_folder_with_a_broken_model_index_is_one_line_exit_2(tmp_path, make_wav, empty_hub):
    from gendisco.models import load_pipeline

    folder = tmp_path / "my-model"
    folder.mkdir()
    for index in (b"[1, 2]", b"\xff\xfe"):  # not an object; not text
        (folder / "model_index.json").write_bytes(index)
        with pytest.raises(ModelPathError) as raised:
            load_pipeline(str(folder), device="cpu")
        assert "model_index.json" in str(raised.value) and "\n" not in str(raised.value)
    (folder / "model_index.json").write_text("{not json")
    project = project_file(tmp_path, make_wav)
    result = run_cli("render", str(project), "--model", str(folder), env=empty_hub, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "model_index.json" in lines[0], result.stderr


def test_a_hub_model_that_cannot_be_downloaded_fails_in_a_second_with_how_to_get_it(
    empty_hub,
):
    started = time.perf_counter()
    with pytest.raises(ModelError) as raised:
        check_model(NOT_DOWNLOADED)
    # huggingface_hub's own retries (1 + 2 + 4 + 8 + 8 s) would take 23 s
    assert time.perf_counter() - started < 5
    message = str(raised.value)
    assert not isinstance(raised.value, UserError)  # a download failure: exit 1
    assert f"'{NOT_DOWNLOADED}' is not in the Hugging Face cache" in message
    assert "cannot be reached" in message and f"hf download {NOT_DOWNLOADED}" in message
    assert "\n" not in message
    assert model_check.offline_mode(), "later loads must read the cache only, not retry"


def test_hf_hub_offline_fails_at_once_and_names_the_variable(tmp_path, empty_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE=1 forbids downloading it"):
        check_model(NOT_DOWNLOADED)
    check_model("tiny", vae="tiny")  # built in: nothing to download
    for class_name, decoder in (
        ("StableDiffusionPipeline", "madebyollin/taesd'"),
        ("StableDiffusionXLPipeline", "madebyollin/taesdxl'"),
    ):
        folder = tmp_path / class_name
        folder.mkdir()
        (folder / "model_index.json").write_text(f'{{"_class_name": "{class_name}"}}')
        assert check_model(str(folder)).kind == "folder"
        with pytest.raises(ModelError, match=decoder):  # vae: tiny needs its TAESD decoder
            check_model(str(folder), vae="tiny")


def test_render_offline_says_how_to_download_without_retry_chatter(tmp_path, make_wav, empty_hub):
    project = project_file(tmp_path, make_wav, model=NOT_DOWNLOADED)
    result = run_cli("render", str(project), env=empty_hub, cwd=tmp_path)
    assert result.returncode == 1
    assert "Retrying" not in result.stderr and "thrown while requesting" not in result.stderr
    assert "analyze:" not in result.stderr, "the song must not be analysed first"
    assert result.stderr.splitlines() == [
        f"error: model '{NOT_DOWNLOADED}' is not in the Hugging Face cache and 127.0.0.1 cannot "
        f"be reached to download it (no network); download it with `hf download "
        f"{NOT_DOWNLOADED}` where the network is reachable (then copy the Hugging Face "
        "cache, HF_HOME, to this machine); for a quick look at the timing meanwhile: "
        f"`gendisco render {project} --draft` (the built-in tiny model, offline)"
    ]
    # The draft it points to needs no download; a draft of the missing model itself fails
    # with the download line alone.
    draft = run_cli("render", str(project), "--draft", "--quiet", env=empty_hub, cwd=tmp_path)
    assert draft.returncode == 0, draft.stderr
    assert Path(draft.stdout.strip()).name == "final.mp4"
    own = run_cli(
        "render", str(project), "--draft", "--model", NOT_DOWNLOADED, env=empty_hub, cwd=tmp_path
    )
    assert own.returncode == 1
    (line,) = own.stderr.splitlines()
    assert line.endswith("(then copy the Hugging Face cache, HF_HOME, to this machine)")


def test_preview_without_a_model_names_its_default_and_the_offline_one(tmp_path, empty_hub):
    result = run_cli("preview", "a neon city", env=empty_hub, cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: model 'stabilityai/sd-turbo' (preview's default)")
    assert "hf download stabilityai/sd-turbo" in line and "`--model tiny`" in line
    assert not list(tmp_path.glob("*.png"))


def test_device_and_dtype_mistakes_come_before_the_analysis(tmp_path, make_wav, empty_hub):
    import torch

    project = project_file(tmp_path, make_wav)
    bad_dtype = run_cli("render", str(project), "--dtype", "int8", env=empty_hub, cwd=tmp_path)
    assert bad_dtype.returncode == 2
    assert bad_dtype.stderr.splitlines() == [
        "error: --dtype: 'int8' is not one of 'fp16', 'bf16', 'fp32' (see `gendisco render --help`)"
    ]
    helped = run_cli("render", "--help", env=empty_hub, cwd=tmp_path)
    assert "--dtype [fp16|bf16|fp32]" in helped.stdout
    if torch.cuda.is_available():
        return
    no_gpu = run_cli("render", str(project), "--device", "cuda", env=empty_hub, cwd=tmp_path)
    assert no_gpu.returncode == 2
    assert "analyze:" not in no_gpu.stderr and "load:" not in no_gpu.stderr
    assert error_lines(no_gpu.stderr) == [
        "error: device 'cuda' was asked for, but this torch build sees no CUDA GPU"
    ]
    assert not (tmp_path / "out").exists()


def test_validate_warns_about_a_model_it_cannot_find_and_stays_torch_free(
    tmp_path, make_wav, empty_hub
):
    project = project_file(tmp_path, make_wav, model=NOT_DOWNLOADED)
    code = (
        "import sys\n"
        "from gendisco.cli import app\n"
        "try:\n"
        "    app(['validate', sys.argv[1]])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "print('heavy:', sorted(m for m in ('torch', 'diffusers') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, **empty_hub},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{project}: ok (1 interval, 0:00.0-0:02.0, model {NOT_DOWNLOADED})",
        "heavy: []",
    ]
    assert result.stderr.splitlines() == [
        f"warning: {project}: model '{NOT_DOWNLOADED}' is not in the Hugging Face cache yet; "
        f"`gendisco render` downloads it (or run `hf download {NOT_DOWNLOADED}` now)"
    ]


def test_model_warnings_cover_paths_and_the_tiny_vae(tmp_path, empty_hub):
    assert model_warnings("tiny") == []
    assert model_warnings("tiny", vae="tiny") == []
    (missing,) = model_warnings(str(tmp_path / "nope"))
    assert "does not exist" in missing
    warnings = model_warnings(NOT_DOWNLOADED, vae="tiny")
    assert len(warnings) == 2 and "vae: tiny" in warnings[1]
    with pytest.raises(ModelPathError, match="nor a valid Hugging Face repo id"):
        check_model("not a/valid/repo id")


@pytest.mark.parametrize(
    ("model", "said"),
    [
        ("~no-such-user-zz/sd-model", "cannot be used"),
        ("./" + "m" * 300, "cannot be used (File name too long)"),
        ("m" * 5000, "neither an existing file or folder nor a valid Hugging Face repo id"),
    ],
)
def test_model_names_no_file_can_have_are_warnings_not_crashes(empty_hub, model, said):
    (warning,) = model_warnings(model)
    assert said in warning and "\n" not in warning
    with pytest.raises(ModelPathError, match=said.split(" (")[0]):
        check_model(model)
