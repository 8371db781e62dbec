"""Emotional text-to-speech for the synthetic corpus: many voices, emotion prosody, phone timings.

Three offline engines are wrapped behind one call, :func:`synthesize`:

* **espeak-ng**, in-process through its C library (ctypes). It reports every phoneme with its
  audio position (``espeakEVENT_PHONEME``), so its phone timings are exact. Style is applied
  with the engine's own rate / pitch / pitch-range controls.
* **flite** (CLI). ``-psdur`` prints each segment with its end time, so its timings are exact
  too; style goes through ``duration_stretch``, ``f0_shift`` and ``int_f0_target_stddev``.
* **festival** (CLI, a Scheme script per clip). ``utt.save.segs`` writes segment end times;
  style goes through ``Duration_Stretch`` and ``int_lr_params`` (diphone voices) or the HTS
  engine's speed option.

Where an engine has no pitch control (festival's HTS voice, flite's rms) pitch is shifted
afterwards with sox, which keeps the length, so timings stay valid. Pauses, edge silence,
voice quality and loudness are post-processing shared by all engines; pause edits move the
phone timings with the audio.

Every clip is deterministic for a given (text, voice, style, rng seed).
"""

from __future__ import annotations

import _ctypes
import ctypes
import ctypes.util
import functools
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
import wave
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

from emoanim.vocabulary import canonical_emotion, check_intensity
from emoanim.vocabulary import ARPABET, SILENCE, PhoneSegment
from emoanim.errors import EmoAnimError

__all__ = [
    "ENGINES",
    "VOICE_QUALITIES",
    "ProsodyStyle",
    "SpeechClip",
    "Voice",
    "WordSegment",
    "emotion_prosody",
    "espeak_phonemes",
    "list_voices",
    "synthesize",
]

ENGINES: tuple[str, ...] = ("espeak", "flite", "festival")
VOICE_QUALITIES: tuple[str, ...] = ("modal", "tense", "breathy", "creaky")

_DEFAULT_TIMEOUT_S = 60.0
_REFERENCE_DBFS = -26.0  # active-speech RMS of a neutral clip; emotion loudness is relative to it
_PEAK_LIMIT = 0.97


# --------------------------------------------------------------------------------------------
# Voices
# --------------------------------------------------------------------------------------------


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


# espeak-ng English accents we use: language code -> voice file (checked against the install).
_ESPEAK_LANGUAGES: dict[str, str] = {
    "en-us": "gmw/en-US",
    "en-gb": "gmw/en",
    "en-gb-scotland": "gmw/en-GB-scotland",
    "en-gb-x-rp": "gmw/en-GB-x-rp",
    "en-gb-x-gbclan": "gmw/en-GB-x-gbclan",
    "en-gb-x-gbcwmd": "gmw/en-GB-x-gbcwmd",
    "en-029": "gmw/en-029",
    "en-us-nyc": "gmw/en-US-nyc",
}
# Curated variants (files in espeak-ng-data/voices/!v): human-sounding ones only (no whisper,
# robots or joke voices), balanced between genders. "" is the language's own default voice.
_ESPEAK_VARIANTS: dict[str, str] = {
    "": "m", "m1": "m", "m2": "m", "m3": "m", "m4": "m", "m6": "m", "m7": "m", "m8": "m",
    "klatt2": "m", "klatt3": "m",
    "f1": "f", "f2": "f", "f3": "f", "f4": "f", "f5": "f",
    "Annie": "f", "Alicia": "f", "anika": "f", "belinda": "f", "steph": "f",
}  # fmt: skip

# flite voice -> (gender, default duration_stretch, default int_f0 stddev in Hz, pitch control).
# Defaults come from flite's voice definitions (kal: 1.1 stretch / 14 Hz; cg voices: measured).
# rms ignores f0 features, so its pitch is shifted with sox instead.
_FLITE_VOICES: dict[str, tuple[str, float, float, bool]] = {
    "kal": ("m", 1.1, 11.0, True),
    "kal16": ("m", 1.1, 14.0, True),
    "awb": ("m", 1.0, 25.0, True),
    "rms": ("m", 1.0, 0.0, False),
    "slt": ("f", 1.0, 27.0, True),
}
# festival voice -> (gender, accent, default Duration_Stretch, target f0 mean, target f0 std, kind)
_FESTIVAL_VOICES: dict[str, tuple[str, str, float, float, float, str]] = {
    "kal_diphone": ("m", "en-us", 1.1, 105.0, 14.0, "diphone"),
    "ked_diphone": ("m", "en-us", 1.1, 105.0, 15.0, "diphone"),
    "cmu_us_slt_arctic_hts": ("f", "en-us", 1.0, 0.0, 0.0, "hts"),
}


