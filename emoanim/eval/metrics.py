"""Metric functions of the generator evaluation: pure NumPy on one clip (vertices in metres,
results in mm), and the poser that gives them the lip and mouth vertices of a rig."""

from __future__ import annotations

from typing import Sequence

import numpy as np

MODALITIES = ("label", "text", "audio", "motion")  # the emotion controls that are scored
MAX_OFFSET = 15  # frames either side for the lip-sync offset curve


def lip_vertex_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """pred, gt [T, L, 3] lip vertices in metres -> mean over frames of the largest distance, mm."""
    return float(1000 * np.linalg.norm(pred - gt, axis=-1).max(1).mean())


def landmark_distance(pred: np.ndarray, gt: np.ndarray) -> float:
    """pred, gt [T, V, 3] in metres -> mean distance over frames and vertices, mm."""
    return float(1000 * np.linalg.norm(pred - gt, axis=-1).mean())


def param_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the L2 distance between two parameter sequences [T, D]."""
    return float(np.linalg.norm(a - b, axis=-1).mean())


def au_std(params: np.ndarray, actions: Sequence[int]) -> float:
    """Per-action standard deviation over time, mean over the actions (a still face gives 0)."""
    return float(params[:, list(actions)].std(0).mean())


def blink_events(eyelid: np.ndarray, fps: float, threshold: float = 0.5, edge: float = 0.2) -> list[dict]:
    """Blinks of one eyelid curve [T] (a rise through ``threshold``): per blink its ``peak`` and its
    ``close_s`` / ``open_s``, the time from rising through ``edge`` to the peak and from the peak to
    falling back below ``edge`` (None where the clip cuts the blink off)."""
    x = np.asarray(eyelid, np.float64)
    out = []
    for k in np.where((x[1:] >= threshold) & (x[:-1] < threshold))[0] + 1:
        end = k
        while end + 1 < len(x) and x[end + 1] >= threshold:
            end += 1
        peak = k + int(np.argmax(x[k : end + 1]))
        start = peak
        while start > 0 and x[start - 1] >= edge:
            start -= 1
        stop = peak
        while stop + 1 < len(x) and x[stop + 1] >= edge:
            stop += 1
        out.append({"peak": float(x[peak]),
                    "close_s": (peak - start + 1) / fps if start > 0 else None,
                    "open_s": (stop - peak + 1) / fps if stop + 1 < len(x) else None})
    return out


def gaze_shifts(h: np.ndarray, v: np.ndarray, speed: float = 0.03) -> int:
    """Gaze shifts (saccades) in horizontal / vertical gaze curves [T] (eyeLook weights): onsets of
    frames whose gaze moves more than ``speed`` weight units per frame."""
    moving = np.hypot(np.diff(h), np.diff(v)) > speed
    return int(moving[0]) + int((moving[1:] & ~moving[:-1]).sum()) if len(moving) else 0


def jerkiness(params: np.ndarray) -> float:
    """Mean absolute frame-to-frame acceleration (second difference) over frames and parameters."""
    return float(np.abs(np.diff(params, 2, axis=0)).mean()) if len(params) > 2 else 0.0


def sync_confidence(curve: np.ndarray, max_offset: int = MAX_OFFSET) -> tuple[float, int]:
    """An offset-similarity curve [2 * max_offset + 1] (NaN where the clip is too short) ->
    (confidence = max - median, best offset in frames)."""
    curve = np.asarray(curve, np.float64)
    if not np.isfinite(curve).any():
        return float("nan"), 0
    return float(np.nanmax(curve) - np.nanmedian(curve)), int(np.nanargmax(curve)) - max_offset


class MouthPoser:
    """Poses only the lip and mouth vertices of a rig (what the lip metrics read), in the head's own
    frame: head rotation is left out, so a head that moves differently from the ground truth's (scored
    by its own metrics: head std, jerk) does not count as a lip error."""

    def __init__(self, rig) -> None:
        lips = np.concatenate([rig.group("upper_lip"), rig.group("lower_lip")])
        mouth = rig.group("mouth")
        self.rig = rig
        self.index = np.unique(np.concatenate([lips, mouth]))
        self.lips = np.searchsorted(self.index, lips)
        self.mouth = np.searchsorted(self.index, mouth)
        self.head = rig.group_indices("head")

    def __call__(self, params: np.ndarray) -> np.ndarray:
        still = np.array(params, dtype=np.float32)  # (a copy)
        still[:, self.head] = 0.0
        return self.rig.vertices_at(still, self.index)  # [T, n, 3] metres

    def errors(self, pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        """Posed subsets [T, n, 3] -> (lip vertex error, mouth landmark distance), mm."""
        return lip_vertex_error(pred[:, self.lips], gt[:, self.lips]), landmark_distance(pred[:, self.mouth],
                                                                                          gt[:, self.mouth])



def relative_difference(fast: float, full: float) -> float:
    if not (np.isfinite(fast) and np.isfinite(full)):
        return float("nan")
    if abs(full) < 1e-9:
        return 0.0 if abs(fast) < 1e-9 else float("inf")
    return float((fast - full) / abs(full))

