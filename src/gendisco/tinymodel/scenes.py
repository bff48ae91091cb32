"""Procedural scenes with captions: what the built-in `tiny` model is trained on.

A scene is a colour, a time of day, a subject and a style (the product's four transition
kinds); `render_scene` draws it with numpy, seeded, and returns the subject's mask with it so
that pictures can be checked against their layout. `caption` names a scene the way users
write prompts, with word order and filler varied. A fixed share of (colour, time, subject)
combinations is held out of training, so prompt following can be tested on captions the model
never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from gendisco.tinymodel.vocabulary import colors, styles, subjects, times, vocabulary

SIZE = 256  # the size the model is trained at


@dataclass(frozen=True)
class Scene:
    color: str
    time: str
    subject: str
    style: str = "flat"

    def prompt(self) -> str:
        """The plain caption: subject, time, colour and (unless flat) style."""
        vocab = vocabulary()
        parts = [
            vocab["subjects"][self.subject][0] + " " + vocab["times"][self.time]["phrases"][0],
            vocab["colors"][self.color]["phrases"][0],
        ]
        if self.style != "flat":
            parts.append(vocab["styles"][self.style][0])
        return ", ".join(parts)


@cache
def held_out() -> frozenset[tuple[str, str, str]]:
    """The (colour, time, subject) combinations never shown in training: a seeded draw."""
    combos = [(c, t, s) for c in colors() for t in times() for s in subjects()]
    rng = np.random.default_rng(20261202)
    count = round(len(combos) * vocabulary()["held_out_share"])
    picked = rng.choice(len(combos), size=count, replace=False)
    return frozenset(combos[i] for i in sorted(picked))


def sample_scene(rng: np.random.Generator, *, held: bool = False) -> Scene:
    """A random scene, from the training combinations (or only the held-out ones)."""
    held_set = held_out()
    if held:
        combos = sorted(held_set)
        color, time, subject = combos[rng.integers(len(combos))]
        return Scene(color, time, subject, styles()[rng.integers(len(styles()))])
    while True:
        scene = Scene(
            colors()[rng.integers(len(colors()))],
            times()[rng.integers(len(times()))],
            subjects()[rng.integers(len(subjects()))],
            styles()[rng.integers(len(styles()))],
        )
        if (scene.color, scene.time, scene.subject) not in held_set:
            return scene


def caption(scene: Scene, rng: np.random.Generator) -> str:
    """A prompt for `scene` as a user might write it: a random template, phrases and filler."""
    vocab = vocabulary()

    def pick(options: list[str]) -> str:
        return options[rng.integers(len(options))]

    template = pick(vocab["templates"])
    text = template.format(
        subject=pick(vocab["subjects"][scene.subject]),
        time=pick(vocab["times"][scene.time]["phrases"]),
        color=pick(vocab["colors"][scene.color]["phrases"]),
        style=pick(vocab["styles"][scene.style]),
    )
    for _ in range(rng.choice(3, p=[0.6, 0.3, 0.1])):
        text += ", " + pick(vocab["fillers"])
    return text


# --- drawing -------------------------------------------------------------------------------


def hsv_to_rgb(hue_deg: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB in [0, 1]; hue in degrees."""
    h = (np.asarray(hue_deg, dtype=np.float32) % 360.0) / 60.0
    s = np.asarray(sat, dtype=np.float32)
    v = np.asarray(val, dtype=np.float32)
    c = v * s
    x = c * (1.0 - np.abs(h % 2.0 - 1.0))
    zero = np.zeros_like(c)
    sector = np.floor(h).astype(np.int32) % 6
    r = np.choose(sector, [c, x, zero, zero, x, c])
    g = np.choose(sector, [x, c, c, x, zero, zero])
    b = np.choose(sector, [zero, zero, x, c, c, x])
    m = v - c
    return np.stack([r + m, g + m, b + m], axis=-1)


def _smooth_inside(distance: np.ndarray, softness: float = 1.0) -> np.ndarray:
    """1 inside (distance < 0), 0 outside, anti-aliased over about a pixel."""
    return np.clip(0.5 - distance / softness, 0.0, 1.0)


class _Canvas:
    def __init__(self, size: int) -> None:
        self.size = size
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.y, self.x = np.meshgrid(coords, coords, indexing="ij")
        self.px = 1.0 / size  # one pixel in canvas units


def _palette(scene: Scene, rng: np.random.Generator) -> dict[str, Any]:
    vocab = vocabulary()
    hue = vocab["colors"][scene.color]["hue"]
    mono = hue is None
    hue = float(hue if hue is not None else 0.0) + float(rng.uniform(-6, 6))
    level = vocab["times"][scene.time]["brightness"]
    sat = 0.0 if mono else 0.82
    return {"hue": hue, "sat": sat, "level": level, "mono": mono}