def _voice_offsets(voice_id: str) -> tuple[float, float]:
    """Fixed per-voice pitch (+-1.5 st) and rate (+-7 %) tweaks, stable across runs (crc32)."""
    h = zlib.crc32(voice_id.encode("utf-8"))
    u1 = (h & 0xFFFF) / 0xFFFF
    u2 = (h >> 16) / 0xFFFF
    return round(3.0 * u1 - 1.5, 2), round(0.93 + 0.14 * u2, 3)


def _make_voice(voice_id: str, engine: str, engine_voice: str, language: str, variant: str,
                gender: str) -> Voice:
    pitch, rate = _voice_offsets(voice_id)
    return Voice(voice_id, engine, engine_voice, language, variant, gender, pitch, rate)


def list_voices(engine: str | None = None) -> list[Voice]:
    """All voices of the installed engines (optionally one engine), in a stable order."""
    if engine is not None and engine not in ENGINES:
        raise EmoAnimError(f"unknown TTS engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    voices = _all_voices()
    return [v for v in voices if engine is None or v.engine == engine]


@functools.lru_cache(maxsize=1)
def _all_voices() -> tuple[Voice, ...]:
    return tuple(_espeak_voices()) + tuple(_flite_voices()) + tuple(_festival_voices())


def _espeak_voices() -> list[Voice]:
    try:
        with _EspeakSession() as session:
            available = session.voice_files()
            variants_dir = session.data_path() / "voices" / "!v"
    except EmoAnimError:
        return []
    out = []
    for lang, ident in _ESPEAK_LANGUAGES.items():
        if ident.lower() not in available:
            continue
        for variant, gender in _ESPEAK_VARIANTS.items():
            if variant and not (variants_dir / variant).is_file():
                continue
            vid = f"espeak/{lang}" + (f"+{variant}" if variant else "")
            out.append(_make_voice(vid, "espeak", ident, lang, variant, gender))
    return out


def _flite_voices() -> list[Voice]:
    exe = shutil.which("flite")
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, "-lv"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    listed = set(proc.stdout.replace("Voices available:", " ").split())
    return [_make_voice(f"flite/{name}", "flite", name, "en-us", "", info[0])
            for name, info in _FLITE_VOICES.items() if name in listed]


def _festival_voices() -> list[Voice]:
    exe = shutil.which("festival")
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, "--pipe"], input="(print (voice.list))\n", capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    listed = set(re.findall(r"[\w-]+", proc.stdout))
    return [_make_voice(f"festival/{name}", "festival", name, info[1], "", info[0])
            for name, info in _FESTIVAL_VOICES.items() if name in listed]


# --------------------------------------------------------------------------------------------
# Emotional prosody
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProsodyStyle:
    """How to speak: offsets from the voice's neutral delivery.

    ``pitch_shift`` semitones; ``pitch_range`` multiplies F0 excursions; ``rate`` multiplies the
    speaking rate (>1 faster); ``loudness_db`` is added to the reference level; ``pause_scale``
    multiplies the pauses between phrases; ``quality_strength`` (0..1) scales the voice-quality
    effect.
    """

    pitch_shift: float = 0.0
    pitch_range: float = 1.0
    rate: float = 1.0
    loudness_db: float = 0.0
    voice_quality: str = "modal"
    pause_scale: float = 1.0
    quality_strength: float = 0.0

    def __post_init__(self) -> None:
        if self.voice_quality not in VOICE_QUALITIES:
            raise ValueError(f"voice_quality must be one of {VOICE_QUALITIES}, got {self.voice_quality!r}")
        if self.rate <= 0 or self.pitch_range < 0 or self.pause_scale <= 0:
            raise ValueError(f"rate and pause_scale must be > 0 and pitch_range >= 0: {self}")


@dataclass(frozen=True)
class _EmotionProfile:
    pitch_st: float  # F0 level change, semitones
    range_x: float  # F0 range multiplier
    rate_x: float  # speaking-rate multiplier
    loud_db: float  # intensity change, dB
    pause_x: float  # pause-duration multiplier
    qualities: tuple[tuple[str, float], ...]  # (voice quality, probability at full intensity)


