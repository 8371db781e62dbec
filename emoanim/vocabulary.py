"""The words every layer of EmoAnim shares: emotions and intensities, phones, rates, sampling defaults.

This is the bottom of the import graph (it imports only ``errors``): models, data, the pipeline and
the front-ends all read their vocabularies and defaults from here, so each has one source of truth.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from emoanim.errors import EmoAnimError

# ---- emotions (MEAD's 8 categories, 3 levels) -------------------------------------------------

EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "contemptuous",
)  # fmt: skip
INTENSITIES: tuple[int, ...] = (1, 2, 3)  # MEAD levels: 1 weak, 2 medium, 3 strong

# Other spellings people (and MEAD's folders) use for the same categories.
ALIASES: dict[str, str] = {
    "fear": "fearful", "afraid": "fearful", "scared": "fearful",
    "disgust": "disgusted", "surprise": "surprised", "contempt": "contemptuous",
    "happiness": "happy", "joy": "happy", "sadness": "sad", "anger": "angry", "calm": "neutral",
}  # fmt: skip


def canonical_emotion(name: str) -> str:
    """'Fear' / 'fearful' / 'afraid' -> 'fearful'; unknown names raise a clear error."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in EMOTIONS:
        raise EmoAnimError(f"unknown emotion '{name}'; choose one of: {', '.join(EMOTIONS)}")
    return key


def check_intensity(level: int) -> int:
    if level not in INTENSITIES:
        raise EmoAnimError(f"intensity must be 1, 2 or 3 (weak, medium, strong), got {level}")
    return int(level)


# Emotion x intensity classes: what the emotion space's labels and classifiers index.
NUM_CLASSES = len(EMOTIONS) * len(INTENSITIES)


def label_class(emotion: str, intensity: int) -> int:
    """(emotion, intensity 1-3) -> class index; neutral has one level (as in MEAD)."""
    emotion = canonical_emotion(emotion)
    intensity = 1 if emotion == "neutral" else check_intensity(intensity)
    return EMOTIONS.index(emotion) * len(INTENSITIES) + intensity - 1


def class_label(index: int) -> tuple[str, int]:
    return EMOTIONS[index // len(INTENSITIES)], index % len(INTENSITIES) + 1


# Classes that exist: neutral only at level 1.
VALID_CLASSES = [label_class(e, i) for e in EMOTIONS for i in INTENSITIES if e != "neutral" or i == 1]

# ---- phones (the ARPAbet set every data component and the content encoder speak) --------------

# CMUdict's 39 ARPAbet phones (no stress digits), lower case, plus "sil" for silence/pauses.
ARPABET: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh",
    "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th",
    "uh", "uw", "v", "w", "y", "z", "zh",
)  # fmt: skip
SILENCE = "sil"
PHONES: tuple[str, ...] = (SILENCE,) + ARPABET
VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"})
BILABIALS = frozenset({"p", "b", "m"})
LABIODENTALS = frozenset({"f", "v"})
ROUNDED = frozenset({"uw", "ow", "w", "uh", "oy", "ao"})


@dataclass(frozen=True)
class PhoneSegment:
    """One phone from ``start`` to ``end`` seconds. ``phone`` is in PHONES."""

    phone: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def normalize_phone(label: str) -> str:
    """'AH0' / 'ah1' / 'SIL' / '<sil>' / 'SP' -> ARPAbet lower case without stress, or 'sil'."""
    key = label.strip().lower().strip("<>").rstrip("012")
    if key in ("sil", "sp", "spn", "pau", "h#", "", "noise", "nsn", "+spn+", "+nsn+"):
        return SILENCE
    if key not in ARPABET:
        raise ValueError(f"not an ARPAbet phone: {label!r}")
    return key


# ---- rates -----------------------------------------------------------------------------------

SAMPLE_RATE = 16000  # Hz: what every speech model reads (and what corpora store)
CONTENT_RATE = 50.0  # content frames per second (HuBERT's rate: two per motion frame)
MOTION_FPS = 25.0  # motion frames per second of the shipped models and the synthetic corpus
MUX_SAMPLE_RATE = 48000  # Hz: the AAC track of rendered MP4s

# ---- sampling defaults (CLI, app, API and bench pass None to mean these) -----------------------

DEFAULT_GUIDANCE = 2.0  # classifier-free guidance weight s (Eq. 6; the paper's default)
DEFAULT_STEPS = 4  # sampling steps of the default sampler: DDIM-4 has the lip error, sync and emotion of
#                    400 ancestral steps (less lip diversity) at 1/100 of the time (issue 12's table)
DEFAULT_SAMPLER = "ddim"  # one of SAMPLERS
# "ddim" (deterministic, any step count), "ddpm" (ancestral), "dpmpp" (DPM-Solver++(2M), deterministic,
# second order) and "dpmpp-sde" (its SDE form: fresh noise every step, like the ancestral sampler).
SAMPLERS: tuple[str, ...] = ("ddim", "ddpm", "dpmpp", "dpmpp-sde")
GUIDANCE_RANGE = (0.0, 10.0)  # accepted guidance weights (0.5-3 is the useful range)
MAX_STEPS = 1000  # most sampling steps accepted from a user (a model may accept fewer: its noise levels)
MAX_SEED = 2**32 - 1

# ---- training choices (named here so the CLI lists them without importing torch) ------------------

PREDICTIONS: tuple[str, ...] = ("sample", "epsilon", "v")  # what a diffusion denoiser outputs: x0, noise, v
# Where an aligned content encoder's features come from when a corpus is encoded (data/generator_set.py):
# its posteriors alone, the corpus's exact phone timings fused with them, or recognise-then-align.
CONTENT_ROUTES: tuple[str, ...] = ("posteriors", "exact", "recognised")


@dataclass(frozen=True)
class Sampling:
    """How a take is sampled: what ``check_sampling`` returns and a pipeline ``Result`` reports."""

    guidance: float  # classifier-free guidance weight
    steps: int  # sampling steps
    seed: int  # another seed gives another take
    sampler: str  # one of SAMPLERS


def whole_number(value, what: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high] (whole floats such as 25.0 count), or a clear error."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= value <= high:
        raise EmoAnimError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def check_sampling(guidance: float, steps: int, seed: int, sampler: str, max_steps: int = MAX_STEPS) -> Sampling:
    """The one check of the sampling settings: front-ends call it before any slow work, and the
    generator with its own ``max_steps`` (its number of noise levels)."""
    try:
        guidance = float(guidance)
    except (TypeError, ValueError):
        raise EmoAnimError(f"the guidance weight must be a number, got {guidance!r}") from None
    low, high = GUIDANCE_RANGE
    if not low <= guidance <= high:
        raise EmoAnimError(f"the guidance weight must be between {low:g} and {high:g} "
                           f"({DEFAULT_GUIDANCE:g} is typical), got {guidance:g}")
    if sampler not in SAMPLERS:
        raise EmoAnimError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
    return Sampling(guidance, whole_number(steps, "the number of sampling steps", 1, max_steps),
                    whole_number(seed, "the seed", 0, MAX_SEED), sampler)

# ---- checkpoint layout (sub-folders of a checkpoint folder such as ``checkpoints/``) -----------

CHECKPOINTS_DIR = "checkpoints"  # the checkpoint folder the front-ends load by default
EMOTION_SPACE_DIR = "emotion_space"
CONTENT_ENCODER_DIR = "content_encoder"
GENERATOR_DIR = "generator"
LIP_SYNC_DIR = "lip_sync"
REGRESSION_DIR = "regression"
