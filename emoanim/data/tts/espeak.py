"""espeak-ng voices for the synthetic corpus, with exact phone timings (the library session: audio.pronounce).

espeak-ng reports every phoneme with its audio position (``espeakEVENT_PHONEME``), so phone
timings are exact. Style goes through the engine's own rate / pitch / pitch-range controls.
"""

from __future__ import annotations

import numpy as np

# The ctypes session and the phoneme tables live in the audio layer, shared with the aligner's
# letter-to-sound rules; names kept here for the corpus code and its tests.
from emoanim.audio.pronounce import (  # noqa: F401
    _ESPEAK_ACCENT,
    _ESPEAK_MAP,
    _P_PITCH,
    _P_RANGE,
    _P_RATE,
    _P_VOLUME,
    _P_WORDGAP,
    ESPEAK_LANGUAGES,
    EspeakSession,
    espeak_phonemes,
    map_espeak,
)
from emoanim.data.tts.engine import EngineOutput, WordSegment
from emoanim.data.tts.voices import Voice, make_voice
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import SILENCE, PhoneSegment

_map_espeak = map_espeak  # the name the tests know

# Curated variants (files in espeak-ng-data/voices/!v): human-sounding ones only (no whisper,
# robots or joke voices), balanced between genders. "" is the language's own default voice.
ESPEAK_VARIANTS: dict[str, str] = {
    "": "m", "m1": "m", "m2": "m", "m3": "m", "m4": "m", "m6": "m", "m7": "m", "m8": "m",
    "klatt2": "m", "klatt3": "m",
    "f1": "f", "f2": "f", "f3": "f", "f4": "f", "f5": "f",
    "Annie": "f", "Alicia": "f", "anika": "f", "belinda": "f", "steph": "f",
}  # fmt: skip


def espeak_voices() -> list[Voice]:
    """The installed accent x variant voices (none when the library is missing)."""
    try:
        with EspeakSession() as session:
            available = session.voice_files()
            variants_dir = session.data_path() / "voices" / "!v"
    except EmoAnimError:
        return []
    out = []
    for lang, ident in ESPEAK_LANGUAGES.items():
        if ident.lower() not in available:
            continue
        for variant, gender in ESPEAK_VARIANTS.items():
            if variant and not (variants_dir / variant).is_file():
                continue
            vid = f"espeak/{lang}" + (f"+{variant}" if variant else "")
            out.append(make_voice(vid, "espeak", ident, lang, variant, gender))
    return out


def _espeak_pitch_param(semitones: float) -> int:
    # Measured on espeak-ng 1.51: median F0 moves ~0.17 st per unit above the default 50 and
    # ~0.14 st per unit below it (the table is not symmetric). 0..99 spans about -7..+8 st.
    units = semitones / 0.17 if semitones >= 0 else semitones / 0.14
    return int(round(np.clip(50 + units, 0, 99)))


def espeak_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                 timeout: float) -> EngineOutput:
    params = {
        _P_RATE: int(round(np.clip(175 * rate, 80, 450))),  # words per minute; 175 is the default
        _P_PITCH: _espeak_pitch_param(pitch),
        _P_RANGE: int(round(np.clip(50 * pitch_range, 0, 99))),  # 50 = the voice's own range
        _P_VOLUME: 100,
        _P_WORDGAP: 0,
    }
    name = voice.engine_voice + (f"+{voice.variant}" if voice.variant else "")
    with EspeakSession() as session:
        pcm, events = session.synth(text, name, params, timeout)
        sr = session.sample_rate
    audio = pcm.astype(np.float32) / 32768.0
    phones, words = _espeak_events_to_segments(events, text, sr, len(audio), voice.language)
    # Pitch beyond espeak's 0..99 range is not reachable; the rest is done by the engine.
    return EngineOutput(audio, sr, phones, words, pitch_done=True)


def _espeak_events_to_segments(events: list[tuple], text: str, sr: int, n_samples: int,
                               language: str) -> tuple[list[PhoneSegment], list[WordSegment]]:
    """Phoneme events (start times, in order) -> phone segments; word events -> word spans."""
    total = n_samples / sr
    starts: list[tuple[float, str, int]] = []  # (time, espeak phoneme, word index)
    word_spans: list[tuple[int, int]] = []
    word_idx = -1
    for ev in events:
        if ev[0] == "W":
            word_idx += 1
            word_spans.append((ev[1], ev[2]))
        else:
            _, name, sample, ms = ev
            # 'sample' is the exact sample index; fall back to the ms position if it looks off.
            t = sample / sr if abs(sample / sr - ms / 1000.0) < 0.005 else ms / 1000.0
            starts.append((min(max(t, 0.0), total), name, word_idx))
    phones: list[PhoneSegment] = []
    phone_words: list[int] = []
    for i, (t0, name, widx) in enumerate(starts):
        t1 = starts[i + 1][0] if i + 1 < len(starts) else total
        if t1 <= t0:
            continue
        labels = map_espeak(name, language)
        # An r-coloured vowel expanded to "... r" followed by an explicit r: keep one r.
        if len(labels) > 1 and i + 1 < len(starts) and labels[-1] == "r" and starts[i + 1][1].startswith("r"):
            labels = labels[:-1]
        step = (t1 - t0) / len(labels)
        for k, lab in enumerate(labels):
            phones.append(PhoneSegment(lab, t0 + k * step, t0 + (k + 1) * step))
            phone_words.append(-1 if lab == SILENCE else widx)
    words: list[WordSegment] = []
    for w, (pos, length) in enumerate(word_spans):
        idx = [i for i, pw in enumerate(phone_words) if pw == w]
        if not idx:
            continue
        word_text = text[max(pos - 1, 0): max(pos - 1, 0) + max(length, 0)].strip() or f"<w{w}>"
        words.append(WordSegment(word_text, phones[idx[0]].start, phones[idx[-1]].end))
    return phones, words
