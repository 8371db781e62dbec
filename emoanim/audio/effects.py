"""Generic audio DSP for making and degrading training speech: levels, filters, noise, resampling.

Mono float arrays throughout. Filters are designed here and run by ``scipy.signal``; nothing
draws randomness except through the ``rng`` it is given, so the same generator state gives the
same output. Used by the synthetic corpus (TTS post-processing, augmentation) and by training.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

NOISE_TYPES: tuple[str, ...] = ("white", "pink", "brown", "babble")
BIQUAD_KINDS: tuple[str, ...] = ("low_shelf", "high_shelf", "peak")
SHELF_Q = 1.0 / math.sqrt(2.0)  # Q of an RBJ shelf with slope S = 1 (the steepest without overshoot)
ACTIVE_FLOOR_DB = -35.0  # frames this far below the loudest count as pauses, not speech


# ---- shape, length and rate ------------------------------------------------------------------


def as_mono(audio: np.ndarray) -> np.ndarray:
    """[N] float64 mono from [N], [N, C] or [C, N] audio (channels averaged; NaN -> 0)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:  # the longer axis is time
        x = x.mean(axis=1) if x.shape[0] > x.shape[1] else x.mean(axis=0)
    return np.nan_to_num(x.ravel())


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded at the end to exactly ``n`` samples."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x), x.dtype)])


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """float32 ``x`` at ``sr_out`` (polyphase), ``round(len * sr_out / sr_in)`` samples long."""
    if sr_in == sr_out:
        return x.astype(np.float32)
    g = math.gcd(sr_in, sr_out)
    y = signal.resample_poly(x.astype(np.float64), sr_out // g, sr_in // g)
    return fit_length(y.astype(np.float32), int(round(len(x) * sr_out / sr_in)))


# ---- levels -----------------------------------------------------------------------------------


def frame_power(x: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    """[frames] float64 mean power of consecutive ``frame_s`` frames (a short clip: one frame)."""
    n = max(1, int(sr * frame_s))
    m = len(x) // n
    if m == 0:
        return np.array([float(np.mean(np.square(x.astype(np.float64)))) if len(x) else 0.0])
    return np.mean(np.square(x[: m * n].reshape(m, n).astype(np.float64)), axis=1)


def frame_rms(x: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    """[frames] float64 RMS of consecutive ``frame_s`` frames."""
    return np.sqrt(frame_power(x, sr, frame_s))


def active_power(x: np.ndarray, sr: int, floor_db: float = ACTIVE_FLOOR_DB) -> float:
    """Mean power of the active (non-pause) 20 ms frames: SNRs and levels refer to speech, not silence."""
    p = frame_power(x, sr)
    if p.max() <= 0:
        return 0.0
    return float(np.mean(p[p > p.max() * 10 ** (floor_db / 10)]))


def envelope(x: np.ndarray, sr: int, cutoff: float = 30.0) -> np.ndarray:
    """Amplitude envelope: ``|x|`` low-passed at ``cutoff`` Hz without delay (forward-backward)."""
    sos = signal.butter(2, cutoff, fs=sr, output="sos")
    return np.maximum(signal.sosfiltfilt(sos, np.abs(x)), 0.0)


# ---- filters ----------------------------------------------------------------------------------


def biquad_filter(
    x: np.ndarray, sr: int, kind: str, f0: float, gain_db: float = 0.0, q: float = SHELF_Q
) -> np.ndarray:
    """``x`` through one RBJ audio-EQ-cookbook biquad: 'low_shelf', 'high_shelf' or 'peak'.

    Shelves change the level below/above ``f0`` by ``gain_db``; a peak changes it around ``f0``
    with bandwidth set by ``q``. ``f0`` is capped at 0.45 ``sr`` so the design stays stable.
    """
    b, a = biquad_coefficients(kind, sr, f0, gain_db, q)
    return signal.lfilter(b, a, x)


def biquad_coefficients(
    kind: str, sr: int, f0: float, gain_db: float = 0.0, q: float = SHELF_Q
) -> tuple[np.ndarray, np.ndarray]:
    """(b[3], a[3]) of an RBJ cookbook biquad, normalised so ``a[0] == 1``.

    scipy.signal designs peaking notches (iirpeak) but no shelves or peaking EQ, hence the
    cookbook formulas (R. Bristow-Johnson, "Audio EQ Cookbook").
    """
    if kind not in BIQUAD_KINDS:
        raise ValueError(f"unknown biquad kind {kind!r}; choose one of {BIQUAD_KINDS}")
    a_lin = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * min(f0, 0.45 * sr) / sr
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin]
    else:
        sq = 2 * math.sqrt(a_lin) * alpha
        sgn = 1 if kind == "high_shelf" else -1
        b = [a_lin * ((a_lin + 1) + sgn * (a_lin - 1) * cw + sq),
             -2 * sgn * a_lin * ((a_lin - 1) + sgn * (a_lin + 1) * cw),
             a_lin * ((a_lin + 1) + sgn * (a_lin - 1) * cw - sq)]
        a = [(a_lin + 1) - sgn * (a_lin - 1) * cw + sq,
             2 * sgn * ((a_lin - 1) - sgn * (a_lin + 1) * cw),
             (a_lin + 1) - sgn * (a_lin - 1) * cw - sq]  # fmt: skip
    b, a = np.array(b), np.array(a)
    return b / a[0], a / a[0]


# ---- noise ------------------------------------------------------------------------------------


def colored_noise(n: int, sr: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """[n] float64 noise of one of ``NOISE_TYPES`` (unscaled; ``add_noise`` sets the level)."""
    if kind not in NOISE_TYPES:
        raise ValueError(f"unknown noise type {kind!r}; choose one of {NOISE_TYPES}")
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    if kind in ("pink", "brown"):
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1] if n > 1 else 1.0
        spec /= f ** (0.5 if kind == "pink" else 1.0)  # power 1/f (pink) or 1/f^2 (brown)
        return np.fft.irfft(spec, n)
    # Babble-like: a few "talkers" of speech-shaped noise, each with a syllable-rate (3-7 Hz)
    # on/off envelope, so the noise fluctuates like overlapping speech.
    out = np.zeros(n)
    t = np.arange(n) / sr
    for _ in range(int(rng.integers(3, 7))):
        lo = rng.uniform(150, 400)
        hi = min(rng.uniform(2500, 4500), 0.45 * sr)
        sos = signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")
        talker = signal.sosfilt(sos, rng.standard_normal(n))
        rate = rng.uniform(3.0, 7.0)
        env = np.clip(np.sin(2 * math.pi * rate * t + rng.uniform(0, 2 * math.pi))
                      + rng.uniform(-0.3, 0.6), 0.0, None)  # fmt: skip
        out += talker * env
    return out


def add_noise(
    x: np.ndarray, noise: np.ndarray, snr_db: float, signal_power: float | None = None
) -> np.ndarray:
    """``x + noise``, the noise scaled so that ``signal_power / noise power`` is ``snr_db``.

    ``signal_power`` defaults to the mean power of ``x``; pass ``active_power(x, sr)`` to refer
    the SNR to the speech alone. Silent ``x`` or ``noise`` gives ``x`` back unchanged.
    """
    p_signal = float(np.mean(np.square(x, dtype=np.float64))) if signal_power is None else signal_power
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_noise <= 0 or p_signal <= 0:
        return x
    return x + noise * math.sqrt(p_signal / p_noise * 10 ** (-snr_db / 10))


# ---- rooms, channels and tempo (training augmentation for real-speech conditions) --------------


def synthetic_room_ir(sr: int, rt60: float, rng: np.random.Generator, predelay_s: float = 0.0) -> np.ndarray:
    """[L] float64 impulse response of a made-up room: a unit direct path, then exponentially
    decaying noise (-60 dB after ``rt60`` seconds) that is low-passed as it decays (air and walls
    absorb the highs first). Normalised to unit energy. L = ``rt60 * sr`` samples."""
    n = max(2, int(rt60 * sr))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # ln(1000) = 6.9078: -60 dB at rt60
    half = n // 2  # second half darker: a one-pole low-pass blended in over the tail
    dark = signal.lfilter([0.35], [1.0, -0.65], tail)
    w = np.clip(t / max(t[-1], 1e-9), 0.0, 1.0)
    tail = (1 - w) * tail + w * dark
    tail[: max(1, int(0.002 * sr))] = 0.0  # no reflections in the first 2 ms
    ir = np.zeros(n + int(predelay_s * sr))
    ir[int(predelay_s * sr)] = 1.0
    ir[int(predelay_s * sr):] += 0.5 * tail[: n] / max(np.sqrt(np.mean(tail[:half] ** 2)) * np.sqrt(sr * rt60 / 4), 1e-9)
    return ir / np.sqrt(np.sum(ir**2))


def add_reverb(x: np.ndarray, ir: np.ndarray, wet: float = 1.0) -> np.ndarray:
    """``x`` convolved with ``ir`` (fftconvolve, cut to ``len(x)``: no delay, the labels still fit),
    mixed ``wet`` : ``1 - wet`` with the dry signal and rescaled to the dry signal's RMS."""
    y = signal.fftconvolve(x.astype(np.float64), ir)[: len(x)]
    y = wet * y + (1.0 - wet) * x
    rms_in, rms_out = np.sqrt(np.mean(np.square(x, dtype=np.float64))), np.sqrt(np.mean(y**2))
    return (y * (rms_in / rms_out if rms_out > 0 else 1.0)).astype(np.float32)


def band_limit(x: np.ndarray, sr: int, low: float, high: float, order: int = 4) -> np.ndarray:
    """``x`` through a Butterworth band-pass ``low``..``high`` Hz (zero phase); ``high`` is capped
    at 0.45 ``sr``."""
    sos = signal.butter(order, [low, min(high, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    return signal.sosfiltfilt(sos, x.astype(np.float64)).astype(np.float32)


def telephone_channel(x: np.ndarray, sr: int, narrow_sr: int = 8000) -> np.ndarray:
    """``x`` as if it came down a phone line: band-passed 300-3400 Hz, resampled to ``narrow_sr``
    and back to ``sr`` (same length), then mu-law companded to 8 bits and back."""
    y = band_limit(x, sr, 300.0, 3400.0)
    y = resample(resample(y, sr, narrow_sr), narrow_sr, sr)
    peak = float(np.max(np.abs(y))) or 1.0
    mu = 255.0
    z = np.sign(y / peak) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
    z = np.round(z * 127) / 127  # 8-bit codes
    y = np.sign(z) * np.expm1(np.abs(z) * np.log1p(mu)) / mu * peak
    return fit_length(y.astype(np.float32), len(x))


def time_stretch(x: np.ndarray, sr: int, rate: float, frame_s: float = 0.03, search_s: float = 0.01) -> np.ndarray:
    """``x`` played ``rate`` times faster *without* changing pitch or formants (WSOLA: overlap-add of
    Hann frames, each shifted by up to ``search_s`` to continue the previous one's waveform).
    Output has ``round(len(x) / rate)`` samples; times in ``x`` map to ``t / rate``."""
    n_out = int(round(len(x) / rate))
    if abs(rate - 1.0) < 1e-6 or len(x) < 4 * int(frame_s * sr):
        return fit_length(x.astype(np.float32), n_out) if abs(rate - 1.0) >= 1e-6 else x.astype(np.float32)
    L = int(frame_s * sr) // 2 * 2
    hop = L // 2
    delta = int(search_s * sr)
    win = np.hanning(L)
    xp = np.concatenate([np.zeros(delta), x.astype(np.float64), np.zeros(L + delta + int(rate * hop) + 1)])
    out = np.zeros(n_out + L)
    norm = np.zeros(n_out + L)
    prev = 0  # input position (in xp, after the padding) of the last frame used
    for k in range((n_out + hop - 1) // hop + 1):
        centre = delta + int(round(k * hop * rate))  # where the frame would come from at this rate
        if k == 0:
            pos = centre
        else:
            want = xp[prev + hop : prev + hop + L]  # the natural continuation of the last frame
            cand = xp[centre - delta : centre + delta + L]
            corr = np.correlate(cand, want * win, mode="valid")
            pos = centre - delta + int(np.argmax(corr))
        o = k * hop
        if o >= len(out):
            break
        seg = xp[pos : pos + L] * win
        m = min(L, len(out) - o)
        out[o : o + m] += seg[:m]
        norm[o : o + m] += win[:m]
        prev = pos
    y = out[:n_out] / np.maximum(norm[:n_out], 1e-3)
    return y.astype(np.float32)
