"""`gendisco clean`: remove the clips a project no longer uses.

A clip's name hashes everything that decides its pixels, so every edit to a project leaves
the clips of the old version behind in OUTPUT/clips/. The project's current plan (and its
draft's, in OUTPUT/draft/clips/) names the clips in use, exactly as `gendisco render` would;
every other clip file goes, and so do half-written files. Files that are not named like clips
are never touched. Each output folder's lock (`gendisco.lock.OutputLock`) is held while it is
cleaned, so a clean never races a render.

    result = clean_project("project.yaml", dry_run=True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gendisco.lock import LockHolder, OutputLock
from gendisco.project import Project, load_project
from gendisco.rendering import draft_project, plan_render

__all__ = ["CleanResult", "clean_project", "unused_files"]

# What render writes into clips/: NNN-CC-KEY.mp4 (interval NNN, chunk CC) and NNN-gap-KEY.mp4,
# and `.NAME.part` while a file is being written.
CLIP_NAME = re.compile(r"^\d{3,}-(\d{2,}|gap)-[0-9a-f]{16}\.mp4$")
PARTIAL_NAME = re.compile(r"^\..+\.part$")


@dataclass
class CleanResult:
    """What was removed (or, with `dry_run`, would be) and what stays."""

    removed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # clips the project uses
    bytes_freed: int = 0
    dry_run: bool = False


def unused_files(clips_dir: Path, used: set[Path]) -> tuple[list[Path], list[Path]]:
    """(clip files and partial files in `clips_dir` not in `used`, clip files in `used`)."""
    unused, kept = [], []
    if not clips_dir.is_dir():
        return unused, kept
    for path in sorted(clips_dir.iterdir()):
        if not path.is_file():
            continue
        if path in used:
            kept.append(path)
        elif CLIP_NAME.match(path.name) or PARTIAL_NAME.match(path.name):
            unused.append(path)
    return unused, kept


def clean_project(
    project: Project | str | Path,
    *,
    model: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    on_wait: Callable[[LockHolder | None], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> CleanResult:
    """Remove the clips in the project's output folder (and its draft folder) that neither
    `gendisco render` nor `gendisco render --draft` of the project, with `model` if given,
    would use. With `dry_run`, only report them.

    Reads the song's analysis (cached per file content) because boundaries snapped to beats
    name the clips. Raises `OutputBusy` when a render holds a folder (unless `wait`).
    """
    from gendisco.audio import analyze

    if not isinstance(project, Project):
        project = load_project(project)
    say = status or (lambda message: None)
    say(f"analysing {project.song.name}")
    analysis = analyze(project.song)
    result = CleanResult(dry_run=dry_run)
    for version in (project, draft_project(project, model=model)):
        clips_dir = version.output / "clips"
        if not clips_dir.is_dir():
            continue  # never rendered: nothing to clean, and no folder to create for a lock
        with OutputLock(version.output, wait=wait, on_wait=on_wait):
            plan = plan_render(version, analysis, model=model if version is project else None)
            unused, kept = unused_files(clips_dir, {clip.path for clip in plan.clips})
            for path in unused:
                result.bytes_freed += path.stat().st_size
                if not dry_run:
                    path.unlink(missing_ok=True)
            result.removed += unused
            result.kept += kept
    return result
