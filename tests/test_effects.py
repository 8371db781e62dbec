"""Generic audio DSP (emoanim.audio.effects): noise at a requested SNR, biquad EQ, levels."""

from __future__ import annotations

import numpy as np
import pytest

from emoanim.audio import effects
from emoanim.vocabulary import SAMPLE_RATE

SR = SAMPLE_RATE


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amplitude * np.sin(2 * np.pi * freq * t)


def snr_db(clean: np.ndarray, noisy: np.ndarray, signal_power: float | None = None) -> float:
    p_signal = np.mean(clean**2) if signal_power is None else signal_power
    return float(10 * np.log10(p_signal / np.mean((noisy - clean) ** 2)))


@pytest.mark.parametrize("target", [0.0, 12.0, 35.0])
@pytest.mark.parametrize("kind", effects.NOISE_TYPES)
def test_add_noise_gives_the_requested_snr(target, kind):
    x = tone(220.0)
    noise = effects.colored_noise(len(x), SR, kind, np.random.default_rng(1))
    y = effects.add_noise(x, noise, target)
    assert snr_db(x, y) == pytest.approx(target, abs=1e-9)


def test_add_noise_can_refer_the_snr_to_speech_only():
    speech = np.concatenate([tone(220.0, 0.5), np.zeros(SR // 2)])  # half of the clip is a pause
    noise = np.random.default_rng(2).standard_normal(len(speech))
    active = effects.active_power(speech, SR)
    assert active == pytest.approx(0.5**2 / 2, rel=1e-3)  # the tone's power, not diluted by the pause
    y = effects.add_noise(speech, noise, 20.0, active)
    assert snr_db(speech, y, active) == pytest.approx(20.0, abs=1e-9)
    assert snr_db(speech, y) == pytest.approx(20.0 - 10 * np.log10(2), abs=0.05)  # whole-clip SNR is 3 dB lower


def test_noise_is_seeded_and_silence_stays_silent():
    a = effects.colored_noise(SR, SR, "babble", np.random.default_rng(5))
    b = effects.colored_noise(SR, SR, "babble", np.random.default_rng(5))
    c = effects.colored_noise(SR, SR, "babble", np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    silent = np.zeros(SR)
    assert effects.add_noise(silent, a, 10.0) is silent  # no speech: nothing to refer an SNR to
    with pytest.raises(ValueError, match="noise type"):
        effects.colored_noise(10, SR, "purple", np.random.default_rng(0))


def test_pink_and_brown_noise_tilt_towards_low_frequencies():
    def band_ratio(kind: str) -> float:
        n = effects.colored_noise(4 * SR, SR, kind, np.random.default_rng(3))
        power = np.abs(np.fft.rfft(n)) ** 2
        f = np.fft.rfftfreq(len(n), 1 / SR)
        return power[(f > 100) & (f < 200)].mean() / power[(f > 3000) & (f < 6000)].mean()

    white, pink, brown = band_ratio("white"), band_ratio("pink"), band_ratio("brown")
    assert white == pytest.approx(1.0, rel=0.3) and 10 < pink < brown


def _gain_db(kind: str, f0: float, gain: float, freq: float, q: float = effects.SHELF_Q) -> float:
    x = tone(freq, 2.0)
    y = effects.biquad_filter(x, SR, kind, f0, gain, q)
    steady = slice(SR // 2, None)  # after the filter's transient
    return float(10 * np.log10(np.mean(y[steady] ** 2) / np.mean(x[steady] ** 2)))


@pytest.mark.parametrize("gain", [-6.0, 4.0])
def test_shelves_change_only_their_side_of_the_spectrum(gain):
    assert _gain_db("high_shelf", 1000.0, gain, 6500.0) == pytest.approx(gain, abs=0.3)
    assert _gain_db("high_shelf", 1000.0, gain, 60.0) == pytest.approx(0.0, abs=0.3)
    assert _gain_db("low_shelf", 1000.0, gain, 60.0) == pytest.approx(gain, abs=0.3)
    assert _gain_db("low_shelf", 1000.0, gain, 6500.0) == pytest.approx(0.0, abs=0.3)
    assert _gain_db("high_shelf", 1000.0, gain, 1000.0) == pytest.approx(gain / 2, abs=0.3)  # half at f0


def test_peak_filter_hits_its_gain_at_the_centre_and_passes_the_rest():
    assert _gain_db("peak", 1000.0, 6.0, 1000.0, q=2.0) == pytest.approx(6.0, abs=0.05)
    assert _gain_db("peak", 1000.0, 6.0, 7000.0, q=2.0) == pytest.approx(0.0, abs=0.3)
    b, a = effects.biquad_coefficients("peak", SR, 1000.0, 0.0, 2.0)
    np.testing.assert_allclose(b, a)  # 0 dB is the identity
    with pytest.raises(ValueError, match="biquad kind"):
        effects.biquad_filter(tone(100.0), SR, "notch", 1000.0)


def test_resample_and_fit_length_keep_the_duration():
    x = tone(300.0, 0.5).astype(np.float32)
    y = effects.resample(x, SR, 22050)
    assert y.dtype == np.float32 and len(y) == round(len(x) * 22050 / SR)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.01)
    np.testing.assert_array_equal(effects.fit_length(x, 10), x[:10])
    padded = effects.fit_length(x, len(x) + 5)
    assert len(padded) == len(x) + 5 and not padded[-5:].any()


def test_as_mono_averages_channels_on_either_axis():
    left, right = np.ones(100), np.zeros(100)
    for stereo in (np.stack([left, right], axis=1), np.stack([left, right], axis=0)):
        np.testing.assert_array_equal(effects.as_mono(stereo), np.full(100, 0.5))
    assert effects.as_mono(np.array([np.nan, 1.0])).tolist() == [0.0, 1.0]
