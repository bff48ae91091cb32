"""What every benchmark shares: its section of BENCHMARKS.md, the machine and library versions
it ran with, and its raw rows under `benchmarks/results/NAME.json`, so any number in a table
can be traced to the run that produced it."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
RESULTS_DIR = ROOT / "benchmarks" / "results"
PACKAGES = ("gendisco", "torch", "diffusers", "transformers", "librosa", "av", "numpy", "ray")


def write_section(name: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the text between `<!-- name -->` and `<!-- /name -->`, or append it."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{text}\n{end}"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_name() -> str | None:
    if "torch" not in sys.modules:  # never import torch just to describe the machine
        return None
    torch = sys.modules["torch"]
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()


def _commit() -> str:
    """HEAD, marked when tracked files differ from it: the numbers then come from code that
    no commit holds."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes" if changed else head


def environment(command: str | None = None) -> dict[str, Any]:
    """The machine, date, versions and command of this run (JSON-ready)."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    gpu = _gpu_name()
    return {
        "command": command or " ".join(["python", *sys.argv]),
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "commit": _commit(),
    }


def describe(env: dict[str, Any]) -> str:
    """One line for a table's header: command, machine, date and versions."""
    machine = env["gpu"] or f"{env['cpu']} ({env['cores']} cores)"
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return f"`{env['command']}` on {machine}, {env['date']} (commit {env['commit']}); {versions}."


def write_results(name: str, rows: list[Any], env: dict[str, Any], **extra: Any) -> Path:
    """The raw rows of a run as `benchmarks/results/NAME.json`, beside its table."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"environment": env, **extra, "rows": rows}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
