"""One call for every engine: ``synthesize(text, voice, style)`` -> audio with timed phones."""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from emoanim.audio.effects import resample
from emoanim.data.tts.engine import DEFAULT_TIMEOUT_S, WordSegment
from emoanim.data.tts.espeak import espeak_synth, espeak_voices
from emoanim.data.tts.festival import festival_synth, festival_voices
from emoanim.data.tts.flite import flite_synth, flite_voices
from emoanim.data.tts.postprocess import (
    apply_voice_quality,
    energy_phones,
    scale_pauses,
    set_edges,
    set_level,
    sox_pitch,
    tile,
)
from emoanim.data.tts.prosody import ProsodyStyle
from emoanim.data.tts.voices import ENGINES, Voice
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import SAMPLE_RATE, PhoneSegment

REFERENCE_DBFS = -26.0  # active-speech RMS of a neutral clip; emotion loudness is relative to it


def list_voices(engine: str | None = None) -> list[Voice]:
    """All voices of the installed engines (optionally one engine), in a stable order."""
    if engine is not None and engine not in ENGINES:
        raise EmoAnimError(f"unknown TTS engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    voices = _all_voices()
    return [v for v in voices if engine is None or v.engine == engine]


@functools.lru_cache(maxsize=1)
def _all_voices() -> tuple[Voice, ...]:
    return tuple(espeak_voices()) + tuple(flite_voices()) + tuple(festival_voices())


@dataclass
class SpeechClip:
    """Synthesized speech: float32 mono audio in [-1, 1] and (when known) timed phones/words."""

    audio: np.ndarray
    sample_rate: int
    phones: list[PhoneSegment] | None
    words: list[WordSegment] | None = None
    text: str = ""
    voice_id: str = ""
    style: ProsodyStyle = field(default_factory=ProsodyStyle)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def synthesize(
    text: str,
    voice: Voice,
    style: ProsodyStyle | None = None,
    sample_rate: int = SAMPLE_RATE,
    rng: np.random.Generator | None = None,
    *,
    lead_silence: float = 0.2,
    trail_silence: float = 0.25,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> SpeechClip:
    """Speak ``text`` with ``voice`` in ``style``; phones (if known) tile the whole clip.

    ``lead_silence`` / ``trail_silence`` set the silence before and after the speech (engines
    differ here, so we normalise). ``rng`` seeds the voice-quality noise; without it a seed is
    derived from the inputs, so the result is deterministic either way.
    """
    style = style or ProsodyStyle()
    clean = " ".join(str(text).split())
    if not re.search(r"[A-Za-z0-9]", clean):
        raise EmoAnimError(f"nothing to speak in text {text!r}: give at least one word")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000, got {sample_rate}")
    if rng is None:
        rng = np.random.default_rng(zlib.crc32(f"{clean}|{voice.id}|{style}".encode("utf-8")))

    pitch = voice.pitch_offset + style.pitch_shift
    rate = float(np.clip(voice.rate_offset * style.rate, 0.4, 2.5))
    if voice.engine == "espeak":
        raw = espeak_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    elif voice.engine == "flite":
        raw = flite_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    elif voice.engine == "festival":
        raw = festival_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    else:
        raise EmoAnimError(f"unknown TTS engine '{voice.engine}' in voice {voice.id}")

    audio, sr = raw.audio, raw.sample_rate
    if not raw.pitch_done and abs(pitch) > 0.05:
        audio = sox_pitch(audio, sr, pitch, timeout)
    audio = resample(audio, sr, sample_rate)
    phones = tile(raw.phones, len(audio) / sample_rate) if raw.phones else None
    words = raw.words
    if phones is None:
        phones = energy_phones(audio, sample_rate)  # only speech/silence: lets edges be set
        unknown_phones = True
    else:
        unknown_phones = False
    if abs(style.pause_scale - 1.0) > 1e-3:
        audio, phones, words = scale_pauses(audio, sample_rate, phones, words, style.pause_scale)
    audio, phones, words = set_edges(audio, sample_rate, phones, words, lead_silence, trail_silence)
    audio = apply_voice_quality(audio, sample_rate, style.voice_quality, style.quality_strength, rng)
    audio = set_level(audio, sample_rate, REFERENCE_DBFS + style.loudness_db)
    return SpeechClip(
        audio=audio.astype(np.float32), sample_rate=sample_rate,
        phones=None if unknown_phones else phones, words=words,
        text=clean, voice_id=voice.id, style=style,
    )