# Strong (level-3) acted emotion relative to neutral speech. Directions and rough magnitudes follow
# the reviews of vocal emotion expression: Banse & Scherer 1996 (JPSP 70:614) and Scherer 2003
# (Speech Commun. 40:227) for F0 level/range, rate and intensity per emotion; Juslin & Laukka 2003
# (Psychol. Bull. 129:770) for the cross-study consensus (anger/happiness/fear: high F0, fast;
# sadness: low, flat, slow, soft; fear: less F0 variability than anger/joy); Gobl & Ni Chasaide
# 2003 (Speech Commun. 40:189) for voice quality (anger tense, sadness breathy/creaky, fear
# breathy, contempt/disgust creaky). Surprise: high, wide F0 peaks; contempt: low, slow, narrow,
# falling (Banse & Scherer's contempt/disgust profiles).
_EMOTION_PROFILES: dict[str, _EmotionProfile] = {
    "neutral": _EmotionProfile(0.0, 1.00, 1.00, 0.0, 1.00, ()),
    "angry": _EmotionProfile(3.0, 1.45, 1.15, 7.0, 0.80, (("tense", 0.85),)),
    "happy": _EmotionProfile(3.5, 1.40, 1.08, 3.0, 0.90, (("tense", 0.15),)),
    "sad": _EmotionProfile(-2.0, 0.65, 0.80, -5.0, 1.45, (("breathy", 0.5), ("creaky", 0.3))),
    "fearful": _EmotionProfile(4.5, 0.85, 1.18, 1.0, 0.85, (("breathy", 0.7),)),
    "surprised": _EmotionProfile(5.0, 1.70, 1.02, 3.0, 1.00, (("tense", 0.2),)),
    "disgusted": _EmotionProfile(-1.5, 0.90, 0.85, -1.0, 1.25, (("creaky", 0.6),)),
    "contemptuous": _EmotionProfile(-2.0, 0.75, 0.88, -1.5, 1.20, (("creaky", 0.4),)),
}
# Fraction of the strong (level-3) deviation expressed at each MEAD level.
_INTENSITY_SCALE = {1: 0.4, 2: 0.7, 3: 1.0}
# Per-utterance spread around the emotion mean (speakers and utterances vary).
_NOISE_SD = {"pitch_st": 0.7, "log_range": 0.06, "log_rate": 0.035, "loud_db": 1.0, "log_pause": 0.08}


def emotion_prosody(emotion: str, intensity: int, rng: np.random.Generator) -> ProsodyStyle:
    """A prosody style for one utterance: the emotion's mean at this intensity, plus noise."""
    prof = _EMOTION_PROFILES[canonical_emotion(emotion)]
    k = _INTENSITY_SCALE[check_intensity(intensity)]
    z = rng.standard_normal(5)
    pitch = k * prof.pitch_st + _NOISE_SD["pitch_st"] * z[0]
    # Multiplicative parameters are scaled and perturbed in the log domain.
    rng_x = math.exp(k * math.log(prof.range_x) + _NOISE_SD["log_range"] * z[1])
    rate = math.exp(k * math.log(prof.rate_x) + _NOISE_SD["log_rate"] * z[2])
    loud = k * prof.loud_db + _NOISE_SD["loud_db"] * z[3]
    pause = math.exp(k * math.log(prof.pause_x) + _NOISE_SD["log_pause"] * z[4])
    quality, strength = "modal", 0.0
    u = rng.random()
    acc = 0.0
    for name, p in prof.qualities:
        acc += p * (0.5 + 0.5 * k)  # weaker emotions show a marked voice quality less often
        if u < acc:
            quality, strength = name, float(k * rng.uniform(0.6, 1.0))
            break
    return ProsodyStyle(
        pitch_shift=round(float(pitch), 3), pitch_range=round(float(rng_x), 3), rate=round(float(rate), 3),
        loudness_db=round(float(loud), 2), voice_quality=quality, pause_scale=round(float(pause), 3),
        quality_strength=round(strength, 3),
    )


# --------------------------------------------------------------------------------------------
# Synthesis entry point
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordSegment:
    word: str
    start: float
    end: float


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


@dataclass
class _Raw:
    """An engine's output before the shared post-processing."""

    audio: np.ndarray  # float32 mono
    sample_rate: int
    phones: list[PhoneSegment] | None
    words: list[WordSegment] | None
    pitch_done: bool  # engine applied the pitch shift itself


def synthesize(
    text: str,
    voice: Voice,
    style: ProsodyStyle | None = None,
    sample_rate: int = 16000,
    rng: np.random.Generator | None = None,
    *,
    lead_silence: float = 0.2,
    trail_silence: float = 0.25,
    timeout: float = _DEFAULT_TIMEOUT_S,
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
        raw = _espeak_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    elif voice.engine == "flite":
        raw = _flite_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    elif voice.engine == "festival":
        raw = _festival_synth(clean, voice, pitch, style.pitch_range, rate, timeout)
    else:
        raise EmoAnimError(f"unknown TTS engine '{voice.engine}' in voice {voice.id}")

    audio, sr = raw.audio, raw.sample_rate
    if not raw.pitch_done and abs(pitch) > 0.05:
        audio = _sox_pitch(audio, sr, pitch, timeout)
    audio = _resample(audio, sr, sample_rate)
    phones = _tile(raw.phones, len(audio) / sample_rate) if raw.phones else None
    words = raw.words
    if phones is None:
        phones = _energy_phones(audio, sample_rate)  # only speech/silence: lets edges be set
        unknown_phones = True
    else:
        unknown_phones = False
    if abs(style.pause_scale - 1.0) > 1e-3:
        audio, phones, words = _scale_pauses(audio, sample_rate, phones, words, style.pause_scale)
    audio, phones, words = _set_edges(audio, sample_rate, phones, words, lead_silence, trail_silence)
    audio = _apply_voice_quality(audio, sample_rate, style.voice_quality, style.quality_strength, rng)
    audio = _set_level(audio, sample_rate, _REFERENCE_DBFS + style.loudness_db)
    return SpeechClip(
        audio=audio.astype(np.float32), sample_rate=sample_rate,
        phones=None if unknown_phones else phones, words=words,
        text=clean, voice_id=voice.id, style=style,
    )


# --------------------------------------------------------------------------------------------
# espeak-ng through ctypes
# --------------------------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_EV_LIST_TERMINATED, _EV_WORD, _EV_PHONEME = 0, 1, 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE, _P_WORDGAP = 1, 2, 3, 4, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT from speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]


class _VoiceInfo(ctypes.Structure):  # espeak_VOICE
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.POINTER(_Event))


