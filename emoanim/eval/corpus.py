"""Checks of a corpus's motion against what real faces do (``python -m emoanim evaluate corpus``)."""

from __future__ import annotations

import numpy as np

from emoanim.data.corpus import Corpus
from emoanim.data.facial import synthesize_motion
from emoanim.errors import EmoAnimError
from emoanim.rigs import load_rig
from emoanim.vocabulary import BILABIALS

OPEN_VOWELS = ("aa", "ae", "ao", "aw")


def blink_rate(params: np.ndarray, blink_index: int, fps: float) -> tuple[int, float]:
    """(blinks, seconds): a blink is eyeBlink rising through 0.5."""
    x = params[:, blink_index]
    return int(((x[1:] >= 0.5) & (x[:-1] < 0.5)).sum()), len(x) / fps


def corpus_motion_checks(corpus: Corpus, every: int = 20) -> dict:
    """Blink rate over the whole corpus; lip gap on the rig at /p b m/ and open-vowel centres
    for every ``every``-th clip (posing is the slow part)."""
    names = corpus.meta.names
    rig = load_rig(corpus.meta.rig)
    upper, lower = rig.group("upper_lip"), rig.group("lower_lip")
    blinks, seconds, per_emotion = 0, 0.0, {}
    gaps: dict[str, list[float]] = {"bilabial": [], "open_vowel": []}
    for k, info in enumerate(corpus.clips()):
        clip = corpus.load(info.id)
        n, s = blink_rate(clip.params, names.index("eyeBlinkLeft"), corpus.meta.fps)
        blinks, seconds = blinks + n, seconds + s
        e = per_emotion.setdefault(info.emotion, [0, 0.0])
        e[0], e[1] = e[0] + n, e[1] + s
        if k % every or not clip.phones:
            continue
        v = rig.vertices(clip.params)
        gap_mm = 1000 * (v[:, upper, 1].mean(1) - v[:, lower, 1].mean(1))
        for p in clip.phones:
            frame = min(int((p.start + p.end) / 2 * corpus.meta.fps), len(gap_mm) - 1)
            if p.phone in BILABIALS:
                gaps["bilabial"].append(gap_mm[frame])
            elif p.phone in OPEN_VOWELS and p.duration > 0.06:
                gaps["open_vowel"].append(gap_mm[frame])
    out = {
        "motion_hours": seconds / 3600,
        "blinks_per_s": blinks / seconds,
        "blinks_per_s_by_emotion": {e: v[0] / v[1] for e, v in sorted(per_emotion.items())},
    }
    for name, values in gaps.items():
        g = np.array(values)
        out[f"lip_gap_mm_{name}"] = {"n": len(g), "median": float(np.median(g)), "p10": float(np.percentile(g, 10)),
                                     "p90": float(np.percentile(g, 90))} if len(g) else {"n": 0}
    return out


def redraw_motion(corpus: Corpus, clip_id: str, seed: int) -> np.ndarray:
    """[T, D] another draw of a synthetic clip's motion: the corpus's own motion model
    (``data.facial.synthesize_motion``) on the clip's phones, audio, emotion and intensity with a fresh
    random state. Everything the conditions do not fix (the speaker's articulation style, the expression's
    apex, blinks, gaze, head) is drawn anew, so draws of one clip differ exactly as the corpus lets
    takes differ: the error of a draw against the stored motion is what a perfect generative model of
    this corpus would score, and the error of the mean of many draws what the best deterministic one
    would (the conditional mean)."""
    if corpus.meta.source != "synthetic":
        raise EmoAnimError(f"only a synthetic corpus can be redrawn, not a '{corpus.meta.source}' one")
    clip = corpus.load(clip_id)
    rng = np.random.default_rng([seed, int.from_bytes(clip_id.encode()[-8:], "little")])
    out = synthesize_motion(clip.phones, clip.audio, corpus.meta.sample_rate, clip.info.emotion, clip.info.intensity,
                            rng, corpus.meta.fps)
    T = len(clip.params)
    return out[:T] if len(out) >= T else np.concatenate([out, np.repeat(out[-1:], T - len(out), 0)])
