"""Onset envelopes: how much new sound starts at each frame, overall and per band."""

from __future__ import annotations

import numpy as np

# mel-band edges (128 Slaney bands to 11 kHz): ~200 Hz, ~1 kHz, ~4 kHz
BANDS = ((0, 8), (8, 38), (38, 80), (80, 128))
# kick/bass and snare-body bands carry the beat; hi-hats and cymbals fill the off-beats
BAND_WEIGHTS = (1.0, 1.0, 0.5, 0.25)


def _delayed(flux: np.ndarray) -> np.ndarray:
    """Align a frame difference with the attack it measures.

    A centred 2048-sample window sees an attack before its centre reaches it; without a
    one-frame delay every hit (and so every beat) lands ~20 ms early.
    """
    pad = np.zeros(flux.shape[:-1] + (2,))
    return np.concatenate([pad, flux[..., :-1]], axis=-1)


def spectral_flux(log_mel: np.ndarray) -> np.ndarray:
    """Onset strength: mean positive log-mel difference (librosa's onset_strength)."""
    return _delayed(np.maximum(0.0, np.diff(log_mel, axis=1)).mean(axis=0)).astype(np.float64)


# Loudness compression for the beat accent: log(1 + COMPRESSION * power / reference), i.e.
# logarithmic (like loudness) down to ~50 dB below the loudest bin around that moment and
# linear, so nearly silent, below it (Klapuri 1999; Boeck and Widmer 2013). An 80 dB log
# range instead gives a -70 dB rustle in an empty band, or the noise a lossy codec leaves
# in the top octave, as much flux as a drum hit: the beat ends up on whatever is loudest
# relative to silence, not on what is loud.
COMPRESSION = 1e5
# The reference follows the music's level over a few seconds, as hearing adapts: a quiet
# intro keeps its full range instead of sinking below the chorus' floor. Passages more
# than 40 dB below the loudest moment are not lifted further (fade-outs, room noise).
LEVEL_WINDOW_S = 4.0
LEVEL_FLOOR = 1e-4


def compressed(mel: np.ndarray) -> np.ndarray:
    """Mel power on the beat accent's loudness scale (see COMPRESSION), >= 0."""
    import scipy.ndimage

    from gendisco.audio.spectrum import FPS

    loudest = mel.max(axis=0)
    window = max(1, int(LEVEL_WINDOW_S * FPS))
    reference = scipy.ndimage.maximum_filter1d(loudest, size=window, mode="nearest")
    reference = np.maximum(reference, LEVEL_FLOOR * max(float(loudest.max()), 1e-20))
    return np.log1p(mel * (COMPRESSION / reference))


def band_flux(loudness: np.ndarray) -> np.ndarray:
    """Positive frame difference of `compressed` mel power per band of BANDS, shape
    (len(BANDS), frames).

    Each band is divided by its own 95th percentile, so a soft kick or bass counts as much
    as loud bright percussion.
    """
    diff = np.maximum(0.0, np.diff(loudness, axis=1))
    rows = []
    for lo, hi in BANDS:
        band = diff[lo:hi].mean(axis=0)
        scale = np.percentile(band, 95)
        rows.append(band / scale if scale > 0 else band)
    return _delayed(np.asarray(rows, dtype=np.float64))


def beat_accent(bands: np.ndarray) -> np.ndarray:
    """The envelope beats are tracked on: band fluxes weighted towards low frequencies,
    so beats sit on kick, bass and snare rather than on off-beat hats."""
    return np.tensordot(np.asarray(BAND_WEIGHTS), bands, axes=1)