class _EspeakSession:
    """A freshly loaded espeak-ng library, for one synthesis (use as a context manager).

    Why reload per call: espeak-ng 1.51 keeps synthesis state between calls (pitch-flutter
    phase, pitch-period alignment), so the same text comes out a few ms different each time
    (phoneme lengths are quantised to pitch periods). Loading the library afresh (~4 ms) and
    reseeding libc's rand() makes every call start from the state of a fresh process, so audio
    depends only on its inputs, not on what the process synthesized before. The library's
    state is global, hence one session at a time.
    """

    def __init__(self) -> None:
        self.lib: ctypes.CDLL | None = None
        self._callback = _SYNTH_CALLBACK(self._on_synth)  # keep a reference: C holds the pointer
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple] = []
        self._deadline = 0.0
        self._aborted = False
        self.sample_rate = 0

    def __enter__(self) -> _EspeakSession:
        path = _espeak_library_path()
        _ESPEAK_LOCK.acquire()  # load under the lock too: a second handle would keep old state alive
        try:
            try:
                self.lib = lib = ctypes.CDLL(path)
            except OSError as exc:
                raise EmoAnimError(
                    f"could not load espeak-ng ({exc}): reinstall it with `apt-get install espeak-ng`."
                ) from exc
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetVoiceByName.restype = ctypes.c_int
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_SetParameter.restype = ctypes.c_int
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_Synth.restype = ctypes.c_int
            lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
            lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceInfo))
            lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
            lib.espeak_Info.restype = ctypes.c_char_p
            lib.espeak_Terminate.restype = ctypes.c_int
            self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                                     _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
            if self.sample_rate <= 0:
                raise EmoAnimError("espeak-ng failed to initialise (data missing?): reinstall espeak-ng-data.")
            lib.espeak_SetSynthCallback(self._callback)
            # Breathy/klatt voices draw noise from libc's rand(), whose state outlives the
            # library: reseed it as a fresh process would have it (glibc's default seed is 1).
            _libc_srand(1)
        except BaseException:
            self._unload()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._unload()

    def _unload(self) -> None:
        try:
            if self.lib is not None:
                if self.sample_rate > 0:
                    self.lib.espeak_Terminate()  # frees the voice data; without it each reload leaks ~1 MB
                _ctypes.dlclose(self.lib._handle)
        finally:
            self.lib = None
            _ESPEAK_LOCK.release()

    def data_path(self) -> Path:
        path = ctypes.c_char_p()
        self.lib.espeak_Info(ctypes.byref(path))
        return Path((path.value or b"/usr/share/espeak-ng-data").decode())

    def voice_files(self) -> set[str]:
        """Lower-case identifiers of the installed language voices ("gmw/en-us", ...)."""
        out = set()
        arr = self.lib.espeak_ListVoices(None)
        i = 0
        while arr and arr[i]:
            ident = arr[i].contents.identifier
            if ident:
                out.add(ident.decode("utf-8", "replace").lower())
            i += 1
        return out

    def _on_synth(self, wav, n, events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                self._events.append(("P", ev.id.string.decode("utf-8", "replace"), ev.sample, ev.audio_position))
            elif ev.type == _EV_WORD:
                self._events.append(("W", ev.text_position, ev.length, ev.audio_position))
            i += 1
        if time.monotonic() > self._deadline:  # runaway synthesis: abort rather than hang
            self._aborted = True
            return 1
        return 0

    def synth(self, text: str, voice_name: str, params: dict[int, int],
              timeout: float) -> tuple[np.ndarray, list[tuple]]:
        """int16 audio at ``self.sample_rate`` and the event list, in order."""
        data = text.encode("utf-8") + b"\0"
        if self.lib.espeak_SetVoiceByName(voice_name.encode("utf-8")) != 0:
            raise EmoAnimError(f"espeak-ng has no voice '{voice_name}': check `espeak-ng --voices`.")
        for key, value in params.items():
            self.lib.espeak_SetParameter(key, int(value), 0)
        self._chunks, self._events = [], []
        self._deadline, self._aborted = time.monotonic() + timeout, False
        err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if self._aborted:
            raise EmoAnimError(f"espeak-ng took longer than {timeout:.0f} s on a {len(text)}-character text")
        if err != 0:
            raise EmoAnimError(f"espeak-ng failed to synthesize (error {err}) for text {text[:60]!r}")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio, self._events


_ESPEAK_LOCK = threading.Lock()  # espeak-ng's state is process-global: one session at a time


def _libc_srand(seed: int) -> None:
    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):  # non-glibc platforms: determinism not guaranteed
        pass


