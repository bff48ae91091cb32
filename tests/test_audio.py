"""Decoding every format, beat and tempo accuracy on synthesised songs, silence, errors, cache."""

from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pytest

from gendisco import audio, schedule
from gendisco.errors import AudioError
from synth import click_track, drum_song, pulse_song, style_song, write_audio


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path / "cache"))


def f_measure(truth: np.ndarray, found: np.ndarray) -> float:
    """mir_eval's beat F-measure (70 ms window), ignoring the first 5 s as MIREX does."""
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth), mir_eval.beat.trim_beats(found))


# 1. Tempo and beats ---------------------------------------------------------------------

SONGS = {
    "click 120": lambda: click_track(120, 12),
    "click 176 (fast)": lambda: click_track(176, 12),
    "click 70 (slow)": lambda: click_track(70, 15),
    "rock 128": lambda: drum_song(128, 15, seed=11),
    "four-on-the-floor 124": lambda: drum_song(124, 15, style="four", seed=12),
    "piano ballad 70 (slow, no drums)": lambda: style_song("piano ballad", 20, bpm=70, seed=14),
    "waltz 84 (3/4)": lambda: drum_song(84, 18, style="waltz", seed=15),
    "quiet intro": lambda: drum_song(105, 18, intro_s=6, intro_gain=0.1, seed=17),
    "swing funk": lambda: drum_song(100, 15, style="funk", swing=0.33, seed=18),
    "stereo": lambda: drum_song(118, 12, stereo=True, seed=19),
    # ballroom dances are annotated at the dancers' step, which is fast for these two
    "viennese waltz 174 (3/4)": lambda: style_song("viennese waltz", 15, bpm=174, seed=31),
    "jive 168 (swing)": lambda: style_song("jive", 15, bpm=168, seed=33),
    # kick on every beat, loud open hats between: the beat is the kick, not the hat
    "disco 122": lambda: style_song("disco", 15, bpm=122, seed=34),
    "rock 150 (fast backbeat)": lambda: drum_song(150, 15, seed=35),
}


@pytest.mark.parametrize("name", list(SONGS))
def test_beats_land_on_the_hits_at_the_right_tempo(name: str) -> None:
    song = SONGS[name]()
    result = audio.analyze_samples(song.y, song.sr)
    true_bpm = 60.0 / np.median(np.diff(song.beats_s))
    assert result.tempo_bpm == pytest.approx(true_bpm, rel=0.03)
    assert f_measure(song.beats_s, result.beat_times_s) >= 0.9
    # downbeats are beats, one per bar
    assert np.isin(result.downbeat_times_s, result.beat_times_s).all()


def test_tempo_change_is_followed_without_drift() -> None:
    song = drum_song((96, 124), 24, change_at_s=11, seed=16)
    result = audio.analyze_samples(song.y, song.sr)
    assert f_measure(song.beats_s, result.beat_times_s) >= 0.9
    curve = np.interp([7.0, 20.0], result.envelope_times_s, result.tempo_curve_bpm)
    assert curve == pytest.approx([96, 124], rel=0.04)
    # the last beats are still on the hits, not a fraction of a beat off
    late = song.beats_s[song.beats_s > 18]
    found = result.beat_times_s[result.beat_times_s > 18]
    assert mir_eval.beat.f_measure(late, found) >= 0.9


