"""Post-processing shared by all engines: pitch (sox), pauses, edge silence, voice quality, level.

Pause and edge edits move the phone and word timings with the audio, so timings stay valid.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
from scipy import signal

from emoanim.audio.effects import active_power, biquad_filter, envelope, fit_length, frame_rms, SHELF_Q
from emoanim.data.tts.engine import WordSegment, run_engine
from emoanim.vocabulary import SILENCE, PhoneSegment

PEAK_LIMIT = 0.97


def sox_pitch(audio: np.ndarray, sr: int, semitones: float, timeout: float) -> np.ndarray:
    """Pitch shift keeping the duration (sox's WSOLA ``pitch``); no-op without sox."""
    exe = shutil.which("sox")
    if exe is None:
        return audio
    fmt = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sr)]
    proc = run_engine([exe, "-V1", *fmt, "-", *fmt, "-", "pitch", f"{100.0 * semitones:.1f}"], timeout,
                "sox pitch", data=np.asarray(audio, "<f4").tobytes())
    out = np.frombuffer(proc.stdout, "<f4").astype(np.float32)
    return fit_length(out, len(audio))


def tile(phones: list[PhoneSegment], total: float) -> list[PhoneSegment]:
    """Clamp to [0, total], merge adjacent silences, fill gaps/ends with sil: segments tile the clip."""
    out: list[PhoneSegment] = []

    def push(label: str, a: float, b: float) -> None:
        if b - a <= 1e-6:
            return
        if out and out[-1].phone == SILENCE and label == SILENCE:
            out[-1] = PhoneSegment(SILENCE, out[-1].start, b)
        else:
            out.append(PhoneSegment(label, a, b))

    t = 0.0
    for p in sorted(phones, key=lambda s: s.start):
        a, b = max(p.start, t), min(p.end, total)
        if b <= a:
            continue
        if a > t:
            push(SILENCE, t, a)
        push(p.phone, a, b)
        t = b
    push(SILENCE, t, total)
    if out:  # exact float ends, so downstream code can rely on tiling
        out[0] = PhoneSegment(out[0].phone, 0.0, out[0].end)
        out[-1] = PhoneSegment(out[-1].phone, out[-1].start, total)
    return out


def energy_phones(x: np.ndarray, sr: int) -> list[PhoneSegment]:
    """Speech/silence only (speech labelled 'ah'), when an engine gave no timings."""
    frame = 0.01
    rms = frame_rms(x, sr, frame)
    thr = rms.max() * 10 ** (-40 / 20) if rms.size else 0.0
    active = np.nonzero(rms > thr)[0]
    total = len(x) / sr
    if active.size == 0:
        return [PhoneSegment(SILENCE, 0.0, total)]
    a, b = active[0] * frame, min((active[-1] + 1) * frame, total)
    return tile([PhoneSegment("ah", a, b)], total)


def _splice(x: np.ndarray, at: int, delta: int, fade: int) -> np.ndarray:
    """Insert ``delta`` zeros at sample ``at`` (delta > 0), or remove -delta samples from ``at``
    on, cross-fading the two sides over ``fade`` samples; the length changes by exactly delta."""
    if delta > 0:
        return np.concatenate([x[:at], np.zeros(delta, x.dtype), x[at:]])
    a, b = at, at - delta
    n = min(fade, a, b - a)
    if n <= 0:
        return np.concatenate([x[:a], x[b:]])
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    mid = x[a - n:a] * (1 - ramp) + x[b - n:b] * ramp
    return np.concatenate([x[:a - n], mid, x[b:]])


def _shift_after(t_edit: float, delta_s: float, phones: list[PhoneSegment], seg_idx: int,
                 words: list[WordSegment] | None) -> tuple[list[PhoneSegment], list[WordSegment] | None]:
    new = []
    for i, p in enumerate(phones):
        if i < seg_idx:
            new.append(p)
        elif i == seg_idx:
            new.append(PhoneSegment(p.phone, p.start, p.end + delta_s))
        else:
            new.append(PhoneSegment(p.phone, p.start + delta_s, p.end + delta_s))
    if words is not None:
        words = [WordSegment(w.word, w.start + delta_s if w.start >= t_edit else w.start,
                             w.end + delta_s if w.end > t_edit else w.end) for w in words]
    return new, words