@functools.lru_cache(maxsize=1)
def _espeak_library_path() -> str:
    name = ctypes.util.find_library("espeak-ng")
    if name is None:
        raise EmoAnimError("espeak-ng library not found: install it with `apt-get install espeak-ng`.")
    return name


def _reset_locks_after_fork() -> None:
    # A lock held by another thread at fork() time would stay locked forever in the child.
    global _ESPEAK_LOCK
    _ESPEAK_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


def _espeak_pitch_param(semitones: float) -> int:
    # Measured on espeak-ng 1.51: median F0 moves ~0.17 st per unit above the default 50 and
    # ~0.14 st per unit below it (the table is not symmetric). 0..99 spans about -7..+8 st.
    units = semitones / 0.17 if semitones >= 0 else semitones / 0.14
    return int(round(np.clip(50 + units, 0, 99)))


def _espeak_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                  timeout: float) -> _Raw:
    params = {
        _P_RATE: int(round(np.clip(175 * rate, 80, 450))),  # words per minute; 175 is the default
        _P_PITCH: _espeak_pitch_param(pitch),
        _P_RANGE: int(round(np.clip(50 * pitch_range, 0, 99))),  # 50 = the voice's own range
        _P_VOLUME: 100,
        _P_WORDGAP: 0,
    }
    name = voice.engine_voice + (f"+{voice.variant}" if voice.variant else "")
    with _EspeakSession() as session:
        pcm, events = session.synth(text, name, params, timeout)
        sr = session.sample_rate
    audio = pcm.astype(np.float32) / 32768.0
    phones, words = _espeak_events_to_segments(events, text, sr, len(audio), voice.language)
    # Pitch beyond espeak's 0..99 range is not reachable; the rest is done by the engine.
    return _Raw(audio, sr, phones, words, pitch_done=True)


def espeak_phonemes(text: str, language: str = "en-us") -> list[str]:
    """ARPAbet phones (no silences) espeak-ng would say for ``text`` (letter-to-sound for OOVs)."""
    ident = _ESPEAK_LANGUAGES.get(language, "gmw/en-US")
    with _EspeakSession() as session:
        _, events = session.synth(text, ident, {_P_RATE: 175, _P_PITCH: 50, _P_RANGE: 50, _P_WORDGAP: 0}, 10.0)
    out: list[str] = []
    for ev in events:
        if ev[0] == "P":
            out.extend(p for p in _map_espeak(ev[1], language) if p != SILENCE)
    return out


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
        labels = _map_espeak(name, language)
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


