"""gendisco: audio-reactive music videos from a song and a YAML timeline.

The library API is imported lazily so that `import gendisco` (and commands that need no
model, such as `gendisco validate`) never pay for torch or librosa.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that owns it
_EXPORTS = {
    "load_project": "gendisco.project",
    "Project": "gendisco.project",
    "analyze": "gendisco.audio",
    "AudioAnalysis": "gendisco.audio",
    "load_pipeline": "gendisco.models",
    "render": "gendisco.rendering",
    "RenderResult": "gendisco.rendering",
    "SpeedSettings": "gendisco.speed",
    "GendiscoError": "gendisco.errors",
    "ProjectError": "gendisco.errors",
}

__all__ = [
    "AudioAnalysis",
    "GendiscoError",
    "Project",
    "ProjectError",
    "RenderResult",
    "SpeedSettings",
    "__version__",
    "analyze",
    "load_pipeline",
    "load_project",
    "render",
]

if TYPE_CHECKING:
    from gendisco.audio import AudioAnalysis, analyze
    from gendisco.errors import GendiscoError, ProjectError
    from gendisco.models import load_pipeline
    from gendisco.project import Project, load_project
    from gendisco.rendering import RenderResult, render
    from gendisco.speed import SpeedSettings


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gendisco' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