def test_tempo_change_100_to_140_keeps_the_beats_on_the_hits_on_both_sides() -> None:
    song = drum_song((100, 140), 24, change_at_s=12, seed=16)
    result = audio.analyze_samples(song.y, song.sr)
    truth = song.beats_s
    # the first beat of the faster tempo: where the beat period first shortens
    change_s = float(truth[np.flatnonzero(np.diff(truth) < 0.5)[0]])
    assert abs(result.beat_times_s.size - truth.size) <= 2  # 48 beats, not 33
    for part in (truth < change_s - 1.0, truth > change_s + 1.0):
        found = result.beat_times_s[
            (result.beat_times_s > truth[part][0] - 0.1)
            & (result.beat_times_s < truth[part][-1] + 0.1)
        ]
        assert mir_eval.beat.f_measure(truth[part], found) >= 0.9
    slow, fast = result.tempo_segments
    assert (slow.bpm, fast.bpm) == (pytest.approx(100, rel=0.04), pytest.approx(140, rel=0.04))
    assert slow.start_s == 0.0 and fast.end_s == pytest.approx(result.duration_s)
    assert slow.end_s == fast.start_s
    assert fast.start_s in result.beat_times_s  # segments split on a beat
    assert abs(fast.start_s - change_s) <= 60 / 100  # within a beat of the change


