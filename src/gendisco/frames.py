"""`--frames`: the video as a PNG sequence in OUTPUT/frames/, kept in step with the clips.

PNGs are named by their global frame index (`video.png_path`). A record beside the folder
(OUTPUT/frames.json, so the folder holds the PNGs and nothing else) names the clip whose
frames each range of PNGs holds, so PNGs left by an
older version of an interval (edited and rendered again, perhaps without `--frames`) are
made again rather than mistaken for current, and PNGs that no longer belong to the video (it
got shorter) are removed after a complete render.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from gendisco.video import png_path, write_file_atomically

RECORD_NAME = "frames.json"
_PNG_NAME = re.compile(r"^(\d{6,})\.png$")


class FrameRange(Protocol):
    """What the record needs to know of a clip (`render.ClipPlan` has it)."""

    path: Path
    first_frame: int
    frame_count: int


def _indices(clip: FrameRange) -> range:
    return range(clip.first_frame, clip.first_frame + clip.frame_count)


def _without(record: dict[str, list[int]], clips: list[FrameRange]) -> dict[str, list[int]]:
    """The record less every entry whose frames overlap one of `clips`."""
    return {
        name: span
        for name, span in record.items()
        if all(
            span[0] + span[1] <= clip.first_frame or span[0] >= clip.first_frame + clip.frame_count
            for clip in clips
        )
    }


class FramesRecord:
    """Which clip wrote which PNGs of `folder`: {clip file name: [first frame, count]}."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder.parent / RECORD_NAME
        self.clips = self._read()
        self._lock = threading.Lock()  # clips are recorded from their encoders' threads

    def _read(self) -> dict[str, list[int]] | None:
        """None where there is no record (frames written before it existed, or a record
        that cannot be read): the PNGs there are then taken as they are, once."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        try:
            return {str(name): [int(first), int(count)] for name, (first, count) in data.items()}
        except (AttributeError, TypeError, ValueError):  # not the shape it is written in
            return None

    def current(self, clip: FrameRange) -> bool:
        """Whether every PNG of `clip` is there and holds this clip's frames."""
        if any(not png_path(self.folder, index).exists() for index in _indices(clip)):
            return False
        if self.clips is None:
            return True
        return self.clips.get(clip.path.name) == [clip.first_frame, clip.frame_count]

    def release(self, clips: Iterable[FrameRange]) -> None:
        """Before these clips' PNGs are written: the ranges they cover belong to no clip
        until each is done (a render stopped half way leaves PNGs of two versions)."""
        self._write(_without(self.clips or {}, list(clips)))

    def made(self, clip: FrameRange) -> None:
        """All of `clip`'s PNGs are written: its range is its own (the clip itself is
        checked on disk before the record is read, so it may be recorded first)."""
        with self._lock:
            record = _without(self.clips or {}, [clip])
            self._write({**record, clip.path.name: [clip.first_frame, clip.frame_count]})

    def adopt(self, clips: Iterable[FrameRange]) -> None:
        """Without a record, take the clips whose PNGs are all there as their makers."""
        if self.clips is None:
            current = [clip for clip in clips if self.current(clip)]
            self._write({clip.path.name: [clip.first_frame, clip.frame_count] for clip in current})

    def keep_only(self, clips: Iterable[FrameRange], first_frame: int, frame_count: int) -> None:
        """After a complete render: forget clips that are not in the video and remove PNGs
        outside its frames (first_frame .. first_frame + frame_count - 1)."""
        names = {clip.path.name for clip in clips}
        self._write({k: v for k, v in (self.clips or {}).items() if k in names})
        for path in self.folder.iterdir():
            match = _PNG_NAME.match(path.name)
            if match and not first_frame <= int(match.group(1)) < first_frame + frame_count:
                path.unlink(missing_ok=True)

    def _write(self, record: dict[str, list[int]]) -> None:
        self.clips = record
        text = json.dumps(dict(sorted(record.items(), key=lambda item: item[1])), indent=1)
        write_file_atomically(self.path, (text + "\n").encode())


def write_gap_pngs(folder: Path, first_frame: int, frame_count: int) -> None:
    """A gap's PNG frames: the held frame's PNG (the one before the gap) again at each of the
    gap's indices, so the sequence has no hole. Rewritten when the held frame changed (its
    interval was edited); left for later when the held frame was not written yet (its
    interval left out)."""
    held = png_path(folder, first_frame - 1)
    if not held.exists():
        return
    data = held.read_bytes()
    for index in range(first_frame, first_frame + frame_count):
        path = png_path(folder, index)
        if not path.exists() or path.read_bytes() != data:
            write_file_atomically(path, data)
