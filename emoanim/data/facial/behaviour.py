"""Non-verbal behaviour while talking: blinks, gaze, head motion and prosodic brow raises.

Blinks. Spontaneous blink rate is ~17/min at rest and ~26/min in conversation (Bentivoglio
et al. 1997, Mov. Disord. 12:1028; Karson et al. 1981: 19/min silent, 25/min speaking), with a
log-normal spread between people; it rises with arousal/anxiety and falls with focused
attention. A blink closes fast (~70-110 ms) and opens 2-3x slower (~150-250 ms, decelerating)
(VanderWerf et al. 2003, J. Neurophysiol. 89:2784); a few are incomplete, some come in pairs
(double blinks), none follow each other closer than a refractory ~0.3 s. Blinks cluster at
pauses and gaze shifts (Evinger et al. 1994; Nakano & Kitazawa 2010).

Gaze. Speakers make small saccades around the listener's face (1-3 per second) and look away
now and then, mostly when starting to speak or planning (Kendon 1967; Argyle & Cook 1976).
Saccade duration follows the main sequence, ~21 ms + 2.2 ms/deg (Carpenter 1988). Sad people
look down; fearful ones scan sideways.

Head. Slow drift (low-frequency noise), larger for high-arousal emotions and smaller, lowered
for sadness; nods/beats on stressed syllables (Hadar et al. 1983; Graf et al. 2002), eyes
counter-rotating (vestibulo-ocular reflex) to keep looking at the listener.

Brows. Raises on pitch accents (Cavé et al. 1996; Flecha-García 2010), onset ~50 ms before the
f0 peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoanim.vocabulary import EMOTIONS
from emoanim.data.facial.expression import EmotionProfile, bump, gaussian_smooth, lowpass_noise, smoothstep
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS, GAZE_PITCH, GAZE_YAW

# --- data tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BehaviourStyle:
    blink_rate: float  # lid closures per second while talking (double blinks count twice)
    saccade_rate: float  # gaze shifts per second
    aversion: float  # probability that a gaze shift looks away from the listener
    look_down: bool  # aversions go down (sad) rather than sideways/up
    head_amp: float  # x the neutral head-drift amplitude
    head_bias: tuple[float, float, float]  # (yaw, pitch, roll) rad at full intensity; yaw/roll x clip side
    nod_gain: float  # x nod amplitude and probability on stressed syllables
    brow_gain: float  # x brow raises on pitch accents


# Conversational blink rate ~0.36/s overall (Bentivoglio 1997: 26/min talking, 17/min at rest);
# higher with anxiety and anger, lower in sadness and surprise (wide-open, attending eyes).
STYLES: dict[str, BehaviourStyle] = {
    "neutral": BehaviourStyle(0.36, 1.8, 0.12, False, 1.0, (0.0, 0.0, 0.0), 1.0, 1.0),
    "happy": BehaviourStyle(0.37, 2.0, 0.10, False, 1.3, (0.0, -0.03, 0.03), 1.2, 1.2),
    "sad": BehaviourStyle(0.31, 1.2, 0.30, True, 0.6, (0.0, 0.10, 0.0), 0.6, 0.7),
    "angry": BehaviourStyle(0.40, 1.5, 0.05, False, 1.4, (0.0, 0.04, 0.0), 1.5, 0.35),
    "fearful": BehaviourStyle(0.43, 2.6, 0.22, False, 0.9, (0.0, -0.03, 0.0), 0.8, 1.2),
    "surprised": BehaviourStyle(0.30, 1.6, 0.08, False, 1.3, (0.0, -0.05, 0.0), 1.1, 1.5),
    "disgusted": BehaviourStyle(0.37, 2.0, 0.20, False, 1.1, (0.05, -0.02, 0.0), 1.0, 0.6),
    "contemptuous": BehaviourStyle(0.34, 1.5, 0.15, False, 0.9, (0.03, -0.06, -0.04), 0.9, 0.8),
}

assert set(STYLES) == set(EMOTIONS)

BLINK_RATE_SPREAD = 0.25  # log-normal sd of a clip's (speaker's) blink rate
BLINK_REFRACTORY = 0.3  # s, minimum onset-to-onset interval of separate blinks
BLINK_INTERVAL_SHAPE = 1.5  # gamma shape of inter-blink intervals beyond the refractory time
DOUBLE_BLINK = 0.08  # probability that a blink is followed at once by a second one
INCOMPLETE_BLINK = 0.12
HEAD_DRIFT = np.array([0.04, 0.03, 0.02])  # rad sd of neutral yaw, pitch, roll drift
HEAD_POSTURE = np.array([0.03, 0.03, 0.02])  # rad sd of a clip's resting head posture
NOD_AMPLITUDE = 0.035  # rad
BROW_RAISE = 0.18  # browInnerUp at a strong accent
HEAD_LIMIT = 0.35  # rad

_INDEX = {name: i for i, name in enumerate(ARKIT_PARAMS)}
_YAW, _PITCH, _ROLL = (len(ARKIT_ACTIONS) + i for i in range(3))


@dataclass
class Behaviour:
    params: np.ndarray  # [T, 55] additive: gaze, head, brow raises (eyeBlink left at 0)
    blink: np.ndarray  # [T, 2] blink closure (left, right), combined by motion.py


# --- blinks ---------------------------------------------------------------------------------


def blink_onsets(duration: float, rate: float, rng: np.random.Generator, attractors: np.ndarray) -> np.ndarray:
    """Blink-episode onsets (s): a gamma renewal process with a refractory period, some blinks
    pulled to ``attractors`` (pause onsets, large gaze shifts)."""
    episode_rate = rate / (1.0 + DOUBLE_BLINK)
    mean_gap = max(1.0 / episode_rate - BLINK_REFRACTORY, 0.05)
    scale = mean_gap / BLINK_INTERVAL_SHAPE

    def gap() -> float:
        return BLINK_REFRACTORY + rng.gamma(BLINK_INTERVAL_SHAPE, scale)

    onsets = []
    # The clip starts at a random moment of an ongoing process: inside a length-biased interval
    # (shape k + 1 for the gamma part), at a uniform position.
    t = rng.uniform(0.0, 1.0) * (BLINK_REFRACTORY + rng.gamma(BLINK_INTERVAL_SHAPE + 1.0, scale))
    while t < duration:
        onsets.append(t)
        t += gap()
    onsets_arr = np.array(onsets)
    for a in attractors:
        if len(onsets_arr) == 0 or rng.random() > 0.5:
            continue
        i = int(np.argmin(np.abs(onsets_arr - a)))
        new = a + rng.uniform(0.0, 0.12)
        if abs(onsets_arr[i] - a) < 0.8 and new < duration:
            others = np.delete(onsets_arr, i)
            if len(others) == 0 or np.abs(others - new).min() >= BLINK_REFRACTORY:
                onsets_arr[i] = new
    return np.sort(onsets_arr)


def blink_shape(times: np.ndarray, onset: float, amp: float, close: float, hold: float, open_: float) -> np.ndarray:
    """Fast ease-in-out closing, a short hold, then a decelerating (quadratic) opening."""
    tau = times - onset
    out = np.zeros_like(times)
    closing = (tau >= 0) & (tau < close)
    out[closing] = np.sin(0.5 * np.pi * tau[closing] / close) ** 2
    out[(tau >= close) & (tau < close + hold)] = 1.0
    opening = (tau >= close + hold) & (tau < close + hold + open_)
    out[opening] = (1.0 - (tau[opening] - close - hold) / open_) ** 2
    return amp * out


def blink_track(frames: int, fps: float, rate: float, rng: np.random.Generator, attractors: np.ndarray) -> np.ndarray:
    """[frames, 2] eyelid closure from blinks (left, right)."""
    times = np.arange(frames) / fps
    out = np.zeros((frames, 2))
    for onset in blink_onsets(frames / fps, rate, rng, attractors):
        for repeat in range(2):
            close, hold, open_ = rng.uniform(0.07, 0.11), rng.uniform(0.02, 0.04), rng.uniform(0.15, 0.26)
            amp = rng.uniform(0.7, 0.85) if rng.random() < INCOMPLETE_BLINK else rng.uniform(0.88, 1.0)
            lag = rng.uniform(-0.006, 0.006)  # the two lids are nearly, not exactly, synchronous
            out[:, 0] = np.maximum(out[:, 0], blink_shape(times, onset, amp, close, hold, open_))
            right = blink_shape(times, onset + lag, amp * rng.uniform(0.96, 1.0), close, hold, open_)
            out[:, 1] = np.maximum(out[:, 1], right)
            if repeat == 1 or rng.random() >= DOUBLE_BLINK:
                break
            onset = onset + close + hold + open_ * rng.uniform(0.6, 0.9)  # double blink
    return out


# --- gaze -----------------------------------------------------------------------------------


def gaze_track(
    frames: int, fps: float, style: BehaviourStyle, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conjugate gaze (h > 0 towards the subject's left, v > 0 up) in eyeLook weight units,
    as fixations joined by main-sequence saccades; also returns aversion onset times."""
    duration = frames / fps
    times = np.arange(frames) / fps
    h0, v0 = rng.normal(0.0, 0.04), rng.normal(0.0, 0.03)
    h, v = np.full(frames, h0), np.full(frames, v0)
    aversion_onsets = []
    t, cur_h, cur_v, averted = rng.uniform(0.1, 0.8), h0, v0, False
    while t < duration:
        if not averted and rng.random() < style.aversion:
            if style.look_down:
                nh, nv = rng.normal(0.0, 0.1), -rng.uniform(0.2, 0.4)
            else:
                nh = rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.35)
                nv = rng.uniform(-0.2, 0.2)
            hold = rng.uniform(0.6, 2.0)
            averted = True
            aversion_onsets.append(t)
        else:  # back to (or around) the listener's face: eyes-mouth region, a few degrees
            nh, nv = rng.normal(0.0, 0.05), rng.normal(0.0, 0.04)
            hold = max(0.15, rng.gamma(2.5, 1.0 / (2.5 * style.saccade_rate)))
            averted = False
        amp_deg = np.degrees(np.hypot((nh - cur_h) * GAZE_YAW, (nv - cur_v) * GAZE_PITCH))
        ramp = smoothstep((times - t) / (0.021 + 0.0022 * amp_deg))
        h += (nh - cur_h) * ramp
        v += (nv - cur_v) * ramp
        cur_h, cur_v = nh, nv
        t += hold
    return h, v, np.array(aversion_onsets)