# espeak-ng phoneme mnemonics (English phoneme tables) -> ARPAbet. Several mnemonics are realised
# differently per accent (checked against espeak-ng's IPA output for each language); those get
# per-accent overrides below. R-coloured vowels expand to "vowel r" only in rhotic accents whose
# espeak transcription has no separate r (en-us); others say the vowel alone or emit their own r.
_ESPEAK_MAP: dict[str, tuple[str, ...]] = {
    # consonants
    "p": ("p",), "b": ("b",), "t": ("t",), "d": ("d",), "k": ("k",), "g": ("g",),
    "f": ("f",), "v": ("v",), "T": ("th",), "D": ("dh",), "s": ("s",), "z": ("z",),
    "S": ("sh",), "Z": ("zh",), "h": ("hh",), "tS": ("ch",), "dZ": ("jh",),
    "m": ("m",), "n": ("n",), "N": ("ng",), "l": ("l",), "r": ("r",), "r-": ("r",), "w": ("w",),
    "j": ("y",),
    "t#": ("t",), "d#": ("d",), "t2": ("t",), "?": ("t",),  # flap, glottal stop: spelled t
    "t[": ("th",), "d[": ("dh",),  # Caribbean dental stops for th
    "w#": ("w",), "x": ("k",), "n-": ("n",), "l/": ("l",), "z/": ("z",), "s2": ("s",),
    ";": ("y",),  # palatal glide between vowels ("brioche")
    # vowels
    "a": ("ae",), "a#": ("ah",), "aa": ("ae",), "A:": ("aa",), "A@": ("aa",), "0": ("aa",),
    "V": ("ah",), "@": ("ah",), "@-": ("ah",), "@2": ("ah",), "@5": ("ah",), "3": ("ah",),
    "3:": ("er",), "@L": ("ah", "l"), "E": ("eh",), "e@": ("eh",), "eI": ("ey",),
    "I": ("ih",), "I#": ("ih",), "I2": ("ih",), "i": ("iy",), "i:": ("iy",), "i@": ("iy", "ah"),
    "i@3": ("ih", "ah"), "IR": ("er",), "VR": ("er",),
    "O": ("ao",), "O2": ("ao",), "O:": ("ao",), "O@": ("ao",), "o@": ("ao",), "o": ("ow",),
    "OI": ("oy",), "oU": ("ow",), "U": ("uh",), "U@": ("uh", "ah"), "u:": ("uw",),
    "aI": ("ay",), "aI2": ("ay",), "aI@": ("ay", "ah"), "aI3": ("ay", "er"), "aU": ("aw",),
}  # fmt: skip
_ESPEAK_ACCENT: dict[str, dict[str, tuple[str, ...]]] = {
    "en-us": {"3": ("er",), "A@": ("aa", "r"), "O@": ("ao", "r"), "o@": ("ao", "r"), "e@": ("eh", "r"),
              "i@3": ("ih", "r"), "U@": ("uh", "r"), "aI@": ("ay", "er")},
    "en-us-nyc": {"aa": ("ae",)},
    "en-gb-x-rp": {"aa": ("aa",), "i": ("ih",), "U@": ("ao",)},
    "en-gb-scotland": {"aa": ("aa",), "A@": ("aa",), "i@3": ("ih",), "U@": ("uw", "r"), "U": ("uw",),
                       "u:": ("uw",), "3:": ("eh",), "i": ("ey",), "o@": ("ow",), "O@": ("ao",), "e@": ("eh",)},
    "en-gb-x-gbclan": {"V": ("uh",)},
    "en-gb-x-gbcwmd": {"V": ("uh",), "aI": ("oy",), "e@": ("er",)},
    "en-029": {"aa": ("aa",), "a#": ("ah",)},
}


def _map_espeak(name: str, language: str = "en-us") -> tuple[str, ...]:
    """One espeak-ng phoneme mnemonic -> ARPAbet phones (pauses -> sil; unknown -> nearest)."""
    if not name or name.startswith("_"):
        return (SILENCE,)
    accent = _ESPEAK_ACCENT.get(language, {})
    if name in accent:
        return accent[name]
    if name in _ESPEAK_MAP:
        return _ESPEAK_MAP[name]
    # Unknown: drop espeak's modifier marks (#, digits, :, -, ...) and try again.
    base = re.sub(r"[^A-Za-z@]", "", name)
    for cand in (base, base[:2], base[:1]):
        if cand and cand in _ESPEAK_MAP:
            return _ESPEAK_MAP[cand]
    return ("ah",) if re.search(r"[aeiouAEIOU@0-9]", name) else (SILENCE,)


# --------------------------------------------------------------------------------------------
# flite and festival (subprocesses)
# --------------------------------------------------------------------------------------------

# flite's cmu phone set and festival's radio phone set -> ARPAbet.
_FESTIVAL_MAP: dict[str, tuple[str, ...]] = {
    "pau": (SILENCE,), "h#": (SILENCE,), "brth": (SILENCE,), "#": (SILENCE,), "ssil": (SILENCE,),
    "ax": ("ah",), "axr": ("er",), "ix": ("ih",), "ux": ("uw",), "dx": ("t",), "hv": ("hh",),
    "nx": ("n",), "q": ("t",), "el": ("ah", "l"), "em": ("m",), "en": ("n",), "eng": ("ng",),
}  # fmt: skip


def _map_festival(name: str) -> tuple[str, ...]:
    key = name.strip().lower()
    if key in _FESTIVAL_MAP:
        return _FESTIVAL_MAP[key]
    key = key.rstrip("012")
    return (key,) if key in ARPABET else ("ah",)


def _segments_from_ends(items: list[tuple[str, float]], total: float) -> list[PhoneSegment]:
    """[(phone, end time)] -> segments starting at 0; ends past the audio are clamped."""
    out: list[PhoneSegment] = []
    t0 = 0.0
    for name, end in items:
        t1 = min(end, total)
        if t1 <= t0:
            continue
        labels = _map_festival(name)
        step = (t1 - t0) / len(labels)
        out.extend(PhoneSegment(lab, t0 + k * step, t0 + (k + 1) * step) for k, lab in enumerate(labels))
        t0 = t1
    return out


