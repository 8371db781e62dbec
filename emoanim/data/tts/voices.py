"""The synthetic speakers: one ``Voice`` per (engine, engine voice, accent, variant)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

ENGINES: tuple[str, ...] = ("espeak", "flite", "festival")


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    ``engine_voice`` is what the engine is given: the espeak-ng language voice file
    (``gmw/en-US``), the flite voice name (``slt``) or the festival voice (``kal_diphone``).
    ``pitch_offset`` (semitones) and ``rate_offset`` (multiplier) are small fixed per-voice
    tweaks, derived from the id, so that voices sharing a model still sound different.
    """

    id: str
    engine: str
    engine_voice: str
    language: str = "en-us"
    variant: str = ""  # espeak-ng voice variant ("m3", "f2", "klatt2"); "" = the language default
    gender: str = "?"  # 'm' / 'f' / '?'
    pitch_offset: float = 0.0
    rate_offset: float = 1.0


def voice_offsets(voice_id: str) -> tuple[float, float]:
    """Fixed per-voice pitch (+-1.5 st) and rate (+-7 %) tweaks, stable across runs (crc32)."""
    h = zlib.crc32(voice_id.encode("utf-8"))
    u1 = (h & 0xFFFF) / 0xFFFF
    u2 = (h >> 16) / 0xFFFF
    return round(3.0 * u1 - 1.5, 2), round(0.93 + 0.14 * u2, 3)


def make_voice(voice_id: str, engine: str, engine_voice: str, language: str, variant: str, gender: str) -> Voice:
    """A ``Voice`` with its id-derived pitch and rate offsets."""
    pitch, rate = voice_offsets(voice_id)
    return Voice(voice_id, engine, engine_voice, language, variant, gender, pitch, rate)
