"""Simple, deterministic image statistics that check a picture against the `tiny` scenes.

- colour: the dominant hue (a saturation- and value-weighted circular mean), or monochrome
  when the picture has almost no saturation; `chroma` gives the mean opponent colour, so a
  colour transition's progress can be measured as a projection between its two ends.
- brightness: mean HSV value.
- time of day: the vote of the nearest generator pictures in coarse brightness (overall,
  the sky rows, a 4 x 4 grid of where the light is); blurring a picture does not change it.
- subject: a ridge-regression read-out of edge orientation and density per region, row
  profiles, the spectrum (stripes, grids and rings are periodic) and the layout of light.
Both are fitted on the scene generator's own pictures (`SceneClassifier.fit`): the generator
knows what every picture shows, so the statistics are checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gendisco.tinymodel.scenes import SIZE, Scene, render_scene, sample_scene
from gendisco.tinymodel.vocabulary import subjects, times, vocabulary

MONOCHROME_SATURATION = 0.12  # below this mean saturation a picture has no colour
_FEATURE_SIZE = 64


def _as_float(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    return array / 255.0 if array.max() > 1.5 else array


def _downsample(image: np.ndarray, size: int = _FEATURE_SIZE) -> np.ndarray:
    """Box-average to size x size (both sides must be multiples of it)."""
    h, w = image.shape[:2]
    fy, fx = max(1, h // size), max(1, w // size)
    image = image[: fy * size, : fx * size]
    return image.reshape(size, fy, size, fx, *image.shape[2:]).mean(axis=(1, 3))


def hsv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (degrees), saturation and value of an RGB picture (uint8 or floats in 0..1)."""
    rgb = _as_float(image)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    c = v - rgb.min(axis=-1)
    s = np.where(v > 1e-6, c / np.maximum(v, 1e-6), 0.0)
    safe = np.maximum(c, 1e-6)
    h = np.where(
        v == r, ((g - b) / safe) % 6.0, np.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    return (h * 60.0) % 360.0, s, v


def brightness(image: np.ndarray) -> float:
    return float(hsv(image)[2].mean())


def dominant_hue(image: np.ndarray) -> tuple[float, float]:
    """(hue in degrees, mean saturation): the circular mean of hue weighted by S * V."""
    h, s, v = hsv(image)
    weight = s * v
    angle = np.deg2rad(h)
    x, y = (weight * np.cos(angle)).sum(), (weight * np.sin(angle)).sum()
    return float(np.rad2deg(np.arctan2(y, x)) % 360.0), float(s.mean())


def dominant_color(image: np.ndarray) -> str:
    """The vocabulary colour nearest the picture's dominant hue, or monochrome."""
    hue, saturation = dominant_hue(image)
    if saturation < MONOCHROME_SATURATION:
        return "monochrome"
    best, best_distance = "monochrome", 361.0
    for name, entry in vocabulary()["colors"].items():
        if entry["hue"] is None:
            continue
        distance = abs((hue - entry["hue"] + 180.0) % 360.0 - 180.0)
        if distance < best_distance:
            best, best_distance = name, distance
    return best


def chroma(image: np.ndarray) -> np.ndarray:
    """The mean opponent colour (red-green, yellow-blue) of the picture."""
    rgb = _as_float(image).reshape(-1, 3)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    return np.array([(r - g).mean(), ((r + g) / 2 - b).mean()])


def progress_between(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Where each row of `values` lies on the segment start -> end (0 at start, 1 at end)."""
    direction = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    offsets = np.asarray(values, dtype=np.float64) - start
    return offsets @ direction / max(float(direction @ direction), 1e-12)


def _grid(values: np.ndarray, cells: int) -> np.ndarray:
    return _downsample(values[..., None], cells)[..., 0].ravel()


def blurred(images: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """The pictures (uint8) with their detail gone by a Gaussian blur of `sigma` pixels:
    what the time of day must read the same on."""
    from scipy.ndimage import gaussian_filter

    spread = (sigma, sigma, 0)
    return [
        gaussian_filter(np.asarray(i, dtype=np.float32), sigma=spread).round().astype(np.uint8)
        for i in images
    ]


def time_features(image: np.ndarray) -> np.ndarray:
    """Light at a coarse scale: how bright the picture is, how bright its sky rows are, and
    where the light is (a 4 x 4 grid of mean brightness). Time of day is the light, not the
    detail: the spread of single pixels (stars, the edges of stripes) would read a blurred
    copy of a picture as another time of day, so no statistic finer than a grid cell is used.
    """
    _, _, v = hsv(_downsample(_as_float(image)))
    sky = np.median(v[: v.shape[0] // 4])
    return np.concatenate([[v.mean(), sky], _grid(v, 4)])


def subject_features(image: np.ndarray) -> np.ndarray:
    """Shape: edge orientation and density per region, row profiles, the spectrum's
    orientation and scale (stripes, grids and rings are periodic), the layout of light and
    colour."""
    small = _downsample(_as_float(image))
    _, s, v = hsv(small)
    luma = small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    luma = (luma - luma.mean()) / (luma.std() + 0.03)
    gy, gx = np.gradient(luma)
    magnitude = np.hypot(gx, gy)
    orientation = np.mod(np.arctan2(gy, gx), np.pi)
    histograms = []
    for k in range(4):  # edges by direction: horizontal, two diagonals, vertical
        centre = k * np.pi / 4
        near = np.abs((orientation - centre + np.pi / 2) % np.pi - np.pi / 2) < np.pi / 8
        histograms.append(_grid(magnitude * near, 4))
    fine = np.abs(luma - _blur2(luma))
    rows = [
        luma.mean(axis=1).reshape(16, -1).mean(axis=1),
        np.abs(gx).mean(axis=1).reshape(16, -1).mean(axis=1),
        np.abs(gy).mean(axis=1).reshape(16, -1).mean(axis=1),
    ]
    return np.concatenate(
        [*histograms, _grid(fine, 4), *rows, _spectrum(luma), _grid(luma, 8), _grid(s, 4)]
        + [[s.mean(), s.std()]]
    )


def _spectrum(luma: np.ndarray) -> np.ndarray:
    """Log power of the picture's spectrum pooled by orientation (4) and scale (4)."""
    size = luma.shape[0]
    power = np.abs(np.fft.fftshift(np.fft.fft2(luma))) ** 2
    fy, fx = np.meshgrid(np.arange(size) - size // 2, np.arange(size) - size // 2, indexing="ij")
    radius = np.hypot(fx, fy)
    angle = np.mod(np.arctan2(fy, fx), np.pi)
    pooled = []
    for low, high in ((2, 4), (4, 8), (8, 16), (16, 32)):
        band = (radius >= low) & (radius < high)
        for k in range(4):
            centre = k * np.pi / 4
            near = np.abs((angle - centre + np.pi / 2) % np.pi - np.pi / 2) < np.pi / 8
            pooled.append(np.log1p(power[band & near].mean()))
    values = np.asarray(pooled)
    return values - values.mean()


def _blur2(values: np.ndarray) -> np.ndarray:
    """A 2x2-block average brought back to full size: what is left is fine texture."""
    h, w = values.shape
    blocks = values.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)


@dataclass
class _Neighbours:
    """k nearest neighbours in standardised feature space, majority vote."""

    labels: list[str]
    targets: np.ndarray
    rows: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    k: int = 9

    @classmethod
    def fit(cls, rows: np.ndarray, targets: list[str], labels: list[str]) -> _Neighbours:
        mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
        index = np.array([labels.index(t) for t in targets])
        return cls(labels, index, (rows - mean) / scale, mean, scale)

    def predict(self, rows: np.ndarray) -> list[str]:
        x = (rows - self.mean) / self.scale
        distance = (x**2).sum(1)[:, None] - 2 * x @ self.rows.T + (self.rows**2).sum(1)[None]
        nearest = np.argsort(distance, axis=1)[:, : self.k]
        votes = self.targets[nearest]
        counts = np.stack([(votes == i).sum(1) for i in range(len(self.labels))], axis=1)
        return [self.labels[i] for i in counts.argmax(axis=1)]


@dataclass
class _Readout:
    """A ridge-regression read-out on standardised features: the best-scoring label wins."""

    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def predict(self, rows: np.ndarray) -> list[str]:
        x = (rows - self.mean) / self.scale
        scores = np.hstack([x, np.ones((len(x), 1))]) @ self.weights
        return [self.labels[i] for i in scores.argmax(axis=1)]


def _fit_readout(rows: np.ndarray, targets: list[str], labels: list[str], ridge: float):
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
    y = np.zeros((len(rows), len(labels)))
    y[np.arange(len(rows)), [labels.index(t) for t in targets]] = 1.0
    weights = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)
    return _Readout(labels, mean, scale, weights)


@dataclass
class SceneClassifier:
    """Says which colour, time of day and subject a picture shows."""

    time_readout: _Readout | _Neighbours
    subject_readout: _Readout

    @classmethod
    def fit(cls, count: int = 1000, *, seed: int = 7, size: int = SIZE) -> SceneClassifier:
        """Fit on `count` generator pictures (training combinations only)."""
        rng = np.random.default_rng(seed)
        scenes = [sample_scene(rng) for _ in range(count)]
        images = [
            render_scene(scene, seed * 100_003 + i, size)[0] for i, scene in enumerate(scenes)
        ]
        time_rows = np.stack([time_features(image) for image in images])
        subject_rows = np.stack([subject_features(image) for image in images])
        return cls(
            _Neighbours.fit(time_rows, [s.time for s in scenes], times()),
            _fit_readout(subject_rows, [s.subject for s in scenes], subjects(), ridge=1.0),
        )

    def classify(self, images: list[np.ndarray]) -> list[Scene]:
        """One `Scene` (colour, time, subject; style left flat) per picture."""
        found_times = self.time_readout.predict(np.stack([time_features(i) for i in images]))
        found_subjects = self.subject_readout.predict(
            np.stack([subject_features(i) for i in images])
        )
        return [
            Scene(dominant_color(image), time, subject)
            for image, time, subject in zip(images, found_times, found_subjects, strict=True)
        ]


def accuracy(found: list[Scene], expected: list[Scene]) -> dict[str, float]:
    """The share of pictures classified as prompted, per attribute."""
    pairs = list(zip(found, expected, strict=True))
    return {
        attribute: sum(getattr(f, attribute) == getattr(e, attribute) for f, e in pairs)
        / max(1, len(pairs))
        for attribute in ("color", "time", "subject")
    }


__all__ = [
    "SceneClassifier",
    "accuracy",
    "blurred",
    "brightness",
    "chroma",
    "dominant_color",
    "dominant_hue",
    "hsv",
    "progress_between",
    "subject_features",
    "time_features",
]
