"""A contact sheet of brainstormed prompts: one tile per prompt, all with one seed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gendisco.brainstorm.ideas import Status, quiet
from gendisco.errors import UserError

SHEET_SEED = 42  # the project's default seed: tiles show what an interval without a seed gets


def check_sheet_path(out: str | os.PathLike[str]) -> Path:
    """The PNG path for `render_sheet`, checked before any LLM call or model load."""
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise UserError(f"{path}: a preview sheet is a PNG; give a path ending in .png")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: folder does not exist")
    return path


def render_sheet(
    prompts: Sequence[str],
    *,
    model: str,
    out: str | os.PathLike[str],
    device: str | None = None,
    seed: int | None = None,
    width: int = 512,
    height: int = 512,
    steps: int = 2,
    title: str = "",
    status: Status = quiet,
) -> Path:
    """One tile per prompt, all with the same seed, as a contact sheet PNG at `out`.

    Loads the diffusion model (torch), so models and preview are imported only here.
    """
    from gendisco.models import generate_images, load_pipeline
    from gendisco.preview import contact_sheet, save_sheet

    path = check_sheet_path(out)
    seed = SHEET_SEED if seed is None else seed
    status(f"loading {model}")
    pipe = load_pipeline(model, device=device)
    status(f"rendering {len(prompts)} prompts (seed {seed})")
    images = generate_images(
        pipe,
        prompts=list(prompts),
        seeds=[seed] * len(prompts),
        width=width,
        height=height,
        steps=steps,
        guidance=0.0,
    )
    labels = [f"{i + 1}. seed {seed}\n{prompt}" for i, prompt in enumerate(prompts)]
    return save_sheet(contact_sheet(images, labels, title=title), path)
