"""Speech articulation: phones -> visemes -> ARKit mouth/jaw weights with coarticulation.

Coarticulation follows Cohen & Massaro (1993, "Modeling coarticulation in synthetic visual
speech", in Models and Techniques in Computer Animation): every phone has, per articulatory
channel, a target T and a dominance

    D(t) = alpha * exp(-theta * |t - t_centre| ** c)        (theta_before / theta_after differ)

and a channel's trajectory is the dominance-weighted mean sum_i D_i T_i / sum_i D_i. Vowels
dominate the jaw; /p b m/ dominate lip closure and /f v/ the lower-lip tuck so strongly that
neighbours never smooth them away, while phones that do not use the lips (/k g t d h/...) have
tiny lip dominance, so rounding spreads across them (anticipatory rounding, Benguerel &
Cowan 1974). Anticipatory rates are lower than carry-over rates, so lips start moving ~100 ms
before acoustic onset (visible speech leads audio by tens of ms, Chandrasekaran et al. 2009).

Channels (weights in ARKit units): jaw -> jawOpen; close -> lip closure degree (mouthClose is
set to close * jawOpen later, after the expression's jaw has been added: see
``apply_lip_closure``); pucker -> mouthPucker; funnel -> mouthFunnel; spread -> mouthStretch
(+ a little mouthSmile/mouthDimple); tuck -> mouthRollLower (lower lip under the upper teeth);
upper -> mouthUpperUp; lower -> mouthLowerDown; tongue -> tongueOut (interdentals).
Viseme classes follow the usual English groupings (MPEG-4 FBA visemes; Disney/Preston Blair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoanim.data.facial.expression import ArticulationModifiers
from emoanim.vocabulary import SILENCE, PhoneSegment
from emoanim.rigs.arkit import ARKIT_ACTIONS

CHANNELS = ("jaw", "close", "pucker", "funnel", "spread", "tuck", "upper", "lower", "tongue")
# Which dominance group (alpha) each channel uses.
CHANNEL_GROUP = {
    "jaw": "jaw", "close": "close", "pucker": "round", "funnel": "round",
    "spread": "lip", "tuck": "lip", "upper": "lip", "lower": "lip", "tongue": "lip",
}  # fmt: skip

# --- data tables ---------------------------------------------------------------------------

# Viseme targets (missing channels are 0). jawOpen ~0.5 is a wide /a/ (~14 mm lip aperture on
# the Anny head); English /i/ is spread, /u/ rounded and protruded; /f v/ tuck the lower lip
# under the upper incisors; /S Z tS dZ/ protrude and funnel the lips; /r/ is lip-rounded.
VISEME_TARGETS: dict[str, dict[str, float]] = {
    "rest": {},
    "PBM": {"jaw": 0.05, "close": 1.0},
    "FV": {"jaw": 0.07, "tuck": 0.65, "upper": 0.22},
    "TH": {"jaw": 0.12, "tongue": 0.12, "lower": 0.10},
    "SZ": {"jaw": 0.06, "spread": 0.25, "lower": 0.15, "upper": 0.08},
    "SH": {"jaw": 0.09, "funnel": 0.45, "pucker": 0.22, "upper": 0.15, "lower": 0.15},
    "TDN": {"jaw": 0.12, "lower": 0.08},
    "L": {"jaw": 0.16, "lower": 0.08},
    "KG": {"jaw": 0.14},
    "R": {"jaw": 0.14, "pucker": 0.30, "funnel": 0.20},
    "W": {"jaw": 0.08, "pucker": 0.75, "funnel": 0.20},
    "Y": {"jaw": 0.08, "spread": 0.30},
    "HH": {"jaw": 0.15},
    # vowels
    "AA": {"jaw": 0.52, "lower": 0.15},
    "AE": {"jaw": 0.44, "spread": 0.25, "lower": 0.20, "upper": 0.08},
    "AH": {"jaw": 0.34, "lower": 0.10},
    "AO": {"jaw": 0.42, "funnel": 0.32, "pucker": 0.15},
    "EH": {"jaw": 0.30, "spread": 0.22, "lower": 0.10},
    "ER": {"jaw": 0.20, "pucker": 0.30, "funnel": 0.22},
    "IH": {"jaw": 0.20, "spread": 0.28},
    "IY": {"jaw": 0.12, "spread": 0.48},
    "UH": {"jaw": 0.18, "pucker": 0.38, "funnel": 0.25},
    "UW": {"jaw": 0.11, "pucker": 0.78, "funnel": 0.30},
}

# Phone -> viseme(s). Diphthongs glide between two targets (at 30 % and 80 % of the vowel).
PHONE_VISEMES: dict[str, tuple[str, ...]] = {
    SILENCE: ("rest",),
    "p": ("PBM",), "b": ("PBM",), "m": ("PBM",),
    "f": ("FV",), "v": ("FV",),
    "th": ("TH",), "dh": ("TH",),
    "s": ("SZ",), "z": ("SZ",),
    "sh": ("SH",), "zh": ("SH",), "ch": ("SH",), "jh": ("SH",),
    "t": ("TDN",), "d": ("TDN",), "n": ("TDN",), "l": ("L",),
    "k": ("KG",), "g": ("KG",), "ng": ("KG",),
    "r": ("R",), "w": ("W",), "y": ("Y",), "hh": ("HH",),
    "aa": ("AA",), "ae": ("AE",), "ah": ("AH",), "ao": ("AO",), "eh": ("EH",), "er": ("ER",),
    "ih": ("IH",), "iy": ("IY",), "uh": ("UH",), "uw": ("UW",),
    "aw": ("AA", "UH"), "ay": ("AA", "IY"), "ey": ("EH", "IY"), "ow": ("AO", "UW"), "oy": ("AO", "IY"),
}  # fmt: skip

# Dominance magnitudes alpha per group (jaw, close, round, lip) and rates theta (1/s) before
# and after the centre. Cohen & Massaro fit c = 1 and theta ~ 10-30 /s; consonants with a
# visible place of articulation dominate the lips, vowels the jaw.
_VOWEL = {"jaw": 1.5, "close": 2.5, "round": 1.5, "lip": 1.5, "theta": (9.0, 13.0)}
DOMINANCE: dict[str, dict] = {
    "rest": {"jaw": 0.8, "close": 1.0, "round": 0.8, "lip": 0.8, "theta": (14.0, 14.0)},
    "PBM": {"jaw": 2.0, "close": 12.0, "round": 0.5, "lip": 1.0, "theta": (30.0, 40.0)},
    "FV": {"jaw": 2.0, "close": 2.0, "round": 0.6, "lip": 8.0, "theta": (24.0, 30.0)},
    "TH": {"jaw": 0.8, "close": 1.0, "round": 0.3, "lip": 1.5, "theta": (16.0, 20.0)},
    "SZ": {"jaw": 1.2, "close": 1.0, "round": 0.3, "lip": 0.8, "theta": (16.0, 20.0)},
    "SH": {"jaw": 0.9, "close": 1.0, "round": 3.0, "lip": 1.0, "theta": (16.0, 20.0)},
    "TDN": {"jaw": 0.5, "close": 1.0, "round": 0.15, "lip": 0.3, "theta": (16.0, 20.0)},
    "L": {"jaw": 0.5, "close": 1.0, "round": 0.15, "lip": 0.3, "theta": (16.0, 20.0)},
    "KG": {"jaw": 0.4, "close": 1.0, "round": 0.1, "lip": 0.2, "theta": (16.0, 20.0)},
    "R": {"jaw": 0.4, "close": 1.0, "round": 2.0, "lip": 0.5, "theta": (16.0, 20.0)},
    "W": {"jaw": 0.5, "close": 1.0, "round": 5.0, "lip": 1.0, "theta": (16.0, 20.0)},
    "Y": {"jaw": 0.5, "close": 1.0, "round": 1.0, "lip": 1.5, "theta": (16.0, 20.0)},
    "HH": {"jaw": 0.1, "close": 0.5, "round": 0.1, "lip": 0.1, "theta": (14.0, 18.0)},
    **{v: _VOWEL for v in ("AA", "AE", "AH", "EH", "ER", "IH", "IY")},
    **{v: {**_VOWEL, "round": 3.0} for v in ("AO", "UH", "UW")},
}
OPEN_VOWEL_JAW_ALPHA = 2.0  # /aa ae ao/ hold the jaw down against neighbours
JAW_THETA = 16.0  # 1/s, the fastest jaw dominance decay
AUDIO_LEAD = 0.015  # s: visible gestures are centred slightly before the acoustic centre
SILENCE_CHUNK = 0.15  # s: long pauses get one "rest" anchor per chunk so the mouth relaxes
# Half-width of the flat top of a phone's dominance, as a fraction of its duration.
CORE_FRACTION = {"PBM": 0.4, "FV": 0.35}

JAW_ASSIST = 0.35  # fraction of the jaw opening removed while the lips are sealed

_INDEX = {name: i for i, name in enumerate(ARKIT_ACTIONS)}
# Actions that open the lips; they are suppressed while the lips are closed for /p b m/.
LIP_OPENERS = tuple(
    _INDEX[n] for n in ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                        "mouthUpperUpRight", "mouthShrugUpper", "tongueOut")
)  # fmt: skip


@dataclass
class Articulation:
    weights: np.ndarray  # [T, 52] articulation actions (mouthClose still 0: see apply_lip_closure)
    closure: np.ndarray  # [T] lip-contact degree 0..1 (1 = lips sealed for /p b m/)
    speaking: np.ndarray  # [T] 0..1 smoothed speech activity


def _anchors(phones: list[PhoneSegment]) -> list[tuple[float, float, str, str]]:
    """(centre, half-width, viseme, phone): one per phone, two per diphthong, chunks in pauses.

    Dominance is flat (= alpha) within half-width of the centre, so a consonant holds its
    target through its constriction (lips stay sealed for the whole /m/), then decays.
    """
    out = []
    for seg in phones:
        visemes = PHONE_VISEMES[seg.phone]
        if seg.phone == SILENCE:
            n = max(1, int(np.ceil(seg.duration / SILENCE_CHUNK)))
            for k in range(n):
                out.append((seg.start + (k + 0.5) * seg.duration / n, 0.1 * seg.duration / n, "rest", seg.phone))
        elif len(visemes) == 2:
            out.append((seg.start + 0.3 * seg.duration - AUDIO_LEAD, 0.1 * seg.duration, visemes[0], seg.phone))
            out.append((seg.start + 0.8 * seg.duration - AUDIO_LEAD, 0.1 * seg.duration, visemes[1], seg.phone))
        else:
            plateau = CORE_FRACTION.get(visemes[0], 0.2)
            out.append((0.5 * (seg.start + seg.end) - AUDIO_LEAD, plateau * seg.duration, visemes[0], seg.phone))
    return out


def fill_silence(phones: list[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Sorted phones with gaps (and the clip's head and tail) filled by 'sil'."""
    segs = sorted((s for s in phones if s.end > s.start), key=lambda s: s.start)
    out: list[PhoneSegment] = []
    t = 0.0
    for s in segs:
        start, end = max(s.start, t), min(s.end, duration)
        if start - t > 1e-3:
            out.append(PhoneSegment(SILENCE, t, start))
        if end > start:
            out.append(PhoneSegment(s.phone, start, end))
            t = end
    if duration - t > 1e-3:
        out.append(PhoneSegment(SILENCE, t, duration))
    return out or [PhoneSegment(SILENCE, 0.0, max(duration, 1e-3))]


