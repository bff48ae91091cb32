"""Contact sheets: one prompt over several seeds, or an interval's start and end keyframes.

A sheet is a grid of tiles, each with a caption underneath (its seed, and for keyframes the
prompt). The PNG also records each tile's box and label in its `gendisco` text chunk (JSON),
so a script can find a tile again. Same prompt, seeds and model give the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from gendisco.errors import GendiscoError, UserError

if TYPE_CHECKING:
    from gendisco.project import Project

__all__ = [
    "Sheet",
    "check_sheet_path",
    "contact_sheet",
    "interval_sheet",
    "save_sheet",
    "seed_sheet",
]

MARGIN = 16  # px around the grid
GAP = 12  # px between tiles
FONT_SIZE = 14
BACKGROUND = (24, 24, 24)
INK = (235, 235, 235)
MUTED = (160, 160, 160)


@dataclass(frozen=True)
class Sheet:
    """A contact sheet and where its tiles are: boxes are (left, top, right, bottom) px."""

    image: Image.Image
    boxes: list[tuple[int, int, int, int]]
    labels: list[str]
    title: str = ""


def _font(size: int = FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(text: str, font: Any, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels; words longer than a line are cut."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.getlength(word) > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and font.getlength(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def contact_sheet(
    images: np.ndarray,
    labels: Sequence[str],
    *,
    columns: int | None = None,
    title: str = "",
) -> Sheet:
    """Lay out uint8 images (N, H, W, 3) in a grid, each captioned with its label.

    Captions wrap to the tile width; the first line of each is drawn brighter. `columns`
    defaults to 4 for up to 16 tiles, then the square root.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    count, height, width, _ = images.shape
    if count != len(labels):
        raise ValueError(f"{count} images for {len(labels)} labels")
    if count == 0:
        raise ValueError("a contact sheet needs at least one image")
    columns = columns or min(count, max(4, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    font = _font()
    line_height = FONT_SIZE + 4
    captions = [_wrap(label, font, width) for label in labels]
    caption_height = max(len(lines) for lines in captions) * line_height + 6
    title_lines = _wrap(title, font, columns * width + (columns - 1) * GAP) if title else []
    header = len(title_lines) * line_height + (8 if title_lines else 0)

    sheet_width = 2 * MARGIN + columns * width + (columns - 1) * GAP
    sheet_height = 2 * MARGIN + header + rows * (height + caption_height) + (rows - 1) * GAP
    sheet = Image.new("RGB", (sheet_width, sheet_height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, line in enumerate(title_lines):
        draw.text((MARGIN, MARGIN + i * line_height), line, fill=INK, font=font)

    boxes: list[tuple[int, int, int, int]] = []
    for index, (image, lines) in enumerate(zip(images, captions, strict=True)):
        row, column = divmod(index, columns)
        left = MARGIN + column * (width + GAP)
        top = MARGIN + header + row * (height + caption_height + GAP)
        sheet.paste(Image.fromarray(image, "RGB"), (left, top))
        boxes.append((left, top, left + width, top + height))
        for i, line in enumerate(lines):
            y = top + height + 4 + i * line_height
            draw.text((left, y), line, fill=INK if i == 0 else MUTED, font=font)
    return Sheet(sheet, boxes, list(labels), title)


def check_sheet_path(path: str | Path) -> Path:
    """The output path, checked before any frame is made: a .png in an existing folder."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"{path}: a contact sheet is a PNG; give a path ending in .png")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: folder does not exist")
    return path


def save_sheet(sheet: Sheet, path: str | Path) -> Path:
    """Write the sheet as PNG (atomically: a temporary name, then renamed)."""
    path = check_sheet_path(path)
    info = PngInfo()
    info.add_text(
        "gendisco",
        json.dumps({"title": sheet.title, "labels": sheet.labels, "boxes": sheet.boxes}),
    )
    # a name of its own, opened like any other file so the user's umask decides its mode
    # (tempfile.mkstemp would make it 0600)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temporary, "xb") as out:
            sheet.image.save(out, format="PNG", pnginfo=info)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise GendiscoError(f"could not write {path}: {error.strerror or error}") from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def seed_sheet(
    pipe: Any,
    prompt: str,
    seeds: Sequence[int],
    *,
    width: int,
    height: int,
    steps: int,
    guidance: float,
    negative: str = "",
    batch_size: int | None = None,
) -> Sheet:
    """One tile per seed for `prompt`, each labelled `seed N`: pick a seed for the project."""
    from gendisco.models import generate_images

    images = generate_images(
        pipe,
        prompts=[prompt] * len(seeds),
        seeds=list(seeds),
        width=width,
        height=height,
        steps=steps,
        guidance=guidance,
        negative=negative,
        batch_size=batch_size,
    )
    return contact_sheet(images, [f"seed {seed}" for seed in seeds], title=prompt)


def interval_sheet(
    pipe: Any,
    project: Project,
    indices: Sequence[int] | None = None,
    *,
    width: int | None = None,
    height: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    batch_size: int | None = None,
) -> Sheet:
    """Start and end keyframes of the project's intervals (all when `indices` is None),
    one row per interval, side by side: exactly the frames a render starts and ends on.

    `width`, `height`, `steps`, `guidance` override the project's.
    """
    from gendisco.models import generate_images
    from gendisco.project import format_time, resolve_intervals

    resolved = resolve_intervals(project)
    if indices is None:
        indices = range(len(resolved))
    chosen = []
    for index in indices:
        if not 0 <= index < len(resolved):
            raise UserError(
                f"interval {index} does not exist: the project has {len(resolved)} "
                f"interval(s), numbered 0 to {len(resolved) - 1}"
            )
        chosen.append(resolved[index])

    prompts: list[str] = []
    seeds: list[int] = []
    labels: list[str] = []
    for interval in chosen:
        span = f"{format_time(interval.start_s)}-{format_time(interval.end_s)}"
        kind = "hold" if interval.kind == "hold" else f"{interval.transition} transition"
        ends = [("start", interval.from_prompt, interval.from_seed)]
        ends.append(("end", interval.to_prompt, interval.to_seed))
        for which, prompt, seed in ends:
            prompts.append(prompt)
            seeds.append(seed)
            labels.append(f"{interval.index} {which} ({span}, {kind}) seed {seed}\n{prompt}")
    # one negative per sheet: intervals share the project's
    negative = chosen[0].negative if chosen else ""
    images = generate_images(
        pipe,
        prompts=prompts,
        seeds=seeds,
        width=width or project.width,
        height=height or project.height,
        steps=steps or project.steps,
        guidance=project.guidance if guidance is None else guidance,
        negative=negative,
        batch_size=batch_size,
    )
    title = str(project.path.name) if project.path else ""
    return contact_sheet(images, labels, columns=2, title=title)
