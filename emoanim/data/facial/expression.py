"""Emotional facial expression: FACS prototypes mapped to ARKit actions, sampled per clip.

Each emotion is an EMFACS-style prototype (Ekman & Friesen 1978, FACS; Friesen & Ekman 1983,
EMFACS-7; Ekman, Friesen & Hager 2002, FACS manual) written as ARKit action weights at full
intensity. ARKit's actions approximate action units (AUs): AU1 -> browInnerUp, AU2 ->
browOuterUp, AU4 -> browDown, AU5 -> eyeWide, AU6 -> cheekSquint (+ a little eyeSquint, the
orbicularis pars orbitalis also lifts the lower lid), AU7 -> eyeSquint, AU9 -> noseSneer,
AU10 -> mouthUpperUp, AU12 -> mouthSmile, AU14 -> mouthDimple, AU15 -> mouthFrown,
AU17 -> mouthShrugLower, AU20 -> mouthStretch, AU23/AU24 -> mouthPress (+ mouthRoll),
AU26 -> jawOpen, AU43 (partial) -> eyeBlink.

A clip never shows the bare prototype: ``sample_profile`` draws its own apex weights (overall
intensity, per-action jitter and drop-outs, left/right asymmetry, an occasional low-weight
blend with a related emotion, cf. compound expressions, Du, Tao & Martinez 2014 PNAS), and
``expression_track`` gives it time: a ramp-in, an optional partial fade at the end, slow
low-pass fluctuations, and small apexes on stressed syllables.

Emotion also changes *how* one speaks; ``ArticulationModifiers`` carries that to
articulation.py (sad: hypo-articulated, small jaw; angry: hyper-articulated, big jaw, pressed
lips in pauses; happy: smiling, spread lips; fearful: stretched lips).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from emoanim.vocabulary import EMOTIONS
from emoanim.rigs.arkit import ARKIT_ACTIONS

# --- data tables ---------------------------------------------------------------------------

# ARKit weights at MEAD intensity 3. A name without Left/Right that has both variants in ARKit
# (e.g. "browDown") means both sides. Comments give the prototype's AUs (EMFACS / Ekman 2002).
PROTOTYPES: dict[str, dict[str, float]] = {
    # Neutral: nothing; sample_profile adds a faint idiosyncratic resting face.
    "neutral": {},
    # AU6 + AU12 (Duchenne smile), often AU25 lips parted.
    "happy": {
        "mouthSmile": 0.62, "cheekSquint": 0.45, "eyeSquint": 0.22, "mouthDimple": 0.10,
        "mouthUpperUp": 0.08, "jawOpen": 0.03, "browInnerUp": 0.04,
    },
    # AU1 + AU4 + AU15 (+ AU17, droopy lids), gaze/head down is added by behaviour.py.
    "sad": {
        "browInnerUp": 0.55, "browDown": 0.22, "mouthFrown": 0.45, "mouthShrugLower": 0.22,
        "eyeBlink": 0.12, "mouthPress": 0.08, "eyeSquint": 0.08,
    },
    # AU4 + AU5 + AU7 + AU23/AU24 (AU9/AU10 often co-occur in anger, Ekman 2002).
    "angry": {
        "browDown": 0.68, "eyeSquint": 0.35, "eyeWide": 0.15, "mouthPress": 0.32,
        "mouthRollLower": 0.08, "noseSneer": 0.15, "jawForward": 0.05, "cheekSquint": 0.10,
    },
    # AU1 + AU2 + AU4 + AU5 + AU20 (+ AU25/26).
    "fearful": {
        "browInnerUp": 0.62, "browOuterUp": 0.38, "browDown": 0.15, "eyeWide": 0.50,
        "mouthStretch": 0.45, "jawOpen": 0.05, "mouthLowerDown": 0.08,
    },
    # AU1 + AU2 + AU5B + AU26.
    "surprised": {
        "browInnerUp": 0.58, "browOuterUp": 0.66, "eyeWide": 0.55, "jawOpen": 0.15,
        "mouthFunnel": 0.06,
    },
    # AU9 + AU10 (+ AU15/AU17, AU4 and AU6/AU7 narrowing the eyes).
    "disgusted": {
        "noseSneer": 0.55, "mouthUpperUp": 0.38, "mouthFrown": 0.28, "browDown": 0.35,
        "cheekSquint": 0.30, "eyeSquint": 0.28, "mouthShrugLower": 0.15,
    },
    # Unilateral AU12/AU14 (Ekman & Friesen 1986): the side is drawn per clip (UNILATERAL).
    "contemptuous": {"browDown": 0.08, "eyeSquint": 0.08},
}
UNILATERAL: dict[str, dict[str, float]] = {
    "contemptuous": {"mouthSmile": 0.36, "mouthDimple": 0.42, "mouthPress": 0.10, "cheekSquint": 0.08},
}
# The faint resting face of a "neutral" speaker: upper bounds of a uniform draw per action.
NEUTRAL_RESTING = {
    "browInnerUp": 0.06, "browDown": 0.04, "mouthPress": 0.05, "eyeSquint": 0.05,
    "mouthFrown": 0.04, "mouthSmile": 0.04, "mouthShrugLower": 0.04,
}

# MEAD levels 1-3 -> fraction of the prototype (before per-clip jitter).
INTENSITY_SCALE = {1: 0.35, 2: 0.65, 3: 1.0}

# Related emotions a clip may blend in at low weight (compound expressions, Du et al. 2014).
BLENDS: dict[str, tuple[str, ...]] = {
    "neutral": (),
    "happy": ("surprised", "contemptuous"),
    "sad": ("fearful", "angry", "disgusted"),
    "angry": ("disgusted", "sad", "contemptuous"),
    "fearful": ("surprised", "sad", "disgusted"),
    "surprised": ("happy", "fearful"),
    "disgusted": ("angry", "sad", "contemptuous"),
    "contemptuous": ("disgusted", "angry", "happy"),
}
BLEND_PROBABILITY = 0.3


@dataclass(frozen=True)
class ArticulationModifiers:
    """How an emotion changes speech movements (used by articulation.py)."""

    jaw_gain: float = 1.0  # x jaw opening during speech
    lip_gain: float = 1.0  # x lip rounding/spreading gestures (hyper- vs hypo-articulation)
    precision: float = 1.0  # x dominance rates: > 1 crisper (less coarticulation), < 1 slurred
    speech_smile: float = 0.0  # + mouthSmile while speaking (smiled speech)
    spread: float = 0.0  # + mouthStretch while speaking
    upper_lip: float = 0.0  # + mouthUpperUp while speaking
    pause_press: float = 0.0  # + mouthPress in pauses (lips pressed together)

    def scaled(self, s: float) -> "ArticulationModifiers":
        """The modifier at a fraction ``s`` of full intensity (gains move towards 1, extras to 0)."""
        return ArticulationModifiers(
            jaw_gain=1.0 + (self.jaw_gain - 1.0) * s,
            lip_gain=1.0 + (self.lip_gain - 1.0) * s,
            precision=1.0 + (self.precision - 1.0) * s,
            speech_smile=self.speech_smile * s,
            spread=self.spread * s,
            upper_lip=self.upper_lip * s,
            pause_press=self.pause_press * s,
        )


# Full-intensity articulation changes. Sad speech is hypo-articulated with reduced jaw and lip
# excursions; angry (hot anger) is louder with larger, crisper movements (Erickson et al. 1998,
# Kim, Lee & Narayanan 2009 on emotional articulation); smiled speech spreads the lips
# (Tartter 1980); fear stretches them (AU20).
ARTICULATION: dict[str, ArticulationModifiers] = {
    "neutral": ArticulationModifiers(),
    "happy": ArticulationModifiers(jaw_gain=1.08, speech_smile=0.15, spread=0.10),
    "sad": ArticulationModifiers(jaw_gain=0.72, lip_gain=0.8, precision=0.85),
    "angry": ArticulationModifiers(jaw_gain=1.2, lip_gain=1.15, precision=1.2, pause_press=0.35),
    "fearful": ArticulationModifiers(jaw_gain=0.95, spread=0.22),
    "surprised": ArticulationModifiers(jaw_gain=1.15, lip_gain=1.05),
    "disgusted": ArticulationModifiers(jaw_gain=0.85, lip_gain=0.9, upper_lip=0.08),
    "contemptuous": ArticulationModifiers(jaw_gain=0.85, lip_gain=0.85, precision=0.9),
}
# How strongly the expression peaks on stressed syllables (fraction of its apex).
BURST_GAIN = {
    "neutral": 0.0, "happy": 0.25, "sad": 0.12, "angry": 0.3, "fearful": 0.2,
    "surprised": 0.25, "disgusted": 0.25, "contemptuous": 0.2,
}  # fmt: skip
assert set(PROTOTYPES) == set(BLENDS) == set(ARTICULATION) == set(BURST_GAIN) == set(EMOTIONS)

_INDEX = {name: i for i, name in enumerate(ARKIT_ACTIONS)}


def _expand(name: str) -> list[str]:
    """'browDown' -> ['browDownLeft', 'browDownRight']; 'jawOpen' -> ['jawOpen']."""
    if name in _INDEX:
        return [name]
    both = [name + "Left", name + "Right"]
    if all(n in _INDEX for n in both):
        return both
    raise KeyError(f"not an ARKit action: {name}")


def prototype_vector(emotion: str) -> np.ndarray:
    """[52] the full-intensity prototype (unilateral actions on the subject's left)."""
    w = np.zeros(len(ARKIT_ACTIONS))
    for name, value in PROTOTYPES[emotion].items():
        w[[_INDEX[n] for n in _expand(name)]] += value
    for name, value in UNILATERAL.get(emotion, {}).items():
        w[_INDEX[name + "Left"]] += value
    return w


# --- sampling one clip's expression ---------------------------------------------------------


@dataclass(frozen=True)
class EmotionProfile:
    """One clip's draw: apex weights, dynamics and articulation changes."""

    emotion: str
    intensity: int
    scale: float  # effective fraction of full intensity
    apex: np.ndarray  # [52] action weights at the expression's apex
    burst: np.ndarray  # [52] extra weights at a stressed-syllable apex (per unit strength)
    articulation: ArticulationModifiers
    side: int  # +1: unilateral actions on the subject's left, -1: right
    secondary: str | None
    onset_start: float  # s, when the ramp-in begins
    onset_duration: float  # s
    start_level: float  # fraction of apex before the ramp
    fade_duration: float  # s before the end where a partial fade begins (0: no fade)
    fade_level: float  # fraction of apex reached at the end


def sample_profile(emotion: str, intensity: int, rng: np.random.Generator) -> EmotionProfile:
    """Draw one clip's expression around the emotion's prototype."""
    n = len(ARKIT_ACTIONS)
    scale = float(np.clip(INTENSITY_SCALE[intensity] * np.exp(rng.normal(0.0, 0.15)), 0.12, 1.25))
    side = 1 if rng.random() < 0.5 else -1

    base = np.zeros(n)
    for name, value in PROTOTYPES[emotion].items():
        idx = [_INDEX[k] for k in _expand(name)]
        jitter = np.exp(rng.normal(0.0, 0.25))
        if value < 0.3 and rng.random() < 0.12:  # individuals differ in which minor AUs they show
            jitter *= 0.2
        lr = 1.0 + rng.uniform(-0.12, 0.12) * np.array([1.0, -1.0])[: len(idx)]
        base[idx] += value * jitter * lr
    for name, value in UNILATERAL.get(emotion, {}).items():
        strong, weak = (name + "Left", name + "Right") if side > 0 else (name + "Right", name + "Left")
        jitter = np.exp(rng.normal(0.0, 0.25))
        base[_INDEX[strong]] += value * jitter
        base[_INDEX[weak]] += 0.12 * value * jitter
    if emotion == "neutral":
        for name, hi in NEUTRAL_RESTING.items():
            idx = [_INDEX[k] for k in _expand(name)]
            base[idx] += rng.uniform(0.0, hi) * (1.0 + rng.uniform(-0.15, 0.15, len(idx)))

    secondary = None
    if BLENDS[emotion] and rng.random() < BLEND_PROBABILITY:
        secondary = BLENDS[emotion][rng.integers(len(BLENDS[emotion]))]
        sec = prototype_vector(secondary)
        if side < 0:  # keep a blended unilateral action on this clip's side
            for name in UNILATERAL.get(secondary, {}):
                l, r = _INDEX[name + "Left"], _INDEX[name + "Right"]
                sec[l], sec[r] = sec[r], sec[l]
        base += rng.uniform(0.1, 0.3) * sec

    apex = np.clip(base * (scale if emotion != "neutral" else 1.0), 0.0, 1.0)
    # Apexes on stresses intensify the emotion's strongest actions (its "key" AUs).
    key = np.zeros(n)
    top = np.argsort(-apex)[:4]
    key[top] = apex[top]
    burst = BURST_GAIN[emotion] * key

    articulation = ARTICULATION[emotion].scaled(min(scale, 1.1))
    if emotion == "happy":  # some people smile only when not talking
        articulation = replace(articulation, speech_smile=articulation.speech_smile * rng.uniform(0.4, 1.3))

    fade = rng.random() < 0.4
    return EmotionProfile(
        emotion=emotion,
        intensity=intensity,
        scale=scale,
        apex=apex,
        burst=burst,
        articulation=articulation,
        side=side,
        secondary=secondary,
        onset_start=float(rng.uniform(0.0, 0.3)),
        onset_duration=float(rng.uniform(0.3, 1.0)),
        start_level=float(rng.uniform(0.0, 0.5)),
        fade_duration=float(rng.uniform(0.5, 1.2)) if fade else 0.0,
        fade_level=float(rng.uniform(0.55, 0.9)) if fade else 1.0,
    )


# --- time courses ---------------------------------------------------------------------------


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def lowpass_noise(rng: np.random.Generator, frames: int, fps: float, sigma_s: float, size: int = 1) -> np.ndarray:
    """[frames, size] Gaussian-smoothed white noise with unit standard deviation (in expectation)."""
    sigma = max(sigma_s * fps, 0.5)
    half = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal((frames + 2 * half, size))
    out = np.empty((frames, size))
    for j in range(size):
        out[:, j] = np.convolve(white[:, j], kernel, mode="valid")
    return out


def gaussian_smooth(x: np.ndarray, fps: float, sigma_s: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of a [T] signal (edges held), sigma in seconds."""
    sigma = max(sigma_s * fps, 1e-3)
    half = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, half, mode="edge"), kernel / kernel.sum(), mode="valid")


def bump(times: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Raised-cosine pulse of total ``width`` seconds, peak 1 at ``centre``."""
    u = np.clip((times - centre) / width, -0.5, 0.5)
    return 0.5 + 0.5 * np.cos(2.0 * np.pi * u)


def envelope(profile: EmotionProfile, frames: int, fps: float) -> np.ndarray:
    """[frames] fraction of the apex over time: ramp-in, hold, optional partial fade."""
    t = np.arange(frames) / fps
    duration = frames / fps
    ramp = smoothstep((t - profile.onset_start) / profile.onset_duration)
    env = profile.start_level + (1.0 - profile.start_level) * ramp
    if profile.fade_duration > 0:
        fade_from = max(duration - profile.fade_duration, profile.onset_start + profile.onset_duration)
        fading = smoothstep((t - fade_from) / max(duration - fade_from, 1e-3))
        env = env * (1.0 - (1.0 - profile.fade_level) * fading)
    return env


def expression_track(
    profile: EmotionProfile,
    frames: int,
    fps: float,
    stress_times: np.ndarray,
    stress_strength: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """[frames, 52] expression weights over the clip (before articulation is added)."""
    t = np.arange(frames) / fps
    env = envelope(profile, frames, fps)
    # Slow fluctuations: one shared (arousal-like) component and a little per action.
    shared = 0.12 * lowpass_noise(rng, frames, fps, 0.6)[:, 0]
    own = 0.06 * lowpass_noise(rng, frames, fps, 0.4, len(ARKIT_ACTIONS))
    gain = np.clip(1.0 + shared[:, None] + own, 0.0, None)
    track = env[:, None] * profile.apex[None, :] * gain
    # Small apexes aligned with stressed syllables (expression peaks on emphasis).
    if profile.burst.any():
        pulses = np.zeros(frames)
        for time, strength in zip(stress_times, stress_strength):
            if rng.random() < 0.6:
                width = rng.uniform(0.3, 0.5)
                pulses += strength * rng.uniform(0.6, 1.2) * bump(t, time - 0.03, width)
        track += (env * np.minimum(pulses, 1.5))[:, None] * profile.burst[None, :]
    return np.clip(track, 0.0, 1.0)


__all__ = [
    "ARTICULATION",
    "ArticulationModifiers",
    "EmotionProfile",
    "INTENSITY_SCALE",
    "PROTOTYPES",
    "envelope",
    "expression_track",
    "prototype_vector",
    "sample_profile",
]
