"""Forced phone alignment with pocketsphinx 5 (its bundled US-English model and CMUdict).

``align_phones(audio, sr, text)`` returns ARPAbet phone segments that tile ``[0, duration]``.
The product uses it to turn a transcript (given, or recognised by ``audio.recognize``) into phone
timings for the content encoder; corpus building uses it for engines without phone timings and to
check engine timings (``data.timing_check``).

How it works (pocketsphinx 5 API): ``Decoder.set_align_text`` builds a word-sequence grammar
with optional silences; a first decoding pass gives word boundaries; ``set_alignment`` plus a
second pass gives phone and HMM-state durations, read from ``get_alignment()`` in 10 ms frames.

Robustness choices:

* Exactly-zero samples (digital silence, common in TTS) break the MFCC front end and make the
  search fail; we add deterministic noise at about -80 dBFS first. (pocketsphinx's own
  ``dither`` uses a process-global RNG, so results would depend on call history; for the same
  reason the feature front end and cepstral mean are reset before every clip.)
* If the search fails, we retry with a few other settings (noise level, beams, filler words,
  and a formant scaling that helps with high-pitched synthetic female voices).
* Out-of-vocabulary words get a pronunciation from espeak-ng's letter-to-sound rules
  (``audio.pronounce.espeak_phonemes``), added to the decoder's dictionary. Without espeak-ng, OOV words
  are dropped from the transcript and the neighbouring words / silences absorb their audio.
* If every retry fails, phones are spread over the word spans from the first pass, or over
  the detected speech region, in proportion to typical phone durations. The result is then
  approximate, but always a valid tiling.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from emoanim.audio.pronounce import espeak_phonemes
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import SILENCE, VOWELS, PhoneSegment, normalize_phone

__all__ = ["align_phones", "alignment_words", "AlignmentResult", "align", "warm_up_aligner"]

_SR = 16000  # the bundled acoustic model's rate
_FRAME_S = 0.01
_NARROW = {"beam": 1e-20, "wbeam": 1e-15, "pbeam": 1e-20}
_MEDIUM = {"beam": 1e-30, "wbeam": 1e-20, "pbeam": 1e-30}
# Attempts, in order, until one aligns: (noise std in int16 units, formant scale, decoder options).
# A formant scale < 1 plays the audio slower (resampled), which moves high synthetic female
# formants towards the model's range; times are scaled back afterwards. Chosen on 60 espeak
# clips (varied voices/emotions): the cascade aligns ~97 % of them, the first attempt ~87 %.
# Narrow beams fail less than wide ones here: wide beams let the first pass pick word
# boundaries that the phone-level second pass then cannot follow.
_ATTEMPTS: tuple[tuple[float, float, dict], ...] = (
    (3.0, 1.0, _NARROW),
    (3.0, 0.9, _NARROW),
    (100.0, 1.0, {**_MEDIUM, "fsgusefiller": False}),
    (3.0, 0.8, _NARROW),
    (100.0, 1.0, _MEDIUM),
)
_FORMANT_RATIOS = {1.0: (1, 1), 0.9: (10, 9), 0.8: (5, 4)}  # scale -> resample_poly (up, down)
# pocketsphinx reports the first 10 ms frame of a phone; that frame's 25.6 ms analysis window is
# centred ~13 ms later. Against espeak-ng's exact phoneme starts its boundaries come out early by
# 7-16 ms on average (sil->speech onsets by 20 ms); shifting them by +10 ms minimised the median
# error over 40 clips (14.3 -> 10.0 ms).
_BOUNDARY_SHIFT_S = 0.010


@dataclass
class AlignmentResult:
    phones: list[PhoneSegment]
    words: list[tuple[str, float, float]]
    method: str  # "pocketsphinx" | "words" (phones spread in word spans) | "uniform"


def _resample(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """x [N] resampled by up/down (float64 out): only a rate change or a retry needs it."""
    from scipy.signal import resample_poly  # lazy: start-up time (scipy.signal takes 0.7 s to import)

    return resample_poly(x.astype(np.float64), up, down)


def align_phones(audio: np.ndarray, sample_rate: int, text: str) -> list[PhoneSegment]:
    """Forced-align ``text`` to ``audio``; ARPAbet segments (with 'sil') tiling the clip."""
    return align(audio, sample_rate, text).phones


def alignment_words(text: str) -> list[str]:
    """The transcript as the aligner sees it: lower case, letters/digits/apostrophes."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    words = re.findall(r"[a-z0-9']+", text)
    return [w.strip("'") for w in words if w.strip("'")]


def align(audio: np.ndarray, sample_rate: int, text: str, attempts: int | None = None) -> AlignmentResult:
    """Like :func:`align_phones`, also returning word spans and which method produced them.
    ``attempts`` caps the retry cascade (None = all of it; each failed attempt costs a decoding pass)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise EmoAnimError("cannot align empty audio")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    total = x.size / sample_rate
    if sample_rate != _SR:
        g = np.gcd(int(sample_rate), _SR)
        x = _resample(x, _SR // g, int(sample_rate) // g).astype(np.float32)

    aligner = _aligner()
    with aligner.lock:
        words, prons = aligner.prepare(alignment_words(text))
        if not words:
            return AlignmentResult([PhoneSegment(SILENCE, 0.0, total)], [], "uniform")
        first_pass: list[tuple[str, float, float]] | None = None
        for noise_std, scale, options in _ATTEMPTS[: attempts or len(_ATTEMPTS)]:
            up, down = _FORMANT_RATIOS[scale]
            y = x if up == down else _resample(x, up, down)
            pcm = np.clip(y, -1.0, 1.0) * 32767.0
            # Seeded by the audio length so one clip always gets the same noise.
            noise = np.random.default_rng(pcm.size).normal(0.0, noise_std, pcm.size)
            data = np.clip(np.round(pcm + noise), -32768, 32767).astype("<i2").tobytes()
            status, phones, spans = aligner.run(words, data, options)
            if status == "ok":
                sh = _BOUNDARY_SHIFT_S
                phones = [PhoneSegment(p.phone, p.start * scale + sh, p.end * scale + sh) for p in phones]
                spans = [(w, a * scale, b * scale) for w, a, b in spans]
                return AlignmentResult(_tile(phones, total), spans, "pocketsphinx")
            if status == "words" and first_pass is None:
                first_pass = [(w, a * scale, b * scale) for w, a, b in spans]
    # Every attempt failed: approximate.
    if first_pass:
        phones = _spread_in_words(first_pass, words, prons)
        return AlignmentResult(_tile(phones, total), first_pass, "words")
    a, b = _speech_region(x, _SR)
    flat = [p for pron in prons for p in pron]
    phones = _spread(flat, a, b)
    return AlignmentResult(_tile(phones, total), [], "uniform")


class _Aligner:
    """One pocketsphinx decoder, kept for the life of the process. Each attempt's beams are set in its
    config before the search is built (a search reads them when made): one acoustic model in memory
    however many option sets a clip needs (a decoder per set held ~40 MB more each, so a long clip
    that needed the retries held more than a short one that did not), with identical alignments."""

    def __init__(self) -> None:
        if importlib.util.find_spec("pocketsphinx") is None:  # fail early with a clear message
            raise EmoAnimError("pocketsphinx is not installed: run `pip install pocketsphinx`.")
        self.lock = threading.Lock()
        self._decoder = None
        self._defaults: dict = {}  # the decoder's own value of every option an attempt sets
        self._cmn0 = ""  # its initial cepstral mean

    def decoder(self, options: dict):
        """The decoder, configured with ``options`` (the others at their defaults)."""
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=_SR, lm=None, loglevel="FATAL")
            self._defaults = {key: self._decoder.config[key] for _, _, opts in _ATTEMPTS for key in opts}
            self._cmn0 = self._decoder.get_cmn()
        for key, value in {**self._defaults, **options}.items():
            self._decoder.config[key] = value
        return self._decoder

    def prepare(self, tokens: list[str]) -> tuple[list[str], list[list[str]]]:
        """Dictionary words for the tokens (OOVs added via espeak-ng) and their phones."""
        dec = self.decoder(dict(_ATTEMPTS[0][2]))
        words, prons = [], []
        for tok in tokens:
            pron = dec.lookup_word(tok)
            if pron is None:
                pron = self._add_oov(tok)
            if pron is None:
                continue  # no pronunciation: neighbours absorb the audio
            words.append(tok)
            prons.append([normalize_phone(p) for p in pron.split()])
        return words, prons

    def _add_oov(self, token: str) -> str | None:
        try:
            phones = espeak_phonemes(token)
        except EmoAnimError:
            return None
        if not phones:
            return None
        pron = " ".join(p.upper() for p in phones)
        self._decoder.add_word(token, pron, True)
        return pron

    def run(self, words: list[str], data: bytes, options: dict):
        """('ok', phones, word spans) | ('words', None, word spans) | ('fail', None, None)."""
        dec = self.decoder(options)
        try:
            # The front end keeps state between utterances ('live' CMN running sums and mean):
            # reset it so a clip's alignment does not depend on what this process ran before.
            dec.reinit_feat()
            dec.set_cmn(self._cmn0)
            dec.set_align_text(" ".join(words))
            dec.start_utt()
            dec.process_raw(data, full_utt=True)
            dec.end_utt()
            segs = dec.seg()
            spans = [] if segs is None else [
                (_base_word(s.word), s.start_frame * _FRAME_S, (s.end_frame + 1) * _FRAME_S)
                for s in segs if _is_real_word(s.word)
            ]
        except RuntimeError:
            return "fail", None, None
        # A pruned search returns a partial path; only a complete one can be refined.
        if [w for w, _, _ in spans] != words:
            return "fail", None, None
        try:
            dec.set_alignment()
            dec.start_utt()
            dec.process_raw(data, full_utt=True)
            dec.end_utt()
            alignment = dec.get_alignment()
            phones = []
            for ph in alignment.phones():
                try:
                    label = normalize_phone(ph.name)
                except ValueError:
                    label = SILENCE
                start = ph.start * _FRAME_S
                phones.append(PhoneSegment(label, start, start + ph.duration * _FRAME_S))
        except RuntimeError:
            return "words", None, spans
        if not phones:
            return "words", None, spans
        return "ok", phones, spans


def _base_word(word: str) -> str:
    return re.sub(r"\(\d+\)$", "", word)


def _is_real_word(word: str) -> bool:
    return not (word.startswith("<") or word.startswith("[") or word.startswith("+"))


_ALIGNER: _Aligner | None = None  # per-process cache
_ALIGNER_LOCK = threading.Lock()


def _aligner() -> _Aligner:
    global _ALIGNER
    with _ALIGNER_LOCK:
        if _ALIGNER is None:
            _ALIGNER = _Aligner()
        return _ALIGNER


def warm_up_aligner() -> None:
    """Make the decoder now (its acoustic model and dictionary: ~0.2 s, once per process) rather than at
    the first alignment."""
    aligner = _aligner()
    with aligner.lock:
        aligner.decoder(dict(_ATTEMPTS[0][2]))


def _reset_after_fork() -> None:
    global _ALIGNER_LOCK
    _ALIGNER_LOCK = threading.Lock()
    if _ALIGNER is not None:
        _ALIGNER.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _weight(phone: str) -> float:
    return 2.0 if phone in VOWELS else 1.0  # vowels last about twice as long as consonants


def _spread(phones: list[str], a: float, b: float) -> list[PhoneSegment]:
    if not phones or b <= a:
        return []
    w = np.array([_weight(p) for p in phones])
    edges = a + (b - a) * np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    return [PhoneSegment(p, float(edges[i]), float(edges[i + 1])) for i, p in enumerate(phones)]


def _spread_in_words(spans: list[tuple[str, float, float]], words: list[str],
                     prons: list[list[str]]) -> list[PhoneSegment]:
    out: list[PhoneSegment] = []
    for (_, a, b), pron in zip(spans, prons):
        out.extend(_spread(pron, a, b))
    return out


def _speech_region(x: np.ndarray, sr: int) -> tuple[float, float]:
    n = int(0.01 * sr)
    m = max(1, len(x) // n)
    rms = np.sqrt(np.mean(np.square(x[: m * n].reshape(m, -1).astype(np.float64)), axis=1))
    active = np.nonzero(rms > rms.max() * 10 ** (-40 / 20))[0] if rms.max() > 0 else np.array([], int)
    if active.size == 0:
        return 0.0, len(x) / sr
    return active[0] * 0.01, min((active[-1] + 1) * 0.01, len(x) / sr)


def _tile(phones: list[PhoneSegment], total: float) -> list[PhoneSegment]:
    """Sort, clamp to [0, total], merge adjacent sil, fill gaps with sil."""
    out: list[PhoneSegment] = []
    t = 0.0
    for p in sorted(phones, key=lambda s: s.start):
        a, b = max(p.start, t), min(p.end, total)
        if b - a <= 1e-9:
            continue
        if a > t + 1e-9:
            _push(out, SILENCE, t, a)
        _push(out, p.phone, a, b)
        t = b
    if total > t + 1e-9:
        _push(out, SILENCE, t, total)
    if out:
        out[0] = PhoneSegment(out[0].phone, 0.0, out[0].end)
        out[-1] = PhoneSegment(out[-1].phone, out[-1].start, total)
    return out


def _push(out: list[PhoneSegment], label: str, a: float, b: float) -> None:
    if out and out[-1].phone == SILENCE and label == SILENCE:
        out[-1] = PhoneSegment(SILENCE, out[-1].start, b)
    else:
        out.append(PhoneSegment(label, a, b))
