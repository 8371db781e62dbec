"""Real-speech-like training augmentation of the content encoder (emoanim.train.content) and the DSP
it uses (emoanim.audio.effects: WSOLA tempo, synthetic rooms, band limits, telephone channel)."""

from __future__ import annotations

import numpy as np
import pytest

from emoanim.audio import effects
from emoanim.train.content import ContentTrainConfig, SpeechSet, make_batch, shorten_closures
from emoanim.vocabulary import SAMPLE_RATE, PhoneSegment

SR = SAMPLE_RATE


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spec)])


def band_power(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spec[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("rate", [0.8, 1.3])
def test_time_stretch_changes_duration_not_pitch(rate):
    x = tone(210.0, 2.0)
    y = effects.time_stretch(x, SR, rate)
    assert len(y) == round(len(x) / rate)
    assert peak_hz(y[2000:-2000]) == pytest.approx(210.0, abs=3.0)  # resampling would give 210 * rate
    assert np.sqrt(np.mean(y[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)  # no dips at the joins


def test_telephone_channel_keeps_the_voice_band_only():
    x = tone(1000.0) + tone(6000.0) + tone(120.0)
    y = effects.telephone_channel(x, SR)
    assert len(y) == len(x)
    assert band_power(y, 900, 1100) > 0.5 * band_power(x, 900, 1100)
    assert band_power(y, 5900, 6100) < 1e-3 * band_power(x, 5900, 6100)
    assert band_power(y, 100, 140) < 0.05 * band_power(x, 100, 140)


def test_reverb_spreads_an_impulse_over_the_rooms_decay():
    rng = np.random.default_rng(0)
    ir = effects.synthetic_room_ir(SR, 0.5, rng)
    assert np.sum(ir**2) == pytest.approx(1.0)
    x = np.zeros(SR, np.float32)
    x[1000] = 1.0
    y = effects.add_reverb(x, ir, wet=1.0)
    assert len(y) == len(x) and np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-5)
    early = np.sum(y[1000 + 800 : 1000 + 2400] ** 2)  # 50-150 ms after the impulse
    late = np.sum(y[1000 + 6400 : 1000 + 8000] ** 2)  # 400-500 ms: ~-40 dB lower for rt60 0.5 s
    assert early > 0 and 1e-6 < late / early < 1e-2


def test_shorten_closures_cuts_stops_and_inner_pauses_and_moves_the_times():
    phones = [PhoneSegment("sil", 0.0, 0.2), PhoneSegment("aa", 0.2, 0.4), PhoneSegment("p", 0.4, 0.55),
              PhoneSegment("sil", 0.55, 0.85), PhoneSegment("iy", 0.85, 1.05), PhoneSegment("sil", 1.05, 1.3)]
    wave = np.zeros(int(1.3 * SR), np.float32)
    wave[int(0.9 * SR) : int(1.0 * SR)] = 1.0  # a marker inside /iy/
    out, new = shorten_closures(wave, phones, np.random.default_rng(0), (0.3, 0.3), (0.5, 0.5))
    assert [p.phone for p in new] == [p.phone for p in phones]
    dur = {(p.phone, k): q.duration for k, (p, q) in enumerate(zip(phones, new))}
    assert dur[("p", 2)] == pytest.approx(0.15 - 0.7 * 0.15 * 0.7, abs=2e-3)  # 30 % of the closure part kept
    assert dur[("sil", 3)] == pytest.approx(0.15, abs=2e-3)  # the inner pause halved
    for k in (0, 1, 4, 5):  # vowels and the clip's leading/trailing silence untouched
        assert new[k].duration == pytest.approx(phones[k].duration, abs=1e-9)
    assert len(out) / SR == pytest.approx(new[-1].end, abs=1e-3)
    hot = np.flatnonzero(out > 0.99) / SR  # the marker moved with the /iy/ segment
    assert hot[0] == pytest.approx(0.9 - (phones[4].start - new[4].start), abs=1e-3)


def test_augmented_batches_are_seeded_and_labels_fit_the_audio():
    rng = np.random.default_rng(0)
    phones = [PhoneSegment("sil", 0.0, 0.3), PhoneSegment("b", 0.3, 0.42), PhoneSegment("aa", 0.42, 0.9),
              PhoneSegment("sil", 0.9, 1.2)]
    audio = [np.round(rng.standard_normal(int(1.2 * SR)) * 3000).astype(np.int16) for _ in range(4)]
    data = SpeechSet(audio, [phones] * 4, ["x"] * 4)
    config = ContentTrainConfig(corpus="", out="", closure_prob=1.0, tempo_prob=1.0, reverb_prob=1.0, band_prob=1.0,
                                hard_noise_prob=1.0, noise_prob=1.0)
    a = make_batch(data, [0, 1, 2, 3], np.random.default_rng(5), config, None)
    b = make_batch(data, [0, 1, 2, 3], np.random.default_rng(5), config, None)
    for x, y in zip(a, b):
        assert torch_equal(x, y)
    wave, lengths, target = a
    assert np.isfinite(wave.numpy()).all() and (lengths < int(1.2 * SR)).all()  # faster and shorter: all shortened
    for k in range(4):
        n = int((target[k] >= 0).sum())
        assert abs(n - int(lengths[k]) / 320) <= 2  # one label per 20 ms of the augmented audio
        assert (target[k, :n] == 0).sum() > 0 and (target[k, :n] > 0).sum() > 0


def torch_equal(x, y) -> bool:
    return bool((x == y).all())
