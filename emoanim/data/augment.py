"""Acoustic augmentation for synthetic speech: make clean TTS sound like recordings.

``augment(audio, sr, rng, strength)`` applies, each with a probability that grows with
``strength``: random EQ (shelves and a peak), room reverb (synthetic exponentially decaying
impulse response), telephone band-limiting, additive noise (white / pink / brown / babble-like)
at 15-40 dB SNR, and a random gain. The output has exactly the input's length and no delay
(the impulse response's direct path is at t = 0), so phone timings stay valid; it is scaled
down if needed so it never clips. Everything is drawn from ``rng``: same generator state, same
output.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from emoanim.audio.effects import NOISE_TYPES, active_power, add_noise, biquad_filter, colored_noise

__all__ = ["augment", "NOISE_TYPES"]

_PEAK_MAX = 0.99


def augment(audio: np.ndarray, sample_rate: int, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A randomly degraded copy of ``audio`` (float mono), same length, peak <= 0.99."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return x.astype(np.float32)
    s = float(np.clip(strength, 0.0, 2.0))
    sr = int(sample_rate)
    # Draw every decision up front, so one step's randomness does not depend on another's.
    do_eq, do_reverb, do_phone, do_noise = rng.random(4) < np.array([0.6, 0.5, 0.12, 0.7]) * min(s, 1.0)
    eq_seed, rev_seed, noise_seed = rng.integers(0, 2**63 - 1, size=3)
    gain_db = rng.uniform(-6.0, 6.0) * s

    y = x.copy()
    if do_eq:
        y = _random_eq(y, sr, np.random.default_rng(eq_seed), s)
    if do_reverb:
        y = _reverb(y, sr, np.random.default_rng(rev_seed), s)
    if do_phone and sr > 8000:
        y = _telephone(y, sr)
    if do_noise:
        y = _random_noise(y, sr, np.random.default_rng(noise_seed), s)
    y *= 10 ** (gain_db / 20)
    peak = float(np.max(np.abs(y)))
    if peak > _PEAK_MAX:
        y *= _PEAK_MAX / peak
    return y.astype(np.float32)


def _random_eq(x: np.ndarray, sr: int, rng: np.random.Generator, s: float) -> np.ndarray:
    """Microphone/room coloration: low shelf, high shelf and one peak, each up to +-6 dB."""
    span = 6.0 * min(s, 1.5)
    bands = [
        ("low_shelf", rng.uniform(80, 300), rng.uniform(-span, span), 0.707),
        ("high_shelf", rng.uniform(2500, 6000), rng.uniform(-span, span), 0.707),
        ("peak", math.exp(rng.uniform(math.log(300), math.log(4000))), rng.uniform(-span, span),
         rng.uniform(0.7, 2.0)),
    ]
    use = rng.random(3) < 0.7
    for (kind, f0, g, q), on in zip(bands, use):
        if on:
            x = biquad_filter(x, sr, kind, f0, g, q)
    return x


def _reverb(x: np.ndarray, sr: int, rng: np.random.Generator, s: float) -> np.ndarray:
    """Convolve with a synthetic room response: direct path + exponentially decaying noise tail.

    RT60 0.1-0.6 s (the tail falls 60 dB in RT60 seconds); direct-to-reverberant ratio
    0-12 dB. The direct path sits at sample 0, so nothing is delayed.
    """
    rt60 = rng.uniform(0.1, 0.1 + 0.5 * min(s, 1.0))
    drr_db = rng.uniform(0.0, 12.0)
    n = int(rt60 * 1.2 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # ln(1000) = 6.9078 -> -60 dB at rt60
    pre = int(rng.uniform(0.002, 0.01) * sr)  # first reflections arrive a few ms after the direct sound
    tail[:pre] = 0.0
    # Air/wall absorption: the tail gets darker.
    sos = signal.butter(1, rng.uniform(3000, 7000) if sr > 14000 else 0.4 * sr, fs=sr, output="sos")
    tail = signal.sosfilt(sos, tail)
    tail *= 10 ** (-drr_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    ir = tail
    ir[0] += 1.0
    y = signal.fftconvolve(x, ir, mode="full")[: len(x)]
    # Keep the speech level roughly where it was.
    return y * math.sqrt((active_power(x, sr) + 1e-20) / (active_power(y, sr) + 1e-20))


def _telephone(x: np.ndarray, sr: int) -> np.ndarray:
    """Narrow-band telephone channel: 300-3400 Hz."""
    sos = signal.butter(4, [300.0, min(3400.0, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def _random_noise(x: np.ndarray, sr: int, rng: np.random.Generator, s: float) -> np.ndarray:
    """Add noise at an SNR between 15 and 40 dB (lower SNRs only at full strength)."""
    kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
    snr_db = rng.uniform(40.0 - 25.0 * min(s, 1.0), 40.0)
    noise = colored_noise(len(x), sr, kind, rng)
    return add_noise(x, noise, snr_db, active_power(x, sr))
