"""Emotional prosody: how an emotion at an intensity changes pitch, range, rate, loudness, pauses
and voice quality, relative to the voice's neutral delivery."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emoanim.vocabulary import canonical_emotion, check_intensity

VOICE_QUALITIES: tuple[str, ...] = ("modal", "tense", "breathy", "creaky")


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