# --- head -----------------------------------------------------------------------------------


def head_track(
    frames: int,
    fps: float,
    style: BehaviourStyle,
    profile: EmotionProfile,
    env: np.ndarray,
    speaking: np.ndarray,
    stress_times: np.ndarray,
    stress_strength: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(head [T, 3] yaw/pitch/roll rad, drift part [T, 3] that the eyes counter-rotate)."""
    times = np.arange(frames) / fps
    amp = HEAD_DRIFT * (1.0 + (style.head_amp - 1.0) * min(profile.scale, 1.0))
    slow = lowpass_noise(rng, frames, fps, 1.0, 3)
    fast = lowpass_noise(rng, frames, fps, 0.25, 3)
    drift = amp * (0.8 * slow + 0.45 * fast * (0.5 + 0.5 * speaking)[:, None])
    side = np.array([profile.side, 1.0, profile.side])
    bias = np.array(style.head_bias) * side * profile.scale
    posture = rng.normal(0.0, HEAD_POSTURE)
    head = drift + posture + env[:, None] * bias
    # Nods (beats) on stressed syllables: mostly down, a few up, with a little yaw/roll.
    p_nod = min(0.45 * style.nod_gain, 0.9)
    for time, strength in zip(stress_times, stress_strength):
        if rng.random() > p_nod:
            continue
        a = NOD_AMPLITUDE * style.nod_gain * strength * rng.uniform(0.6, 1.3)
        direction = 1.0 if rng.random() < 0.75 else -1.0
        pulse = bump(times, time - 0.06, rng.uniform(0.35, 0.5))
        head += a * pulse[:, None] * np.array([rng.normal(0, 0.3), direction, rng.normal(0, 0.3)])
    return head, drift


# --- all together ---------------------------------------------------------------------------


def behaviour(
    profile: EmotionProfile,
    frames: int,
    fps: float,
    env: np.ndarray,
    speaking: np.ndarray,
    stresses: tuple[np.ndarray, np.ndarray],
    accents: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> Behaviour:
    """Gaze, head, prosodic brows and blinks for one clip."""
    style = STYLES[profile.emotion]
    s = min(profile.scale, 1.0)
    neutral = STYLES["neutral"]
    times = np.arange(frames) / fps
    params = np.zeros((frames, len(ARKIT_PARAMS)))

    # Gaze, with the head following large shifts and the eyes counter-rotating head drift.
    h, v, aversions = gaze_track(frames, fps, style, rng)
    head, drift = head_track(frames, fps, style, profile, env, speaking, *stresses, rng)
    h_slow, v_slow = gaussian_smooth(h, fps, 0.15), gaussian_smooth(v, fps, 0.15)  # the head lags the eyes
    head[:, 0] += 0.25 * GAZE_YAW * h_slow  # yaw > 0 turns towards the subject's left, as h
    head[:, 1] -= 0.25 * GAZE_PITCH * v_slow  # looking up lifts the chin (pitch < 0)
    h = h - 0.7 * drift[:, 0] / GAZE_YAW
    v = v + 0.7 * drift[:, 1] / GAZE_PITCH

    for name, value in (
        ("eyeLookOutLeft", h), ("eyeLookInRight", h), ("eyeLookInLeft", -h), ("eyeLookOutRight", -h),
        ("eyeLookUpLeft", v), ("eyeLookUpRight", v), ("eyeLookDownLeft", -v), ("eyeLookDownRight", -v),
    ):  # fmt: skip
        params[:, _INDEX[name]] = np.maximum(value, 0.0)
    params[:, [_YAW, _PITCH, _ROLL]] = np.clip(head, -HEAD_LIMIT, HEAD_LIMIT)

    # Brow raises on pitch accents (weaker when the emotion pulls the brows down).
    p_brow = min(0.5 * style.brow_gain, 0.85)
    brow = np.zeros(frames)
    for time, strength in zip(*accents):
        if rng.random() < p_brow:
            a = BROW_RAISE * style.brow_gain * strength * rng.uniform(0.6, 1.4)
            brow += a * bump(times, time - 0.05, rng.uniform(0.35, 0.6))
    brow = np.minimum(brow, 0.45)
    params[:, _INDEX["browInnerUp"]] += brow
    asym = rng.uniform(-0.1, 0.1)
    params[:, _INDEX["browOuterUpLeft"]] += 0.8 * (1 + asym) * brow
    params[:, _INDEX["browOuterUpRight"]] += 0.8 * (1 - asym) * brow

    # Blinks: rate by emotion and intensity, a per-clip (speaker) factor, pulled to pauses.
    rate = neutral.blink_rate + (style.blink_rate - neutral.blink_rate) * s
    rate *= np.exp(rng.normal(-0.5 * BLINK_RATE_SPREAD**2, BLINK_RATE_SPREAD))
    pause_onsets = times[1:][(speaking[1:] < 0.5) & (speaking[:-1] >= 0.5)]
    blink = blink_track(frames, fps, rate, rng, np.concatenate([pause_onsets, aversions]))
    # Eyes dip down and in during a blink; lids follow vertical gaze.
    for side, eye in enumerate(("Left", "Right")):
        params[:, _INDEX["eyeLookDown" + eye]] += 0.08 * blink[:, side]
        params[:, _INDEX["eyeLookIn" + eye]] += 0.04 * blink[:, side]
    lid = 0.3 * np.maximum(-v, 0.0)
    blink = 1.0 - (1.0 - blink) * (1.0 - lid[:, None])
    return Behaviour(params=params, blink=blink)
