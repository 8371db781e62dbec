"""Speech side of the synthetic corpus: TTS engines, emotional prosody, alignment, augmentation."""

from __future__ import annotations

import ctypes.util
import shutil

import numpy as np
import pytest

from emoanim.data import tts
from emoanim.data.tts import engine, espeak
from emoanim.data.augment import augment
from emoanim.vocabulary import PHONES, SILENCE
from emoanim.errors import EmoAnimError

TEXT = "My pet bee is happy."


def _voice(engine: str) -> tts.Voice:
    voices = tts.list_voices(engine)
    if not voices:
        pytest.skip(f"{engine} is not installed")
    return voices[0]


def _active_rms(x: np.ndarray, sr: int) -> float:
    n = int(0.02 * sr)
    p = np.mean(x[: len(x) // n * n].reshape(-1, n).astype(np.float64) ** 2, axis=1)
    return float(np.sqrt(np.mean(p[p > p.max() * 1e-3])))


def _median_f0(x: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 450.0) -> float:
    """Median F0 of voiced frames by normalised autocorrelation."""
    win, hop = int(0.04 * sr), int(0.01 * sr)
    thr = 0.3 * np.sqrt(np.mean(x.astype(np.float64) ** 2))
    lo, hi = int(sr / fmax), int(sr / fmin)
    f0 = []
    for s in range(0, len(x) - win, hop):
        f = x[s : s + win].astype(np.float64)
        f = f - f.mean()
        if np.sqrt(np.mean(f**2)) < thr:
            continue
        ac = np.correlate(f, f, "full")[win - 1 :]
        ac /= ac[0] + 1e-12
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5:
            f0.append(sr / k)
    return float(np.median(f0))


def _check_tiling(phones, duration: float) -> None:
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration, abs=1e-6)
    for a, b in zip(phones, phones[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-9)
    assert all(p.end > p.start for p in phones)
    assert all(p.phone in PHONES for p in phones)


# ---------------------------------------------------------------- voices and prosody


def test_voices_listed_per_engine():
    voices = tts.list_voices()
    assert len({v.id for v in voices}) == len(voices)
    assert all(v.engine in tts.ENGINES and v.gender in ("m", "f", "?") for v in voices)
    installed = {"espeak": ctypes.util.find_library("espeak-ng") is not None,
                 "flite": shutil.which("flite") is not None,
                 "festival": shutil.which("festival") is not None}
    for name, present in installed.items():
        assert bool(tts.list_voices(name)) == present, name
    if installed["espeak"]:
        assert len(tts.list_voices("espeak")) >= 40
        assert {v.gender for v in tts.list_voices("espeak")} == {"m", "f"}
    with pytest.raises(EmoAnimError):
        tts.list_voices("sapi")


def test_espeak_mnemonics_map_to_arpabet():
    tables = [espeak._ESPEAK_MAP, *espeak._ESPEAK_ACCENT.values()]
    assert all(p in PHONES for table in tables for labels in table.values() for p in labels)
    assert espeak._map_espeak("_:") == (SILENCE,)
    assert all(p in PHONES for p in espeak._map_espeak("Q#9"))  # unknown -> nearest, still valid


def test_emotion_prosody_directions_and_intensity():
    rng = np.random.default_rng(0)

    def mean_style(emotion: str, level: int) -> dict:
        styles = [tts.emotion_prosody(emotion, level, rng) for _ in range(200)]
        return {k: np.mean([getattr(s, k) for s in styles]) for k in ("pitch_shift", "rate", "loudness_db")}

    neutral = mean_style("neutral", 2)
    assert abs(neutral["pitch_shift"]) < 0.3 and abs(neutral["loudness_db"]) < 0.3
    angry1, angry3, sad3 = mean_style("angry", 1), mean_style("angry", 3), mean_style("sad", 3)
    assert angry3["loudness_db"] > angry1["loudness_db"] > 0 > sad3["loudness_db"]
    assert angry3["rate"] > 1.0 > sad3["rate"]
    assert angry3["pitch_shift"] > 0 > sad3["pitch_shift"]
    assert tts.emotion_prosody("Fear", 3, rng).voice_quality in tts.VOICE_QUALITIES
    with pytest.raises(EmoAnimError):
        tts.emotion_prosody("bored", 2, rng)


# ---------------------------------------------------------------- synthesis


@pytest.mark.parametrize("engine", tts.ENGINES)
def test_synthesize_each_engine(engine):
    voice = _voice(engine)
    clip = tts.synthesize(TEXT, voice, tts.ProsodyStyle(), rng=np.random.default_rng(0))
    assert clip.sample_rate == 16000 and clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert 0.8 < clip.duration < 4.0
    assert _active_rms(clip.audio, 16000) > 10 ** (-35 / 20)
    assert np.max(np.abs(clip.audio)) < 1.0
    assert clip.phones is not None  # all three engines report timings
    _check_tiling(clip.phones, clip.duration)
    assert clip.phones[0].phone == SILENCE and clip.phones[-1].phone == SILENCE
    assert clip.phones[0].duration == pytest.approx(0.2, abs=0.002)


def test_espeak_phones_cover_clip_with_bilabials():
    clip = tts.synthesize("my pet bee", _voice("espeak"), tts.ProsodyStyle(), rng=np.random.default_rng(0))
    _check_tiling(clip.phones, clip.duration)
    labels = [p.phone for p in clip.phones]
    for phone in ("m", "p", "b"):
        assert phone in labels
    assert labels.index("m") < labels.index("p") < labels.index("b")
    assert [w.word for w in clip.words] == ["my", "pet", "bee"]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(clip.words, clip.words[1:]))


@pytest.mark.parametrize("engine", tts.ENGINES)
def test_style_changes_audio(engine):
    voice = _voice(engine)
    text = "The birch canoe slid on the smooth planks."
    angry = tts.ProsodyStyle(pitch_shift=3.0, pitch_range=1.4, rate=1.15, loudness_db=7.0,
                             voice_quality="tense", quality_strength=0.8, pause_scale=0.8)
    sad = tts.ProsodyStyle(pitch_shift=-2.0, pitch_range=0.65, rate=0.8, loudness_db=-5.0,
                           voice_quality="breathy", quality_strength=0.8, pause_scale=1.4)
    a = tts.synthesize(text, voice, angry, rng=np.random.default_rng(1))
    s = tts.synthesize(text, voice, sad, rng=np.random.default_rng(1))
    assert _active_rms(a.audio, 16000) > 2.0 * _active_rms(s.audio, 16000)
    assert a.duration < 0.85 * s.duration
    if engine == "espeak":
        assert _median_f0(a.audio, 16000) > 1.15 * _median_f0(s.audio, 16000)


def test_emotion_prosody_end_to_end_angry_vs_sad():
    voice = _voice("espeak")
    text = "Glue the sheet to the dark blue background."
    angry = tts.emotion_prosody("angry", 3, np.random.default_rng(2))
    sad = tts.emotion_prosody("sad", 3, np.random.default_rng(2))
    a = tts.synthesize(text, voice, angry, rng=np.random.default_rng(2))
    s = tts.synthesize(text, voice, sad, rng=np.random.default_rng(2))
    assert _active_rms(a.audio, 16000) > _active_rms(s.audio, 16000)
    assert a.duration < s.duration
    assert _median_f0(a.audio, 16000) > _median_f0(s.audio, 16000)


def test_pause_scaling_moves_timings_with_audio():
    voice = _voice("espeak")
    text = "Hello there, my friend. How are you today? Fine, thanks."
    clips = {k: tts.synthesize(text, voice, tts.ProsodyStyle(pause_scale=k)) for k in (0.5, 1.0, 2.0)}
    speech = {k: sum(p.duration for p in c.phones if p.phone != SILENCE) for k, c in clips.items()}
    pauses = {k: sum(p.duration for p in c.phones[1:-1] if p.phone == SILENCE) for k, c in clips.items()}
    assert speech[0.5] == pytest.approx(speech[1.0], abs=1e-3) == pytest.approx(speech[2.0], abs=1e-3)
    assert pauses[0.5] < 0.6 * pauses[1.0] and pauses[2.0] > 1.8 * pauses[1.0]
    for c in clips.values():
        _check_tiling(c.phones, c.duration)
        bounds = np.array([p.start for p in c.phones] + [c.duration])
        for w in c.words:  # words still start and end on phone boundaries
            assert np.min(np.abs(bounds - w.start)) < 1e-6 and np.min(np.abs(bounds - w.end)) < 1e-6


def test_synthesis_is_deterministic():
    voice = _voice("espeak")
    style = tts.ProsodyStyle(pitch_shift=1.0, voice_quality="breathy", quality_strength=1.0, pause_scale=1.3)
    x1 = tts.synthesize("Hello there, friend.", voice, style, rng=np.random.default_rng(7)).audio
    x2 = tts.synthesize("Hello there, friend.", voice, style, rng=np.random.default_rng(7)).audio
    x3 = tts.synthesize("Hello there, friend.", voice, style, rng=np.random.default_rng(8)).audio
    np.testing.assert_array_equal(x1, x2)
    assert x1.shape == x3.shape and not np.array_equal(x1, x3)  # the breath noise differs


def test_espeak_is_history_independent_and_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    # f3 and Annie add breath noise from libc's rand(): the state most likely to leak between calls.
    wanted = ("espeak/en-us", "espeak/en-gb+f3", "espeak/en-029+Annie")
    voices = [v for v in tts.list_voices("espeak") if v.id in wanted]
    if not voices:
        pytest.skip("espeak-ng is not installed")
    jobs = [(t, v) for t in ("Four hours of steady work faced us.", "Kick the ball straight.") for v in voices]

    def run(job):
        return tts.synthesize(job[0], job[1], rng=np.random.default_rng(0)).audio

    sequential = [run(j) for j in jobs]
    with ThreadPoolExecutor(2) as pool:
        parallel = list(pool.map(run, jobs[::-1]))[::-1]
    for a, b in zip(sequential, parallel):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("quality", tts.VOICE_QUALITIES)
def test_voice_qualities_keep_length_and_range(quality):
    clip = tts.synthesize("Rice is often served in round bowls.", _voice("espeak"),
                          tts.ProsodyStyle(voice_quality=quality, quality_strength=1.0, loudness_db=8.0),
                          rng=np.random.default_rng(3))
    assert np.all(np.isfinite(clip.audio)) and np.max(np.abs(clip.audio)) < 1.0
    _check_tiling(clip.phones, clip.duration)


def test_missing_engine_and_timeouts_are_clear_errors(monkeypatch):
    voice = tts.Voice("flite/slt", "flite", "slt", gender="f")
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(EmoAnimError, match="flite is not installed"):
        tts.synthesize(TEXT, voice)
    monkeypatch.undo()
    with pytest.raises(EmoAnimError, match="longer than"):
        engine.run_engine(["sleep", "5"], 0.2, "sleep")
    with pytest.raises(EmoAnimError):
        tts.synthesize("  ... ", _voice("espeak"))


# ---------------------------------------------------------------- alignment


def test_align_phones_matches_espeak_timings():
    from emoanim.audio.align import align_phones
    from emoanim.data.timing_check import timing_error

    text = "The juice of lemons makes fine punch."
    clip = tts.synthesize(text, _voice("espeak"), tts.ProsodyStyle(), rng=np.random.default_rng(0))
    phones = align_phones(clip.audio, clip.sample_rate, text)
    _check_tiling(phones, clip.duration)
    err = timing_error(clip.phones, phones)
    assert err["median_ms"] < 50.0
    assert err["label_match"] > 0.8


def test_align_is_history_independent():
    from emoanim.audio.align import align_phones

    voice = _voice("espeak")
    a = tts.synthesize("Smoky fires lack flame and heat.", voice, rng=np.random.default_rng(0))
    b = tts.synthesize("The hogs were fed chopped corn and garbage.", tts.list_voices("espeak")[-1],
                       rng=np.random.default_rng(0))
    first = align_phones(a.audio, a.sample_rate, a.text)
    align_phones(b.audio, b.sample_rate, b.text)
    assert align_phones(a.audio, a.sample_rate, a.text) == first


def test_align_handles_oov_and_empty_text():
    from emoanim.audio.align import align

    clip = tts.synthesize("Zorblax met Quixotl today.", _voice("espeak"), rng=np.random.default_rng(0))
    result = align(clip.audio, clip.sample_rate, "Zorblax met Quixotl today.")
    _check_tiling(result.phones, clip.duration)
    assert [w for w, _, _ in result.words] == ["zorblax", "met", "quixotl", "today"]
    empty = align(clip.audio, clip.sample_rate, "...")
    assert [p.phone for p in empty.phones] == [SILENCE]


def test_timing_error_of_identical_segments_is_zero():
    from emoanim.vocabulary import PhoneSegment
    from emoanim.data.timing_check import timing_error

    ref = [PhoneSegment("sil", 0, 0.2), PhoneSegment("m", 0.2, 0.3), PhoneSegment("ay", 0.3, 0.5),
           PhoneSegment("sil", 0.5, 0.7)]
    est = [PhoneSegment("sil", 0, 0.21), PhoneSegment("m", 0.21, 0.3), PhoneSegment("ay", 0.3, 0.47),
           PhoneSegment("sil", 0.47, 0.7)]
    assert timing_error(ref, ref)["median_ms"] == 0.0
    e = timing_error(ref, est)
    assert e["n_boundaries"] == 3 and e["mean_ms"] == pytest.approx(40 / 3)


# ---------------------------------------------------------------- augmentation


def test_augment_keeps_length_is_seeded_and_never_clips():
    clip = tts.synthesize("The box was thrown beside the parked truck.", _voice("espeak"),
                          tts.ProsodyStyle(loudness_db=8.0), rng=np.random.default_rng(0))
    x = clip.audio
    outs = [augment(x, 16000, np.random.default_rng(seed)) for seed in range(8)]
    for y in outs:
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 0.99 + 1e-6
    assert any(not np.allclose(y, x) for y in outs)
    np.testing.assert_array_equal(augment(x, 16000, np.random.default_rng(3)), outs[3])
    assert not np.array_equal(outs[1], outs[2])
    np.testing.assert_allclose(augment(x, 16000, np.random.default_rng(0), strength=0.0), x, atol=1e-7)