@pytest.mark.parametrize(
    "style, bpm, change_at_s, seed",
    [("rock", (108, 132), 20, 111), ("rock", (102, 136), 19, 302), ("four", (108, 144), 20, 303)],
)
def test_a_breakdown_after_a_tempo_change_keeps_the_new_tempo(style, bpm, change_at_s, seed):
    # the last section drops the kick and half the hats: little to hear a pulse in, but
    # the band plays on at the tempo it changed to, and so do the beats
    song = drum_song(bpm, 40, style=style, change_at_s=change_at_s, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    breakdown_s = float(song.sections_s[-1]) + 1.0
    late = song.beats_s[song.beats_s > breakdown_s]
    found = np.asarray(result.beat_times_s)
    assert mir_eval.beat.f_measure(late, found[found > breakdown_s]) >= 0.9
    # two tempo segments: no third one at a tempo the band never played
    assert [segment.bpm for segment in result.tempo_segments] == pytest.approx(bpm, rel=0.04)


def test_a_quiet_bridge_without_a_pulse_is_not_a_tempo_change() -> None:
    # 6 s of soft noise between two halves of a steady song: `init` would cut an interval
    # at every tempo change, and the band never changed tempo
    song = drum_song(138, 30, humanize_s=0.01, seed=4)
    cut_s, gap_s = 14.0, 6.0
    cut, gap = int(cut_s * song.sr), int(gap_s * song.sr)
    hiss = np.convolve(np.random.default_rng(0).standard_normal(gap), np.ones(20) / 20, "same")
    y = np.concatenate([song.y[:cut], 0.01 * hiss.astype(np.float32), song.y[cut:]])
    result = audio.analyze_samples(y, song.sr)
    (segment,) = result.tempo_segments
    assert segment.bpm == pytest.approx(138, rel=0.03)
    # from two seconds after the bridge, the beats are back on the hits
    after = song.beats_s[song.beats_s > cut_s + 2.0] + gap_s
    found = np.asarray(result.beat_times_s)
    assert mir_eval.beat.f_measure(after, found[found > cut_s + gap_s + 2.0]) >= 0.9


def test_steady_song_is_one_tempo_segment() -> None:
    song = drum_song(118, 20, drift=0.03, seed=8)  # +-3 % rubato is not a tempo change
    result = audio.analyze_samples(song.y, song.sr)
    (segment,) = result.tempo_segments
    assert (segment.start_s, segment.end_s) == (0.0, pytest.approx(result.duration_s))
    assert segment.bpm == pytest.approx(118, rel=0.03)


@pytest.mark.parametrize(
    "pattern, level",
    [
        (["kick"], 1),  # every pulse the same hit: the pulse is the beat
        (["kick", "snare"], 1),  # a backbeat on every other pulse: still the pulse
        (["kick", "hat"], 2),  # kicks with hats between: the kicks are the beat
        (["kick", "hat", "snare", "hat"], 2),  # a rock bar in eighths: kick and snare
        (["kick", "hat", "hat"], 3),  # a hit and two fills: a slow beat in threes
    ],
)
def test_metrical_level_follows_the_accents_of_a_fast_pulse(pattern: list[str], level: int):
    # 180 pulses a minute: fast enough that listeners tap a slower level when the accents
    # say so, and slow enough to tap when every pulse is a strong hit
    song = pulse_song(180, 16, pattern, seed=3)
    result = audio.analyze_samples(song.y, song.sr)
    assert result.tempo_bpm == pytest.approx(180 / level, rel=0.03)
    assert f_measure(song.beats_s[::level], result.beat_times_s) >= 0.95


@pytest.mark.parametrize("bpm, seed", [(72, 3), (96, 4), (120, 5)])
def test_shuffle_is_tracked_on_the_beat_not_on_the_louder_swung_note(bpm: float, seed: int):
    # a boogie shuffle: bass and chord stabs on every swung eighth (two thirds into the
    # beat) are louder than anything on the beat; listeners still tap the beat
    song = drum_song(bpm, 20, style="shuffle", swing=1 / 3, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    assert result.tempo_bpm == pytest.approx(bpm, rel=0.03)
    assert f_measure(song.beats_s, result.beat_times_s) >= 0.9


@pytest.mark.parametrize("bpm, seed", [(100, 7001), (98, 7004)])
def test_samba_is_tracked_on_the_surdo_not_on_the_sixteenth_before_it(bpm: float, seed: int):
    # shaker and tamborim accent the sixteenth before each beat more than the beat itself;
    # the surdo (the lowest drum) plays on the beat, and that is where listeners tap
    song = style_song("samba", 30, bpm=bpm, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    assert result.tempo_bpm == pytest.approx(bpm, rel=0.03)
    assert f_measure(song.beats_s, result.beat_times_s) >= 0.85


@pytest.mark.parametrize("bpm, seed", [(92, 16), (96, 12), (100, 13)])
def test_a_pushed_passage_is_tracked_on_the_kick_not_on_the_push(bpm: float, seed: int):
    # from 20 s the snare, hats and chords come a sixteenth before each beat while kick
    # and bass stay on it: the beats of the last bars stay where the kick is
    push_s = 20.0
    song = drum_song(bpm, 30, push_from_s=push_s, humanize_s=0.008, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    # from a second into the push
    pushed = song.beats_s[song.beats_s > push_s + 1.0]
    found = np.asarray(result.beat_times_s)
    assert mir_eval.beat.f_measure(pushed, found[found > push_s + 1.0]) >= 0.9
    assert f_measure(song.beats_s, result.beat_times_s) >= 0.9


def test_slow_hits_with_nothing_between_stay_slow() -> None:
    # a 70 BPM metronome: doubling it would put every other beat on silence
    song = click_track(70, 20)
    result = audio.analyze_samples(song.y, song.sr)
    assert result.tempo_bpm == pytest.approx(70, rel=0.03)


@pytest.mark.parametrize(
    "make",
    [
        lambda: drum_song(84, 24, style="waltz", seed=15),
        lambda: style_song("slow waltz", 24, bpm=88, seed=41),
        lambda: style_song("viennese waltz", 20, bpm=174, seed=31),
    ],
    ids=["band waltz 84", "slow waltz 88", "viennese waltz 174"],
)
def test_three_four_songs_get_three_beat_bars(make) -> None:
    song = make()
    result = audio.analyze_samples(song.y, song.sr)
    between = np.diff(np.searchsorted(result.beat_times_s, result.downbeat_times_s))
    assert np.median(between) == 3
    assert mir_eval.beat.f_measure(song.downbeats_s, result.downbeat_times_s) >= 0.8


def test_four_four_songs_get_four_beat_bars() -> None:
    song = style_song("pop rock", 20, bpm=128, seed=42)
    result = audio.analyze_samples(song.y, song.sr)
    between = np.diff(np.searchsorted(result.beat_times_s, result.downbeat_times_s))
    assert np.median(between) == 4
    assert mir_eval.beat.f_measure(song.downbeats_s, result.downbeat_times_s) >= 0.8


@pytest.mark.parametrize("bpm, seed", [(172, 13), (70, 14)])
def test_backbeat_is_tracked_at_a_metrical_level(bpm: float, seed: int) -> None:
    # the same kick-snare-hat pattern is felt (and annotated) at 172 or 86, at 70 or 140:
    # either level is musical, a beat between the hits is not
    song = drum_song(bpm, 12 if bpm > 100 else 20, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    ratio = result.tempo_bpm / bpm
    assert min(abs(ratio - 1), abs(ratio - 0.5), abs(ratio - 2)) < 0.03
    amlt = mir_eval.beat.continuity(
        mir_eval.beat.trim_beats(song.beats_s), mir_eval.beat.trim_beats(result.beat_times_s)
    )[3]
    assert amlt >= 0.9


def test_quiet_intro_keeps_its_beats() -> None:
    song = drum_song(105, 18, intro_s=6, intro_gain=0.1, seed=17)
    result = audio.analyze_samples(song.y, song.sr)
    intro_truth = song.beats_s[(song.beats_s > 1.0) & (song.beats_s < 6.0)]
    found = result.beat_times_s[(result.beat_times_s > 0.9) & (result.beat_times_s < 6.1)]
    assert mir_eval.beat.f_measure(intro_truth, found) >= 0.8


def test_waltz_downbeats_are_every_third_beat() -> None:
    song = drum_song(84, 18, style="waltz", seed=15)
    result = audio.analyze_samples(song.y, song.sr)
    assert mir_eval.beat.f_measure(song.downbeats_s, result.downbeat_times_s) >= 0.8


def test_rock_downbeats_are_on_the_bar() -> None:
    song = drum_song(120, 20, seed=1)
    result = audio.analyze_samples(song.y, song.sr)
    assert mir_eval.beat.f_measure(song.downbeats_s, result.downbeat_times_s) >= 0.8


@pytest.mark.parametrize(
    "bpm, pattern, seed",
    [(100, ["kick", "snare", "hat", "snare"], 1), (110, ["kick", "hat", "snare", "hat"], 4)],
)
def test_downbeats_follow_the_drums_when_no_chord_changes(bpm, pattern, seed) -> None:
    # drums only, so no harmony marks the bar: the kick on 1 and the snare on 2 and 4 do
    song = pulse_song(bpm, 20, pattern, seed=seed)
    result = audio.analyze_samples(song.y, song.sr)
    between = np.diff(np.searchsorted(result.beat_times_s, result.downbeat_times_s))
    assert np.median(between) == 4
    assert mir_eval.beat.f_measure(song.downbeats_s, result.downbeat_times_s) >= 0.8


def test_sections_are_found_where_the_arrangement_changes() -> None:
    # 8-bar sections at 120 BPM: changes at 16, 32, 48 s (a breakdown from 32 s)
    song = drum_song(120, 60, seed=2)
    result = audio.analyze_samples(song.y, song.sr)
    assert result.section_times_s[0] == 0.0
    assert np.all(np.diff(result.section_times_s) >= 4.0)
    # within two bars of the change: boundaries are approximate, never random
    hits = [np.min(np.abs(result.section_times_s - t)) <= 4.5 for t in (16.0, 32.0, 48.0)]
    assert sum(hits) >= 2
    assert len(result.section_times_s) <= 6


# 2. Envelopes ---------------------------------------------------------------------------


def test_cheap_percussive_envelope_gives_the_same_warp_as_librosa_hpss() -> None:
    import librosa

    song = drum_song(112, 16, seed=5)
    result = audio.analyze_samples(song.y, song.sr)
    # the reference: full-resolution HPSS on the STFT (~8 s on a 3-minute song)
    reference_env = librosa.onset.onset_strength(
        y=librosa.effects.percussive(song.y), sr=song.sr, hop_length=audio.HOP
    )
    # librosa places onsets one frame later than we do (see audio._spectral_flux)
    reference_env = np.resize(reference_env[1:], result.percussive_envelope.size)
    reference = audio.AudioAnalysis(**{**result.__dict__, "percussive_envelope": reference_env})
    worst = 0.0
    for start in np.arange(0.0, 14.0, 2.0):
        warp = dict(start_s=start, end_s=start + 2.0, fps=24, warp="onsets", reactivity=1.0)
        ours = schedule.transition_positions(result, **warp)
        theirs = schedule.transition_positions(reference, **warp)
        worst = max(worst, float(np.abs(ours - theirs).max()))
    assert worst < 0.06


def test_envelopes_share_one_time_grid() -> None:
    song = drum_song(100, 10, seed=6)
    result = audio.analyze_samples(song.y, song.sr)
    n = result.envelope_times_s.size
    assert result.onset_envelope.shape == result.percussive_envelope.shape == (n,)
    assert result.tempo_curve_bpm.shape == (n,)
    assert np.all(result.onset_envelope >= 0) and np.all(result.percussive_envelope >= 0)
    assert result.envelope_times_s[-1] == pytest.approx(result.duration_s, abs=0.05)


# 3. Silence, files, formats, cache ------------------------------------------------------


def test_silence_has_no_beats_and_does_not_crash(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", np.zeros(22050 * 5, np.float32), 22050)
    result = audio.analyze(path)
    assert result.tempo_bpm == 0.0
    assert result.beat_times_s.size == 0 and result.downbeat_times_s.size == 0
    assert result.duration_s == pytest.approx(5.0, abs=0.01)
    assert list(result.section_times_s) == [0.0]
    positions = schedule.transition_positions(
        result, start_s=0, end_s=2, fps=24, warp="onsets", reactivity=1.0
    )
    assert np.allclose(positions, np.linspace(0, 1, 48))


@pytest.mark.parametrize(
    "content, name",
    [(b"\x00\x01garbage" * 500, "broken.mp3"), (b"intervals: []\n", "notes.wav")],
)
def test_unreadable_file_is_one_clear_error(tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as error:
        audio.analyze(path)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_missing_file_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        audio.decode(tmp_path / "nope.mp3")


@pytest.fixture(scope="module")
def format_song():
    return drum_song(110, 12, stereo=True, seed=21)


@pytest.mark.parametrize(
    "suffix, sr", [(".wav", 22050), (".flac", 16000), (".mp3", 44100), (".m4a", 44100),
                   (".ogg", 48000), (".opus", 48000)],
)  # fmt: skip
def test_every_format_decodes_and_tracks(tmp_path: Path, format_song, suffix: str, sr: int):
    import librosa

    y = librosa.resample(format_song.y, orig_sr=format_song.sr, target_sr=sr)
    path = write_audio(tmp_path / f"song{suffix}", y, sr)
    samples = audio.decode(path)
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert samples.size / audio.SR == pytest.approx(12.0, abs=0.1)
    stereo = audio.decode(path, mono=False)
    assert stereo.shape[0] == 2
    result = audio.analyze(path)
    assert result.tempo_bpm == pytest.approx(110, rel=0.03)
    assert f_measure(format_song.beats_s, result.beat_times_s) >= 0.9


def test_analysis_is_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    song = drum_song(120, 8, seed=7)
    path = write_audio(tmp_path / "a.wav", song.y, song.sr)
    first = audio.analyze(path)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("analysed again")

    monkeypatch.setattr(audio.analysis, "analyze_samples", fail)
    again = audio.analyze(path.rename(tmp_path / "renamed.wav"))  # same content, new name
    assert again.tempo_bpm == first.tempo_bpm
    assert np.array_equal(again.beat_times_s, first.beat_times_s)
    assert again.tempo_segments == first.tempo_segments and len(first.tempo_segments) == 1
    # a changed file is analysed afresh
    write_audio(tmp_path / "b.wav", song.y * 0.5 + 0.01, song.sr)
    with pytest.raises(AssertionError, match="analysed again"):
        audio.analyze(tmp_path / "b.wav")