def scale_pauses(x: np.ndarray, sr: int, phones: list[PhoneSegment], words: list[WordSegment] | None,
                 scale: float) -> tuple[np.ndarray, list[PhoneSegment], list[WordSegment] | None]:
    """Stretch/shrink pauses inside the utterance, editing their middle; timings move along."""
    fade = int(0.005 * sr)
    # Walk from the end so earlier indices stay valid while later audio shifts.
    for i in range(len(phones) - 2, 0, -1):
        p = phones[i]
        if p.phone != SILENCE or p.duration < 0.05:
            continue
        new_d = max(0.03, p.duration * scale)
        delta = int(round((new_d - p.duration) * sr))
        if delta == 0:
            continue
        mid = int(round((p.start + p.duration / 2) * sr))
        at = mid if delta > 0 else mid - (-delta) // 2
        x = _splice(x, at, delta, fade)
        phones, words = _shift_after(p.start + p.duration / 2, delta / sr, phones, i, words)
    return x, tile(phones, len(x) / sr), words


def set_edges(x: np.ndarray, sr: int, phones: list[PhoneSegment], words: list[WordSegment] | None,
              lead: float, trail: float) -> tuple[np.ndarray, list[PhoneSegment], list[WordSegment] | None]:
    """Make the leading/trailing silence exactly ``lead``/``trail`` seconds."""
    head = phones[0].duration if phones[0].phone == SILENCE else 0.0
    tail = phones[-1].duration if phones[-1].phone == SILENCE and len(phones) > 1 else 0.0
    d_head = int(round(lead * sr)) - int(round(head * sr))
    if d_head > 0:
        x = np.concatenate([np.zeros(d_head, x.dtype), x])
    elif d_head < 0:
        x = x[-d_head:]
    shift = d_head / sr
    phones = [PhoneSegment(p.phone, p.start + shift, p.end + shift) for p in phones]
    if words is not None:
        words = [WordSegment(w.word, w.start + shift, w.end + shift) for w in words]
    speech_end = phones[-1].start if tail > 0 else phones[-1].end
    n_end = int(round(speech_end * sr)) + int(round(trail * sr))
    x = fit_length(x, n_end)
    return x, tile(phones, len(x) / sr), words


def apply_voice_quality(x: np.ndarray, sr: int, quality: str, strength: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Cheap DSP caricatures of phonation types; ``strength`` 0..1."""
    if quality == "modal" or strength <= 0 or len(x) == 0:
        return x
    s = float(np.clip(strength, 0.0, 1.0))
    x64 = x.astype(np.float64)
    peak = float(np.max(np.abs(x64))) or 1.0
    if quality == "tense":
        # Pressed voice: flatter glottal pulses (soft clipping adds harmonics) and more energy
        # in the high frequencies (less spectral tilt).
        drive = 1.0 + 2.0 * s
        y = np.tanh(drive * x64 / peak) / math.tanh(drive) * peak
        y = biquad_filter(y, sr, "high_shelf", 2500.0, 5.0 * s, SHELF_Q)
    elif quality == "breathy":
        # Turbulent airflow: band-passed noise that follows the speech envelope, and a darker
        # (low-passed) harmonic spectrum.
        hi = min(6000.0, 0.45 * sr)
        sos = signal.butter(2, [1500.0, hi], btype="bandpass", fs=sr, output="sos")
        noise = signal.sosfilt(sos, rng.standard_normal(len(x64)))
        noise /= np.sqrt(np.mean(noise**2)) + 1e-12
        env = envelope(x64, sr)
        lp = signal.butter(2, min(3500.0 - 1500.0 * s, 0.45 * sr), fs=sr, output="sos")
        y = signal.sosfilt(lp, x64) + (0.35 * s) * env * noise
    elif quality == "creaky":
        # Vocal fry: slow, irregular amplitude pulsing (~25-50 Hz with period jitter).
        n = len(x64)
        lens = rng.integers(sr // 50, sr // 25 + 1, size=n // (sr // 50) + 2)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        idx = np.repeat(np.arange(len(lens)), lens)[:n]
        phase = (np.arange(n) - starts[idx]) / lens[idx]
        pulse = np.exp(-4.0 * phase) * rng.uniform(0.3, 1.0, size=len(lens))[idx]
        mod = 1.0 - 0.55 * s + 0.55 * s * 2.0 * pulse
        y = biquad_filter(x64 * mod, sr, "low_shelf", 300.0, 3.0 * s, SHELF_Q)
    else:
        raise ValueError(f"unknown voice quality {quality!r}")
    return y.astype(np.float32)


def set_level(x: np.ndarray, sr: int, target_dbfs: float) -> np.ndarray:
    """Scale active speech to ``target_dbfs`` RMS, then soft-limit peaks below full scale."""
    power = active_power(x, sr)
    if power <= 0:
        return x
    level = math.sqrt(power)
    y = x.astype(np.float64) * (10 ** (target_dbfs / 20) / level)
    # Soft knee above 0.8: y -> 0.8 + 0.17 tanh(...), so |y| < 0.97 always; no hard clipping.
    knee, room = 0.8, PEAK_LIMIT - 0.8
    mag = np.abs(y)
    over = mag > knee
    if np.any(over):
        y[over] = np.sign(y[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return y.astype(np.float32)