def _sky(canvas: _Canvas, scene: Scene, pal: dict[str, Any], rng: np.random.Generator):
    level = pal["level"]
    # dawn: bright horizon; dusk: a glow low down; noon: even; night: dark with stars
    top, horizon = {
        "dawn": (0.6, 1.0),
        "noon": (0.88, 1.0),
        "dusk": (0.45, 0.95),
        "night": (0.7, 0.85),
    }[scene.time]
    blend = np.clip(canvas.y / 0.8, 0.0, 1.0)
    val = level * (top + (horizon - top) * blend)
    sat = pal["sat"] * (0.95 - 0.25 * blend)
    hue = pal["hue"] + (12.0 * blend if scene.time in ("dawn", "dusk") else 0.0)
    rgb = hsv_to_rgb(np.full_like(val, hue), sat, val)
    if scene.time == "night":
        count = int(rng.integers(40, 70))
        sx, sy = rng.uniform(0, 1, count), rng.uniform(0, 0.7, count)
        for x0, y0 in zip(sx, sy, strict=True):
            d = np.hypot(canvas.x - x0, canvas.y - y0) - 1.6 * canvas.px
            star = _smooth_inside(d / canvas.px)[..., None]
            rgb = rgb * (1 - star) + 0.95 * star
    return rgb


def _shade(
    pal: dict[str, Any], value: float, sat_scale: float, hue_shift: float, luminous: bool
) -> np.ndarray:
    """A subject colour: lit things (sun, windows, neon) stay bright at night, the rest dims."""
    level = pal["level"]
    dimmed = value * (0.5 + 0.5 * level) if luminous else value * level
    return hsv_to_rgb(
        np.float32(pal["hue"] + hue_shift),
        np.float32(pal["sat"] * sat_scale),
        np.float32(min(1.0, dimmed)),
    )


