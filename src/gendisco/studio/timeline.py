"""What the page draws along the song: the analysis, warp curves, and the tracks of clips.

Everything here is a pure function of the project, the song's analysis and the files in
the output folder, computed by the library (`gendisco.audio`, `gendisco.schedule`,
`gendisco.rendering.plan_render`): the page shows what a render would do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from gendisco.audio import AudioAnalysis
from gendisco.project import Project, resolve_intervals

TEMPO_POINTS_PER_S = 2  # the local tempo curve, thinned for the page
CURVE_POINTS = 400  # a warp curve's points, at most
_CLIP_NAME = re.compile(r"^(\d{3})-(\d{2}|gap)-([0-9a-f]+)\.mp4$")


def _times(values: np.ndarray) -> list[float]:
    return [round(float(t), 3) for t in values]


def analysis_summary(analysis: AudioAnalysis) -> dict[str, Any]:
    """Tempo, beats, downbeats, sections, tempo segments and the local tempo curve."""
    times = analysis.envelope_times_s
    step = max(1, int(len(times) / max(1.0, analysis.duration_s * TEMPO_POINTS_PER_S)))
    return {
        "duration": round(float(analysis.duration_s), 3),
        "tempo": round(float(analysis.tempo_bpm), 2),
        "beats": _times(analysis.beat_times_s),
        "downbeats": _times(analysis.downbeat_times_s),
        "sections": _times(analysis.section_times_s),
        # stretches of steady tempo, as `gendisco analyze` reports them
        "tempo_segments": [
            {"start": round(float(a), 3), "end": round(float(b), 3), "bpm": round(float(c), 1)}
            for a, b, c in (getattr(analysis, "tempo_segments", None) or ())
        ],
        "tempo_curve": {
            "times": _times(times[::step]),
            "bpm": [round(float(b), 1) for b in analysis.tempo_curve_bpm[::step]],
        },
    }


def warp_curve(project: Project, analysis: AudioAnalysis, index: int) -> dict[str, Any]:
    """Interval `index`'s motion per frame: the transition position t in [0, 1], or for a
    hold its beat pulse (0..1 at full strength), as the renderer computes them."""
    from gendisco import schedule

    item = resolve_intervals(project)[index]
    span = {"start_s": item.start_s, "end_s": item.end_s, "fps": project.fps}
    if item.kind == "hold":
        values, _ = schedule.hold_curves(analysis, **span, pulse=1.0, zoom=item.zoom)
        label = "hold: pulse on each beat"
    else:
        values = schedule.transition_positions(
            analysis, **span, warp=item.warp, reactivity=item.reactivity
        )
        label = f"{item.transition} transition, warp {item.warp}"
    first, stop = schedule.frame_span(item.start_s, item.end_s, project.fps)
    times = schedule.frame_times(first, stop, project.fps)
    step = max(1, len(times) // CURVE_POINTS)
    return {
        "index": index,
        "label": label,
        "times": _times(np.asarray(times)[::step]),
        "values": [round(float(v), 4) for v in np.asarray(values)[::step]],
    }


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def tracks(project: Project, analysis: AudioAnalysis, *, model: str | None) -> dict[str, Any]:
    """Each interval's clips as the current project names them, and whether they exist.

    An interval whose current clips are missing but which has an older clip on disk
    (rendered before the project changed) is `stale`, shown with that older clip. The
    final video is stale when it was joined from other clips than the current ones.
    """
    from gendisco.rendering import plan_render

    plan = plan_render(project, analysis, model=model)
    output = project.output
    clips_dir = output / "clips"
    on_disk = sorted(p.name for p in clips_dir.glob("[0-9]*.mp4")) if clips_dir.is_dir() else []
    current = {clip.path.name for clip in plan.clips}
    current_intervals = sorted(c.path.name for c in plan.clips if c.kind == "interval")
    older: dict[int, str] = {}
    for name in on_disk:
        match = _CLIP_NAME.match(name)
        if match and name not in current and match.group(2) != "gap":
            older.setdefault(int(match.group(1)), name)

    items = []
    for interval in plan.intervals:
        clips = [c for c in plan.clips if c.kind == "interval" and c.interval == interval.index]
        names = [c.path.name for c in clips]
        present = [c.path.exists() for c in clips]
        if clips and all(present):
            state, shown = "rendered", names[0]
        elif any(present):
            state, shown = "partial", names[present.index(True)]
        elif interval.index in older:
            state, shown = "stale", older[interval.index]
        else:
            state, shown = "missing", None
        shown_path = clips_dir / shown if shown else None
        items.append(
            {
                "index": interval.index,
                "start": round(interval.start_s, 3),
                "end": round(interval.end_s, 3),
                "clip_start": round(clips[0].first_frame / project.fps, 3) if clips else None,
                "state": state,
                "clips": names,
                "clip": shown,
                "version": _mtime(shown_path) if shown_path else 0,
            }
        )
    final = output / "final.mp4"
    return {
        "intervals": items,
        "final": {
            "exists": final.is_file(),
            "stale": final.is_file() and _joined_from(output) != current_intervals,
            "start": round(plan.first_frame / project.fps, 3),
            "version": _mtime(final),
        },
        "warnings": plan.warnings,
    }


def _joined_from(output: Path) -> list[str] | None:
    """The clips the last render joined into final.mp4, from its render.json."""
    try:
        manifest = json.loads((output / "render.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not manifest.get("final"):
        return None
    names = [name for item in manifest.get("intervals", []) for name in item.get("clips", [])]
    return sorted(names)
