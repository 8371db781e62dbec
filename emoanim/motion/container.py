"""The ``Motion`` container: a rig's parameter curves over time.

A ``Motion`` is ``params[T, D]`` (float32) named by ``names[D]``, sampled at ``fps``, for one
rig. It is what the model predicts, what the renderer plays, and what users exchange. Every
``Motion`` is valid by construction (``emoanim.motion.checks``); the file formats live beside
it (``npz``, ``livelink``, ``jsonfile``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.motion.checks import (
    check_fps,
    check_names,
    check_params,
    check_rig,
    count,
    did_you_mean,
    listing,
    rig_hint,
)
from emoanim.motion.npz import write_npz
from emoanim.rigs import rig_param_names


@dataclass(eq=False)  # eq on arrays is ambiguous; compare params explicitly instead
class Motion:
    """Parameter curves ``params[T, D]`` named by ``names[D]`` at ``fps`` frames/s for ``rig``."""

    params: np.ndarray
    names: tuple[str, ...]
    fps: float
    rig: str

    def __post_init__(self) -> None:
        self.names = check_names(self.names)
        self.params = check_params(self.params, self.names)
        self.fps = check_fps(self.fps)
        self.rig = check_rig(self.rig)

    def __repr__(self) -> str:  # the default would print the whole array
        return (
            f"Motion(rig={self.rig!r}, frames={self.num_frames}, params={len(self.names)}, "
            f"fps={self.fps:g})"
        )

    # ---- shape and time -------------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return int(self.params.shape[0])

    @property
    def num_params(self) -> int:
        return int(self.params.shape[1])

    @property
    def duration(self) -> float:
        """Seconds covered: frame ``i`` is shown from ``i/fps`` until ``(i+1)/fps``."""
        return self.num_frames / self.fps

    def frame_times(self) -> np.ndarray:
        """[T] float64 start time of each frame in seconds."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    # ---- construction helpers -------------------------------------------------------------

    @classmethod
    def from_params(
        cls, params: np.ndarray, rig: str, fps: float, num_expressions: int = 50
    ) -> Motion:
        """Wrap ``params[T, D]`` already in ``rig``'s own parameter order."""
        return cls(params, rig_param_names(rig, num_expressions), fps, rig)

    @classmethod
    def neutral(cls, rig: str, num_frames: int, fps: float, num_expressions: int = 50) -> Motion:
        """A still, neutral (all-zero) motion: relaxed face, looking ahead."""
        names = rig_param_names(rig, num_expressions)
        return cls(np.zeros((num_frames, len(names)), np.float32), names, fps, rig)

    def column(self, name: str) -> np.ndarray:
        """[T] the curve of one parameter."""
        try:
            return self.params[:, self.names.index(name)]
        except ValueError:
            raise EmoAnimError(f"this motion has no parameter '{name}'{did_you_mean(name, self.names)}") from None

    # ---- conversions ----------------------------------------------------------------------

    def for_rig(self, num_expressions: int = 50, fill_missing: bool = False) -> Motion:
        """This motion with exactly its rig's parameters, in the rig's order.

        Names in another order are re-ordered. Names the rig lacks are an error. Rig parameters
        the motion lacks are an error unless ``fill_missing``, which sets them to neutral (0).
        """
        return self.with_names(rig_param_names(self.rig, num_expressions), fill_missing)

    def with_names(self, target: Sequence[str], fill_missing: bool = False) -> Motion:
        """Re-order (and optionally neutral-fill) the columns to exactly ``target``."""
        target = tuple(target)
        if self.names == target:
            return self
        have = set(self.names)
        wanted = set(target)
        unknown = [n for n in self.names if n not in wanted]
        if unknown:
            raise EmoAnimError(
                f"{count(unknown, 'parameter')} not in the '{self.rig}' rig: {listing(unknown)}"
                f"{did_you_mean(unknown[0], target)}{rig_hint(self.rig)}"
            )
        missing = [n for n in target if n not in have]
        if missing and not fill_missing:
            raise EmoAnimError(
                f"the motion lacks {count(missing, 'parameter')} of the '{self.rig}' rig: "
                f"{listing(missing)}; write every parameter of the rig (in Python, fill_missing=True sets "
                "the missing ones to neutral, 0)"
            )
        index = {n: i for i, n in enumerate(self.names)}
        params = np.zeros((self.num_frames, len(target)), np.float32)  # 0 = every rig's neutral
        for j, name in enumerate(target):
            if name in index:
                params[:, j] = self.params[:, index[name]]
        return Motion(params, target, self.fps, self.rig)

    def resample(self, fps: float) -> Motion:
        """The same motion at another frame rate, by linear interpolation over time.

        The duration is kept (to the nearest new frame); times past the last source frame hold
        its value.
        """
        fps = check_fps(fps)
        if fps == self.fps:
            return self
        frames = max(1, int(round(self.num_frames * fps / self.fps)))
        position = np.arange(frames, dtype=np.float64) * (self.fps / fps)  # in source frames
        position = np.clip(position, 0.0, self.num_frames - 1)
        lo = np.floor(position).astype(np.int64)
        hi = np.minimum(lo + 1, self.num_frames - 1)
        w = (position - lo)[:, None]
        params = (1.0 - w) * self.params[lo].astype(np.float64) + w * self.params[hi]
        return Motion(params.astype(np.float32), self.names, fps, self.rig)

    # ---- native file ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (written exactly to ``path``; a failed write leaves no file)."""
        return write_npz(path, self.params, self.names, self.fps, self.rig)


def conform(
    motion: Motion,
    source: Path | str,
    expect_rig: str | None = None,
    num_expressions: int = 50,
    fill_missing: bool = False,
) -> Motion:
    """``motion`` in its rig's parameter order, refusing another rig than ``expect_rig``.

    ``source`` (a file name) prefixes the error messages. Used by every format reader.
    """
    if expect_rig is not None and motion.rig != expect_rig:
        raise EmoAnimError(
            f"{source} is a motion for the '{motion.rig}' rig but the '{expect_rig}' rig was asked for; "
            f"use the '{motion.rig}' rig with it, or a motion made for '{expect_rig}'"
        )
    try:
        return motion.for_rig(num_expressions, fill_missing)
    except EmoAnimError as exc:
        raise EmoAnimError(f"{source}: {exc}") from None