def coarticulate(phones: list[PhoneSegment], times: np.ndarray, precision: float = 1.0) -> dict[str, np.ndarray]:
    """Cohen-Massaro blending: channel name -> [T] trajectory at ``times``."""
    anchors = _anchors(phones)
    centre = np.array([a[0] for a in anchors])
    half = np.array([a[1] for a in anchors])
    dt = times[None, :] - centre[:, None]  # [A, T]
    theta_before = np.array([DOMINANCE[a[2]]["theta"][0] for a in anchors]) * precision
    theta_after = np.array([DOMINANCE[a[2]]["theta"][1] for a in anchors]) * precision
    theta = np.where(dt < 0, theta_before[:, None], theta_after[:, None])
    distance = np.maximum(np.abs(dt) - half[:, None], 0.0)
    decay = np.exp(-theta * distance)
    # The jaw is heavier than the lips: no phone switches it faster than JAW_THETA allows.
    jaw_decay = np.exp(-np.minimum(theta, JAW_THETA * precision) * distance)
    rest_dominance = 1e-4  # keeps the mean defined far from every anchor (-> relaxed rest)
    out = {}
    for ch in CHANNELS:
        group = CHANNEL_GROUP[ch]
        decay_ch = jaw_decay if ch == "jaw" else decay
        alpha = np.array([DOMINANCE[v][group] for _, _, v, _ in anchors])
        if ch == "jaw":
            alpha = np.where([p in ("aa", "ae", "ao", "aw", "ay") for *_, p in anchors], OPEN_VOWEL_JAW_ALPHA, alpha)
        target = np.array([VISEME_TARGETS[v].get(ch, 0.0) for _, _, v, _ in anchors])
        dom = alpha[:, None] * decay_ch
        out[ch] = (dom * target[:, None]).sum(0) / (dom.sum(0) + rest_dominance)
    return out