def _subject_mask(
    canvas: _Canvas, subject: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """The subject's coverage (0..1) and, for some subjects, a second detail mask."""
    x, y, px = canvas.x, canvas.y, canvas.px
    u = rng.uniform
    detail = None
    if subject == "sun":
        cx, cy, r = u(0.3, 0.7), u(0.22, 0.4), u(0.12, 0.16)
        mask = _smooth_inside((np.hypot(x - cx, y - cy) - r) / px)
    elif subject == "moon":
        cx, cy, r = u(0.3, 0.7), u(0.22, 0.4), u(0.12, 0.15)
        disc = _smooth_inside((np.hypot(x - cx, y - cy) - r) / px)
        bite = _smooth_inside((np.hypot(x - cx - 0.45 * r, y - cy + 0.15 * r) - 0.85 * r) / px)
        mask = disc * (1 - bite)
    elif subject == "mountains":
        ridge = np.full_like(x[0], 2.0)
        for _ in range(int(rng.integers(2, 4))):
            peak_x, peak_y = u(0.1, 0.9), u(0.3, 0.5)
            slope = u(1.0, 1.6)
            ridge = np.minimum(ridge, peak_y + slope * np.abs(x[0] - peak_x))
        ridge = np.minimum(ridge, 0.8)
        mask = _smooth_inside((ridge[None, :] - y) / px)
        snow_line = ridge[None, :] + 0.06
        detail = mask * _smooth_inside((y - snow_line) / px)
    elif subject == "sea":
        horizon = u(0.5, 0.6)
        mask = _smooth_inside((horizon - y) / px)
        phase, freq = u(0, 2 * np.pi), u(14, 20)
        waves = np.sin(freq * 2 * np.pi * x + phase + 40 * y) * np.sin(60 * (y - horizon))
        detail = mask * (waves > 0.55)
    elif subject == "city skyline":
        heights = np.zeros_like(x[0])
        left = 0.0
        while left < 1.0:
            width = u(0.06, 0.13)
            heights[(x[0] >= left) & (x[0] < left + width)] = u(0.25, 0.6)
            left += width + u(0.0, 0.02)
        top = 1.0 - heights
        mask = (y >= top[None, :]).astype(np.float32)
        windows = (np.sin(x * 2 * np.pi * 40) > 0.3) & (np.sin(y * 2 * np.pi * 36) > 0.3)
        detail = mask * windows * (y > top[None, :] + 0.03)
    elif subject == "forest":
        cover = np.zeros_like(x)
        count = int(rng.integers(9, 14))
        for i in range(count):
            cx = (i + u(0.1, 0.9)) / count
            base, height, half = u(0.9, 1.0), u(0.3, 0.45), u(0.04, 0.06)
            tip = base - height
            inside = (y > tip) & (y < base) & (np.abs(x - cx) < half * (y - tip) / height)
            cover = np.maximum(cover, inside.astype(np.float32))
        ground = (y > 0.9).astype(np.float32)
        mask = np.maximum(cover, ground)
    elif subject == "disco ball":
        cx, cy, r = u(0.42, 0.58), u(0.42, 0.55), u(0.25, 0.32)
        d = np.hypot(x - cx, y - cy)
        mask = _smooth_inside((d - r) / px)
        facets = (np.abs(np.sin((x - cx) * 2 * np.pi * 14)) < 0.25) | (
            np.abs(np.sin((y - cy) * 2 * np.pi * 14)) < 0.25
        )
        highlight = _smooth_inside((np.hypot(x - cx + 0.35 * r, y - cy + 0.35 * r) - 0.3 * r) / px)
        detail = mask * np.maximum(facets.astype(np.float32) * 0.5, highlight)
    elif subject == "circles":
        cx, cy = u(0.35, 0.65), u(0.35, 0.65)
        spacing = u(0.07, 0.1)
        ring = np.abs(((np.hypot(x - cx, y - cy) / spacing) % 1.0) - 0.5)
        mask = (ring < 0.18).astype(np.float32)
    elif subject == "grid":
        spacing = u(0.11, 0.15)
        ox, oy = u(0, spacing), u(0, spacing)
        gx = np.abs(((x - ox) / spacing) % 1.0 - 0.5) > 0.42
        gy = np.abs(((y - oy) / spacing) % 1.0 - 0.5) > 0.42
        mask = (gx | gy).astype(np.float32)
    elif subject == "stripes":
        angle = u(0.6, 0.95) if rng.integers(2) else u(-0.95, -0.6)
        period = u(0.1, 0.14)
        coord = x * np.cos(angle) + y * np.sin(angle)
        mask = (((coord / period) % 1.0) < 0.5).astype(np.float32)
    else:
        raise ValueError(f"unknown subject {subject!r}")
    return mask.astype(np.float32), None if detail is None else detail.astype(np.float32)


# How each subject is coloured: body (value, saturation scale, lit), detail (the same)
_SUBJECT_LOOK = {
    "sun": ((1.0, 0.35, True), (1.0, 0.35, True)),
    "moon": ((1.0, 0.12, True), (1.0, 0.12, True)),
    "mountains": ((0.45, 1.0, False), (0.95, 0.1, False)),
    "sea": ((0.55, 1.0, False), (0.95, 0.4, False)),
    "city skyline": ((0.3, 0.9, False), (1.0, 0.5, True)),
    "forest": ((0.32, 1.0, False), (0.32, 1.0, False)),
    "disco ball": ((0.7, 0.3, False), (1.0, 0.05, True)),
    "circles": ((1.0, 0.55, True), (1.0, 0.55, True)),
    "grid": ((1.0, 0.45, True), (1.0, 0.45, True)),
    "stripes": ((0.4, 1.0, False), (0.4, 1.0, False)),
}


def _apply_style(
    rgb: np.ndarray, mask: np.ndarray, style: str, canvas: _Canvas, rng: np.random.Generator
) -> np.ndarray:
    if style == "outlined":
        gy, gx = np.gradient(gaussian_filter(mask, 1.0))
        edge = np.clip(np.hypot(gx, gy) * 6.0, 0.0, 1.0)[..., None]
        return rgb * (1 - edge) + 0.04 * edge
    if style == "pixel art":
        # 16-pixel blocks, each one flat colour (the block's mean), with few levels
        block = 16
        h, w = rgb.shape[:2]
        cells = rgb.reshape(h // block, block, w // block, block, 3).mean(axis=(1, 3))
        cells = np.round(cells * 6.0) / 6.0
        return np.repeat(np.repeat(cells, block, axis=0), block, axis=1)
    if style == "soft blur":
        return gaussian_filter(rgb, sigma=(5.0, 5.0, 0.0))
    return rgb


def render_scene(scene: Scene, seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Draw `scene`: (H, W, 3) uint8 RGB and the subject's (H, W) float mask in [0, 1]."""
    rng = np.random.default_rng(seed)
    canvas = _Canvas(size)
    pal = _palette(scene, rng)
    rgb = _sky(canvas, scene, pal, rng)
    mask, detail = _subject_mask(canvas, scene.subject, rng)
    body_look, detail_look = _SUBJECT_LOOK[scene.subject]
    body = _shade(pal, *body_look[:2], hue_shift=10.0, luminous=body_look[2])
    rgb = rgb * (1 - mask[..., None]) + body * mask[..., None]
    if detail is not None:
        shade = _shade(pal, *detail_look[:2], hue_shift=0.0, luminous=detail_look[2])
        rgb = rgb * (1 - detail[..., None]) + shade * detail[..., None]
    rgb = _apply_style(rgb, mask, scene.style, canvas, rng)
    image = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    return image, mask


def training_example(seed: int, size: int = SIZE) -> tuple[np.ndarray, str, Scene]:
    """One training pair from a seed: picture, caption and the scene behind them."""
    rng = np.random.default_rng([seed, 1])
    scene = sample_scene(rng)
    image, _ = render_scene(scene, seed, size)
    return image, caption(scene, rng), scene