def _ascii_text(text: str) -> str:
    # flite and festival read bytes as Latin-1/ASCII; strip accents and odd symbols.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _need(binary: str, package: str) -> str:
    exe = shutil.which(binary)
    if exe is None:
        raise EmoAnimError(f"{binary} is not installed: install it with `apt-get install {package}`.")
    return exe


def _run(cmd: list[str], timeout: float, what: str, data: bytes | None = None) -> subprocess.CompletedProcess:
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


def _read_wav(path: Path, what: str) -> tuple[np.ndarray, int]:
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


def _flite_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                 timeout: float) -> _Raw:
    exe = _need("flite", "flite")
    _, stretch, f0_std, has_f0 = _FLITE_VOICES.get(voice.engine_voice, ("?", 1.0, 0.0, False))
    cmd = [exe, "-voice", voice.engine_voice, "--setf", f"duration_stretch={stretch / rate:.4f}"]
    if has_f0:
        cmd += ["--setf", f"f0_shift={2.0 ** (pitch / 12.0):.4f}",
                "--setf", f"int_f0_target_stddev={f0_std * pitch_range:.2f}"]
    with tempfile.TemporaryDirectory(prefix="emoanim_flite_") as tmp:
        out = Path(tmp) / "out.wav"
        proc = _run(cmd + ["-psdur", "-t", _ascii_text(text), "-o", str(out)], timeout, "flite")
        audio, sr = _read_wav(out, "flite")
    items = []
    for tok in proc.stdout.decode("utf-8", "replace").split():
        name, _, end = tok.rpartition(":")
        try:
            items.append((name, float(end)))
        except ValueError:
            continue
    phones = _segments_from_ends(items, len(audio) / sr) if items else None
    return _Raw(audio, sr, phones, None, pitch_done=has_f0)


def _scheme_string(text: str) -> str:
    return '"' + _ascii_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                    timeout: float) -> _Raw:
    exe = _need("festival", "festival")
    _, _, stretch, f0_mean, f0_std, kind = _FESTIVAL_VOICES.get(
        voice.engine_voice, ("?", "en-us", 1.0, 0.0, 0.0, "hts"))
    with tempfile.TemporaryDirectory(prefix="emoanim_festival_") as tmp:
        wav, segs = Path(tmp) / "out.wav", Path(tmp) / "out.segs"
        lines = [f"(voice_{voice.engine_voice})"]
        if kind == "diphone":
            lines.append(f"(Parameter.set 'Duration_Stretch {stretch / rate:.4f})")
            lines.append(
                f"(set! int_lr_params '((target_f0_mean {f0_mean * 2.0 ** (pitch / 12.0):.2f}) "
                f"(target_f0_std {f0_std * pitch_range:.2f}) (model_f0_mean 170) (model_f0_std 34)))"
            )
        else:  # HTS: its own duration model ignores Duration_Stretch; -r is the engine's speed
            lines.append(f"(set! hts_engine_params (append hts_engine_params '((\"-r\" {rate:.4f}))))")
        lines += [
            f"(set! emoanim_utt (Utterance Text {_scheme_string(text)}))",
            "(utt.synth emoanim_utt)",
            f"(utt.save.wave emoanim_utt \"{wav}\" 'riff)",
            f"(utt.save.segs emoanim_utt \"{segs}\")",
        ]
        script = Path(tmp) / "synth.scm"
        script.write_text("\n".join(lines) + "\n", encoding="ascii")
        _run([exe, "--batch", str(script)], timeout, f"festival ({voice.engine_voice})")
        if not wav.exists():
            raise EmoAnimError(f"festival produced no audio for voice {voice.engine_voice}: is the voice installed?")
        audio, sr = _read_wav(wav, "festival")
        items = []
        for line in segs.read_text(encoding="latin-1").splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3:
                try:
                    items.append((parts[2], float(parts[0])))
                except ValueError:
                    continue
    phones = _segments_from_ends(items, len(audio) / sr) if items else None
    return _Raw(audio, sr, phones, None, pitch_done=(kind == "diphone"))


def _sox_pitch(audio: np.ndarray, sr: int, semitones: float, timeout: float) -> np.ndarray:
    """Pitch shift keeping the duration (sox's WSOLA ``pitch``); no-op without sox."""
    exe = shutil.which("sox")
    if exe is None:
        return audio
    fmt = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sr)]
    proc = _run([exe, "-V1", *fmt, "-", *fmt, "-", "pitch", f"{100.0 * semitones:.1f}"], timeout,
                "sox pitch", data=np.asarray(audio, "<f4").tobytes())
    out = np.frombuffer(proc.stdout, "<f4").astype(np.float32)
    return _fit_length(out, len(audio))


