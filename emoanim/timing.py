"""Time <-> frame conversions shared by data synthesis, rendering and video output."""

from __future__ import annotations

import math

# Ignore float noise such as 0.1 * 30 = 3.0000000000000004 -> 4 frames.
_FRAME_EPS = 1e-6


def frames_for_duration(seconds: float, fps: float) -> int:
    """Number of frames that cover ``seconds`` at ``fps``: ceil(seconds * fps)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"seconds must be a finite non-negative number, got {seconds}")
    return max(0, math.ceil(seconds * fps - _FRAME_EPS))