def lip_contact(close: np.ndarray) -> np.ndarray:
    """Blended closure gesture -> lip contact. Lips touch once the gesture passes ~60 % and are
    fully sealed (compressed) above ~85 %: contact is a threshold event, not a blend."""
    u = np.clip((close - 0.4) / 0.45, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def articulate(
    phones: list[PhoneSegment],
    frames: int,
    fps: float,
    loudness: np.ndarray,
    modifiers: ArticulationModifiers,
    rng: np.random.Generator,
) -> Articulation:
    """ARKit articulation for a phone sequence (already covering the clip, see fill_silence)."""
    times = np.arange(frames) / fps
    ch = coarticulate(phones, times, modifiers.precision)

    # Speech activity: 1 inside non-silent phones, eased over ~80 ms at the edges.
    speech = np.zeros(frames)
    for seg in phones:
        if seg.phone != SILENCE:
            speech[(times >= seg.start - 0.04) & (times < seg.end + 0.04)] = 1.0
    kernel = np.hanning(5)
    speaking = np.convolve(np.pad(speech, 2, mode="edge"), kernel / kernel.sum(), mode="valid")

    # Loudness scales the jaw (louder speech = larger jaw excursion, Schulman 1989); smoothed
    # over ~120 ms because the jaw cannot follow syllable-internal level changes.
    loud = np.convolve(np.pad(loudness, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    style = np.exp(rng.normal(0.0, 0.1))  # this speaker's habitual jaw excursion
    lip_style = np.exp(rng.normal(0.0, 0.1))
    jaw = ch["jaw"] * modifiers.jaw_gain * style * (0.75 + 0.35 * loud)

    w = np.zeros((frames, len(ARKIT_ACTIONS)))
    lip = modifiers.lip_gain * lip_style

    def put(name: str, value: np.ndarray) -> None:
        for n in ((name,) if name in _INDEX else (name + "Left", name + "Right")):
            w[:, _INDEX[n]] += value

    put("jawOpen", jaw)
    put("mouthPucker", lip * ch["pucker"])
    put("mouthFunnel", lip * ch["funnel"])
    put("mouthStretch", 0.55 * lip * ch["spread"] + modifiers.spread * speaking)
    put("mouthSmile", 0.12 * lip * ch["spread"] + modifiers.speech_smile * speaking)
    put("mouthDimple", 0.10 * lip * ch["spread"])
    put("mouthRollLower", ch["tuck"])
    put("mouthShrugUpper", 0.15 * ch["tuck"])
    put("mouthUpperUp", ch["upper"] + modifiers.upper_lip * speaking)
    put("mouthLowerDown", lip * ch["lower"] + 0.25 * jaw * speaking)  # lower lip follows the jaw
    put("tongueOut", ch["tongue"])
    put("mouthPress", modifiers.pause_press * (1.0 - speaking))
    return Articulation(weights=w, closure=lip_contact(ch["close"]), speaking=speaking)


def apply_lip_closure(weights: np.ndarray, closure: np.ndarray, press: float = 0.25, seal: float = 0.03) -> np.ndarray:
    """Close the lips where ``closure`` says so, whatever the jaw and expression are doing.

    The jaw rises to help the lips (lip-jaw motor equivalence, Abbs & Gracco 1984) and ARKit's
    mouthClose closes the lips *relative to the jaw*: mouthClose = jawOpen cancels the lip
    aperture, a little more (``seal``) plus mouthPress compresses them as in real /p b m/.
    Actions that part the lips (funnel, lower-lip down, upper-lip raise, tongue) give way.
    Works in place on [T, 52+] weights and returns them.
    """
    c = closure[:, None]
    weights[:, LIP_OPENERS] *= 1.0 - c
    eased = np.convolve(np.pad(closure, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")  # jaw inertia
    weights[:, _INDEX["jawOpen"]] *= 1.0 - JAW_ASSIST * np.maximum(eased, closure)
    jaw = np.clip(weights[:, _INDEX["jawOpen"]], 0.0, 1.0)
    weights[:, _INDEX["mouthClose"]] = np.maximum(weights[:, _INDEX["mouthClose"]], closure * (jaw + seal))
    for n in ("mouthPressLeft", "mouthPressRight"):
        weights[:, _INDEX[n]] += press * closure
    return weights
