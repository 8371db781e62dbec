"""Speech recognition with Whisper (tiny.en by default): text, how sure it is, and whether to use it.

    wave [N] 16 kHz --faster-whisper (int8 on CPU, beam 1, English, no VAD)--> segments
        --> Recognition(text, avg_logprob, no_speech_prob, compression_ratio, usable, reason)

The content encoder aligns the recognised words to the audio, so a wrong transcript would put the
wrong phones on the lips. ``usable`` is False (and ``reason`` says why) when the text is empty,
when Whisper heard no speech or guessed (low mean log-probability: noise, singing, another
language), when the text repeats itself (a decoding loop, typical of music), or, with a
multilingual model, when the language heard is not English. The caller then falls back to what
the acoustics alone say. Decoding is greedy and deterministic: the same wave gives the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from emoanim.audio.whisper import WhisperConfig, load_whisper
from emoanim.errors import EmoAnimError


@dataclass
class RecognizerConfig:
    whisper: WhisperConfig = field(default_factory=WhisperConfig)  # which model, on how many threads
    language: str = "en"  # what the aligner's dictionary and acoustic model speak
    beam_size: int = 1  # greedy: fastest, deterministic; beam 5 gains little on read speech
    min_avg_logprob: float = -1.0  # below this mean token log-probability the words are guesses
    max_no_speech_prob: float = 0.6  # above this (with a low log-probability) Whisper heard no speech
    max_compression_ratio: float = 2.4  # above this the text repeats itself (Whisper's own threshold)
    min_language_prob: float = 0.5  # multilingual models: English must be at least this likely


@dataclass
class Recognition:
    text: str  # what was said, as Whisper writes it ("" when nothing was heard)
    avg_logprob: float  # mean token log-probability, weighted by segment length (0 = certain)
    no_speech_prob: float  # Whisper's probability that the clip holds no speech
    compression_ratio: float  # gzip ratio of the text: high = repetitive
    usable: bool  # whether to align this text to the audio
    reason: str = ""  # why not usable ("" when usable)
    language: str = "en"  # the language it heard (multilingual models) or was told
    segments: list[tuple[str, float, float]] = field(default_factory=list)  # (text, start s, end s) per sentence

    @property
    def confidence(self) -> float:
        """exp(avg_logprob): the mean per-token probability, 0..1."""
        return float(np.exp(self.avg_logprob))


# Text Whisper writes for non-speech: (Music), [BLANK_AUDIO], ♪ ... ♪, *applause*.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫]")


def spoken_words(text: str) -> str:
    """The text with Whisper's sound annotations removed, whitespace collapsed."""
    return " ".join(_ANNOTATION.sub(" ", text).split())


def recognize(wave: np.ndarray, config: RecognizerConfig | None = None, device: str = "cpu") -> Recognition:
    """Transcribe one clip (float32 [N] at 16 kHz) and judge whether the text can be trusted."""
    config = config or RecognizerConfig()
    wave = np.asarray(wave, np.float32).reshape(-1)
    if wave.size == 0 or not np.isfinite(wave).all():
        raise EmoAnimError("recognition needs a non-empty wave of finite samples at 16 kHz")
    model = load_whisper(config.whisper, device)
    language = config.language
    if model.model.is_multilingual:
        heard, prob, _ = model.detect_language(wave)
        if heard != config.language and prob >= config.min_language_prob:
            return Recognition("", -np.inf, 0.0, 0.0, False, f"the speech sounds like '{heard}', not English", heard)
    try:
        # Segment timestamps cost nothing measurable and let the aligner work sentence by sentence.
        segments, _ = model.transcribe(wave, language=language, beam_size=config.beam_size, vad_filter=False,
                                       without_timestamps=False, condition_on_previous_text=False,
                                       temperature=0.0)  # one greedy pass: no sampled retries
        segments = list(segments)
    except (RuntimeError, ValueError) as exc:
        raise EmoAnimError(f"speech recognition failed ({str(exc).splitlines()[0]})") from None
    text = spoken_words(" ".join(s.text.strip() for s in segments))
    if not segments:
        return Recognition("", -np.inf, 1.0, 0.0, False, "no speech was recognised", language)
    weights = np.array([max(s.end - s.start, 1e-3) for s in segments])
    avg = float(np.average([s.avg_logprob for s in segments], weights=weights))
    no_speech = float(max(s.no_speech_prob for s in segments))
    ratio = float(max(s.compression_ratio for s in segments))
    reason = ""
    if not re.search(r"[A-Za-z]", text):
        reason = "no words were recognised"
    elif no_speech > config.max_no_speech_prob and avg < config.min_avg_logprob:
        reason = f"it does not sound like speech (no-speech probability {no_speech:.2f})"
    elif avg < config.min_avg_logprob:
        reason = f"the recogniser is unsure (mean log-probability {avg:.2f}): noise, singing or another language?"
    elif ratio > config.max_compression_ratio:
        reason = f"the recognised text repeats itself (compression ratio {ratio:.1f}): music or singing?"
    spans = [(spoken_words(s.text), float(s.start), float(s.end)) for s in segments]
    return Recognition(text, avg, no_speech, ratio, not reason, reason, language, [x for x in spans if x[0]])
