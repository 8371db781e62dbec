"""An emotion that changes within a take: keyframes (seconds, emotion vector) -> one style per frame.

    style_track([(0.0, z_happy), (5.0, z_sad)], num_frames=250, fps=25) -> [250, E] unit vectors

Keyframe semantics are those of animation tools: at a keyframe's time the style *is* that keyframe's
vector; before the first keyframe the first one holds, after the last the last one. Between two
keyframes the earlier one holds, then the style eases into the next one over the ``transition_s``
seconds before it (a smoothstep in time, a great-circle path in the emotion space: the vectors stay
unit length, as every vector the emotion layers were trained on). A gap shorter than the transition is
all transition. The generator reads the track frame by frame (AdaIN per frame, ``diffusion.denoiser``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emoanim.errors import EmoAnimError

DEFAULT_TRANSITION_S = 1.0  # seconds over which one keyframe's emotion turns into the next


def slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Unit vectors a, b [E] and weights w [T] in [0, 1] -> [T, E] on the great circle from a (w = 0) to b."""
    cos = float(np.clip(np.dot(a, b), -1.0, 1.0))
    angle = np.arccos(cos)
    w = np.asarray(w, np.float64)[:, None]
    if angle < 1e-4:  # (nearly) the same vector
        out = (1 - w) * a + w * b
    elif np.pi - angle < 1e-4:
        raise EmoAnimError("two keyframes hold opposite emotions; put a third one between them")
    else:
        out = (np.sin((1 - w) * angle) * a + np.sin(w * angle) * b) / np.sin(angle)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def style_track(keyframes: Sequence[tuple[float, np.ndarray]], num_frames: int, fps: float,
                transition_s: float = DEFAULT_TRANSITION_S) -> np.ndarray:
    """[num_frames, E] float32 unit vectors from keyframes (seconds, unit vector [E]), in any order."""
    if not keyframes:
        raise EmoAnimError("an emotion timeline needs at least one keyframe")
    if num_frames < 1 or fps <= 0:
        raise EmoAnimError("the timeline needs at least one frame and a positive frame rate")
    if not (np.isfinite(transition_s) and transition_s >= 0):
        raise EmoAnimError(f"the transition must be a non-negative number of seconds, got {transition_s}")
    keys = sorted(((float(t), np.asarray(z, np.float64)) for t, z in keyframes), key=lambda k: k[0])
    times = [t for t, _ in keys]
    if any(not np.isfinite(t) or t < 0 for t in times):
        raise EmoAnimError("keyframe times must be seconds from the start (0 or more)")
    if len(set(times)) != len(times):
        raise EmoAnimError("two keyframes are at the same time; give each time one emotion")
    dim = keys[0][1].shape
    for _, z in keys:
        if z.shape != dim or z.ndim != 1 or not np.isfinite(z).all() or abs(np.linalg.norm(z) - 1.0) > 1e-3:
            raise EmoAnimError("keyframe emotions must be unit vectors of the emotion space")
    t = np.arange(num_frames) / fps
    out = np.repeat(keys[0][1][None], num_frames, 0)
    for (t0, z0), (t1, z1) in zip(keys, keys[1:]):
        start = max(t0, t1 - transition_s)
        span = (t >= t0) & (t <= t1) if t1 > start else np.zeros(num_frames, bool)
        u = np.clip((t[span] - start) / max(t1 - start, 1e-9), 0.0, 1.0)
        out[span] = slerp(z0, z1, u * u * (3 - 2 * u))
    out[t >= times[-1]] = keys[-1][1]
    return out.astype(np.float32)
