"""What every engine wrapper shares: its output type, word spans, and running engine binaries.

flite speaks CMU phones and festival its "radio" set; both report segment end times, which
``segments_from_ends`` turns into ARPAbet phone segments.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.vocabulary import ARPABET, SILENCE, PhoneSegment

DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WordSegment:
    """One word and its span in seconds."""

    word: str
    start: float
    end: float


@dataclass
class EngineOutput:
    """An engine's output before the shared post-processing."""

    audio: np.ndarray  # float32 mono
    sample_rate: int
    phones: list[PhoneSegment] | None
    words: list[WordSegment] | None
    pitch_done: bool  # engine applied the pitch shift itself


# flite's cmu phone set and festival's radio phone set -> ARPAbet.
_CMU_MAP: dict[str, tuple[str, ...]] = {
    "pau": (SILENCE,), "h#": (SILENCE,), "brth": (SILENCE,), "#": (SILENCE,), "ssil": (SILENCE,),
    "ax": ("ah",), "axr": ("er",), "ix": ("ih",), "ux": ("uw",), "dx": ("t",), "hv": ("hh",),
    "nx": ("n",), "q": ("t",), "el": ("ah", "l"), "em": ("m",), "en": ("n",), "eng": ("ng",),
}  # fmt: skip


def map_cmu_phone(name: str) -> tuple[str, ...]:
    """One flite/festival phone (stress digits allowed) -> ARPAbet phones; unknown -> 'ah'."""
    key = name.strip().lower()
    if key in _CMU_MAP:
        return _CMU_MAP[key]
    key = key.rstrip("012")
    return (key,) if key in ARPABET else ("ah",)


def segments_from_ends(items: list[tuple[str, float]], total: float) -> list[PhoneSegment]:
    """[(phone, end time)] -> segments starting at 0; ends past the audio are clamped."""
    out: list[PhoneSegment] = []
    t0 = 0.0
    for name, end in items:
        t1 = min(end, total)
        if t1 <= t0:
            continue
        labels = map_cmu_phone(name)
        step = (t1 - t0) / len(labels)
        out.extend(PhoneSegment(lab, t0 + k * step, t0 + (k + 1) * step) for k, lab in enumerate(labels))
        t0 = t1
    return out


def ascii_text(text: str) -> str:
    # flite and festival read bytes as Latin-1/ASCII; strip accents and odd symbols.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def need_binary(binary: str, package: str) -> str:
    """The path of an engine binary, or an error that says which package to install."""
    exe = shutil.which(binary)
    if exe is None:
        raise EmoAnimError(f"{binary} is not installed: install it with `apt-get install {package}`.")
    return exe


def run_engine(cmd: list[str], timeout: float, what: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    """Run an engine binary; timeouts and failures become one-line EmoAnimErrors."""
    try:
        if data is None:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        else:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, input=data)
    except subprocess.TimeoutExpired as exc:
        raise EmoAnimError(f"{what} took longer than {timeout:.0f} s and was stopped") from exc
    except OSError as exc:
        raise EmoAnimError(f"could not run {what} ({exc})") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EmoAnimError(f"{what} failed (exit {proc.returncode}): {err[-1] if err else 'no message'}")
    return proc


def read_wav(path: Path, what: str) -> tuple[np.ndarray, int]:
    """float32 mono audio and its rate from an engine's 16-bit WAV (channels averaged)."""
    try:
        with wave.open(str(path), "rb") as w:
            sr, n, width, ch = w.getframerate(), w.getnframes(), w.getsampwidth(), w.getnchannels()
            data = w.readframes(n)
    except (OSError, EOFError, wave.Error) as exc:
        raise EmoAnimError(f"{what} produced no readable audio ({exc})") from exc
    if width != 2 or n == 0:
        raise EmoAnimError(f"{what} produced unexpected audio ({n} frames, {8 * width}-bit)")
    x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x, sr
