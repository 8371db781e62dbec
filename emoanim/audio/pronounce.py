"""espeak-ng in-process through its C library (ctypes): the one session every caller shares, and
letter-to-sound rules (text -> ARPAbet phones) for words a pronouncing dictionary does not know.

The aligner (``audio.align``) asks :func:`espeak_phonemes` for out-of-vocabulary words; the
synthetic corpus (``data.tts.espeak``) synthesises speech through :class:`EspeakSession`. Both go
through the same library load, lock and phoneme tables.
"""

from __future__ import annotations

import _ctypes
import ctypes
import ctypes.util
import functools
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.vocabulary import SILENCE

__all__ = ["ESPEAK_LANGUAGES", "EspeakSession", "espeak_phonemes", "map_espeak"]

# espeak-ng English accents we use: language code -> voice file (checked against the install).
ESPEAK_LANGUAGES: dict[str, str] = {
    "en-us": "gmw/en-US",
    "en-gb": "gmw/en",
    "en-gb-scotland": "gmw/en-GB-scotland",
    "en-gb-x-rp": "gmw/en-GB-x-rp",
    "en-gb-x-gbclan": "gmw/en-GB-x-gbclan",
    "en-gb-x-gbcwmd": "gmw/en-GB-x-gbcwmd",
    "en-029": "gmw/en-029",
    "en-us-nyc": "gmw/en-US-nyc",
}


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


class EspeakSession:
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

    def __enter__(self) -> EspeakSession:
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



def espeak_phonemes(text: str, language: str = "en-us") -> list[str]:
    """ARPAbet phones (no silences) espeak-ng would say for ``text`` (letter-to-sound for OOVs)."""
    ident = ESPEAK_LANGUAGES.get(language, "gmw/en-US")
    with EspeakSession() as session:
        _, events = session.synth(text, ident, {_P_RATE: 175, _P_PITCH: 50, _P_RANGE: 50, _P_WORDGAP: 0}, 10.0)
    out: list[str] = []
    for ev in events:
        if ev[0] == "P":
            out.extend(p for p in map_espeak(ev[1], language) if p != SILENCE)
    return out



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


def map_espeak(name: str, language: str = "en-us") -> tuple[str, ...]:
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

