"""What every command shares: --help that reads as the user types, one `error:` line per
problem (also for click's own usage errors), --version, words that agree with numbers, and
a `make demo` that installs only what the demo needs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gendisco import wording
from gendisco.cli import DAY_ORDER, app

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "projects" / "demo" / "demo.yaml"


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "GENDISCO_DEBUG": ""},
        timeout=120,
    )


def test_commands_are_listed_in_the_order_of_a_days_work():
    result = run_cli("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: gendisco [OPTIONS] COMMAND")
    listed = re.findall(r"^  (\w+)  ", result.stdout.split("Commands:")[1], flags=re.M)
    day = [name for name in listed if name in DAY_ORDER]
    assert day == [name for name in DAY_ORDER if name in listed]
    assert day[:7] == ["init", "analyze", "brainstorm", "preview", "validate", "render", "schema"]
    assert "clean" in day


@pytest.mark.parametrize("command", DAY_ORDER)
def test_help_shows_arguments_and_values_as_plain_names(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert not re.search(r"\{\w+\}|<[\w\[\], |]+>", result.stdout), result.stdout
    assert "Example: gendisco " in result.stdout


def test_render_help_names_its_values():
    text = CliRunner().invoke(app, ["render", "--help"]).stdout
    assert "render [OPTIONS] PROJECT" in text
    assert "--interval N " in text and "--dtype [fp16|bf16|fp32]" in text
    assert "--model MODEL" in text and "--draft " in text


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"gendisco \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["render", "projects/demo"], "projects/demo: is a folder; give a project file (.yaml), "
         "such as projects/demo/demo.yaml"),
        (["validate", "projects"], "projects: is a folder; give a project file (.yaml)"),
        (["render", "projects/demo/song.ogg"], "projects/demo/song.ogg: is a song, not a project "
         "file; make a project for it with `gendisco init projects/demo/song.ogg`"),
        (["render"], "missing argument 'PROJECT' (see `gendisco render --help`)"),
        (["render", str(DEMO), "--batch-size", "zero"],
         ("--batch-size: ", "valid integer", " (see `gendisco render --help`)")),
        (["rendr"], "no such command 'rendr'. Did you mean 'render'? (see `gendisco --help`)"),
    ],
)  # fmt: skip
def test_usage_mistakes_are_one_error_line_and_exit_2(args, line):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    if isinstance(line, tuple):  # words of the parser's own message may change
        (only,) = result.stderr.splitlines()
        assert only.startswith(f"error: {line[0]}") and only.endswith(line[-1]), only
        assert all(words in only for words in line), only
    else:
        assert result.stderr.splitlines() == [f"error: {line}"]


def test_no_blank_line_before_an_error(tmp_path):
    result = run_cli("render", str(DEMO), "--model", str(tmp_path / "missing.safetensors"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("error: model path ")
    assert "" not in result.stderr.splitlines()


def test_counted_words_agree_with_their_numbers():
    assert [wording.count(n, "hold") for n in (0, 1, 2)] == ["0 holds", "1 hold", "2 holds"]
    assert wording.numbered(1) == "one interval, numbered 0"
    assert wording.numbered(4) == "4 intervals, numbered 0 to 3"
    assert [wording.duration(s) for s in (9.6, 200, 3900)] == ["10 s", "3 min 20 s", "1 h 05 min"]
    assert [wording.size(n) for n in (512, 12_400_000)] == ["512 bytes", "12.4 MB"]


def test_an_unknown_interval_of_a_one_interval_project_is_worded_for_one(tmp_path, make_wav):
    make_wav("song.wav", seconds=4)
    project = tmp_path / "one.yaml"
    project.write_text("song: song.wav\nmodel: tiny\nintervals:\n  - {start: 0, end: 2, "
                       "hold: {prompt: a}}\n")  # fmt: skip
    result = run_cli("render", str(project), "--interval", "3", "--quiet")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --interval 3: the project has one interval, numbered 0"
    ]


def make_dry_run(target: str, venv: Path) -> str:
    return subprocess.run(
        ["make", "-n", target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout


@pytest.mark.skipif(not Path("/usr/bin/make").exists(), reason="needs make")
def test_make_demo_installs_only_what_the_demo_needs(tmp_path):
    demo = make_dry_run("demo", tmp_path / "venv")
    installs = [line for line in demo.splitlines() if "pip install" in line]
    assert installs and not any("[dev" in line or "ray" in line for line in installs), demo
    assert "gendisco render projects/demo/demo.yaml" in demo
    test = make_dry_run("test", tmp_path / "venv")
    assert '-e ".[dev,ray' in test and "pytest" in test


@pytest.mark.parametrize("stop", [KeyboardInterrupt, typer.Abort])
def test_ctrl_c_outside_a_command_exits_130(monkeypatch, capsys, stop):
    # Ctrl-C while the options are parsed or while Ray shuts down reaches main() itself
    from gendisco.cli import entry

    def interrupted(**kwargs):
        raise stop()

    monkeypatch.setattr(entry, "app", interrupted)
    monkeypatch.setattr(sys, "argv", ["gendisco", "render", "p.yaml"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert "Traceback" not in capsys.readouterr().err
