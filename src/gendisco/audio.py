"""Audio decoding and analysis: tempo, beats, downbeats, envelopes, sections."""

from __future__ import annotations

from pathlib import Path

from gendisco.errors import AudioError


def probe_duration(path: Path) -> float:
    """Duration of an audio file in seconds, read from the container header (cheap)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"song not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream in this file")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError) as error:
        raise AudioError(f"{path}: cannot read this file as audio ({error})") from None
    raise AudioError(f"{path}: cannot tell the duration of this file")