# --------------------------------------------------------------------------------------------
# Shared post-processing
# --------------------------------------------------------------------------------------------


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x), x.dtype)])


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x.astype(np.float32)
    g = math.gcd(sr_in, sr_out)
    y = signal.resample_poly(x.astype(np.float64), sr_out // g, sr_in // g)
    return _fit_length(y.astype(np.float32), int(round(len(x) * sr_out / sr_in)))


def _tile(phones: list[PhoneSegment], total: float) -> list[PhoneSegment]:
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


def _frame_rms(x: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    n = max(1, int(sr * frame_s))
    m = len(x) // n
    if m == 0:
        return np.array([float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0])
    return np.sqrt(np.mean(np.square(x[: m * n].reshape(m, n).astype(np.float64)), axis=1))


def _energy_phones(x: np.ndarray, sr: int) -> list[PhoneSegment]:
    """Speech/silence only (speech labelled 'ah'), when an engine gave no timings."""
    frame = 0.01
    rms = _frame_rms(x, sr, frame)
    thr = rms.max() * 10 ** (-40 / 20) if rms.size else 0.0
    active = np.nonzero(rms > thr)[0]
    total = len(x) / sr
    if active.size == 0:
        return [PhoneSegment(SILENCE, 0.0, total)]
    a, b = active[0] * frame, min((active[-1] + 1) * frame, total)
    return _tile([PhoneSegment("ah", a, b)], total)


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


def _scale_pauses(x: np.ndarray, sr: int, phones: list[PhoneSegment], words: list[WordSegment] | None,
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
    return x, _tile(phones, len(x) / sr), words


def _set_edges(x: np.ndarray, sr: int, phones: list[PhoneSegment], words: list[WordSegment] | None,
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
    x = _fit_length(x, n_end)
    return x, _tile(phones, len(x) / sr), words


def _biquad_shelf(sr: int, f0: float, gain_db: float, high: bool) -> tuple[np.ndarray, np.ndarray]:
    """RBJ-cookbook shelving filter (S = 1)."""
    a_lin = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * min(f0, 0.45 * sr) / sr
    cw, alpha = math.cos(w0), math.sin(w0) / 2 * math.sqrt(2)
    sq = 2 * math.sqrt(a_lin) * alpha
    sgn = 1 if high else -1
    b = np.array([
        a_lin * ((a_lin + 1) + sgn * (a_lin - 1) * cw + sq),
        -2 * sgn * a_lin * ((a_lin - 1) + sgn * (a_lin + 1) * cw),
        a_lin * ((a_lin + 1) + sgn * (a_lin - 1) * cw - sq),
    ])
    a = np.array([
        (a_lin + 1) - sgn * (a_lin - 1) * cw + sq,
        2 * sgn * ((a_lin - 1) - sgn * (a_lin + 1) * cw),
        (a_lin + 1) - sgn * (a_lin - 1) * cw - sq,
    ])
    return b / a[0], a / a[0]


def _envelope(x: np.ndarray, sr: int, cutoff: float = 30.0) -> np.ndarray:
    sos = signal.butter(2, cutoff, fs=sr, output="sos")
    return np.maximum(signal.sosfiltfilt(sos, np.abs(x)), 0.0)


def _apply_voice_quality(x: np.ndarray, sr: int, quality: str, strength: float,
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
        b, a = _biquad_shelf(sr, 2500.0, 5.0 * s, high=True)
        y = signal.lfilter(b, a, y)
    elif quality == "breathy":
        # Turbulent airflow: band-passed noise that follows the speech envelope, and a darker
        # (low-passed) harmonic spectrum.
        hi = min(6000.0, 0.45 * sr)
        sos = signal.butter(2, [1500.0, hi], btype="bandpass", fs=sr, output="sos")
        noise = signal.sosfilt(sos, rng.standard_normal(len(x64)))
        noise /= np.sqrt(np.mean(noise**2)) + 1e-12
        env = _envelope(x64, sr)
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
        b, a = _biquad_shelf(sr, 300.0, 3.0 * s, high=False)
        y = signal.lfilter(b, a, x64 * mod)
    else:
        raise ValueError(f"unknown voice quality {quality!r}")
    return y.astype(np.float32)


def _set_level(x: np.ndarray, sr: int, target_dbfs: float) -> np.ndarray:
    """Scale active speech to ``target_dbfs`` RMS, then soft-limit peaks below full scale."""
    rms = _frame_rms(x, sr)
    if rms.size == 0 or rms.max() <= 0:
        return x
    active = rms[rms > rms.max() * 10 ** (-35 / 20)]
    level = float(np.sqrt(np.mean(np.square(active))))
    y = x.astype(np.float64) * (10 ** (target_dbfs / 20) / level)
    # Soft knee above 0.8: y -> 0.8 + 0.17 tanh(...), so |y| < 0.97 always; no hard clipping.
    knee, room = 0.8, _PEAK_LIMIT - 0.8
    mag = np.abs(y)
    over = mag > knee
    if np.any(over):
        y[over] = np.sign(y[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return y.astype(np.float32)
