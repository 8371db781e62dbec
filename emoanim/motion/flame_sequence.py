"""FLAME sequences in the layout FLAME tools read (EMOTE, DiffPoseTalk, EMOCA fits):

    exp     [T, E]  float32  expression coefficients (E = 50 or 100)
    jaw     [T, 3]  float32  jaw rotation, axis-angle (radians); + rx opens the mouth
    neck    [T, 3]  float32  neck rotation (turns the head on the neck)
    global  [T, 3]  float32  root rotation (zeros: EmoAnim turns the head on the neck)
    eyes    [T, 6]  float32  left eye then right eye rotation (subject's left = +X)
    shape   [100]   float32  identity coefficients (zeros: FLAME's template)
    fps     []      float

saved as ``.npz`` and read with ``allow_pickle=False``: opening a sequence runs no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write

KEYS = ("exp", "jaw", "neck", "global", "eyes", "shape", "fps")
NUM_SHAPE = 100


@dataclass(frozen=True)
class FlameSequence:
    exp: np.ndarray
    jaw: np.ndarray
    neck: np.ndarray
    global_: np.ndarray  # ("global" in the file: a Python keyword)
    eyes: np.ndarray
    fps: float
    shape: np.ndarray | None = None

    @classmethod
    def from_params(cls, params: np.ndarray, num_expressions: int, fps: float) -> "FlameSequence":
        """FLAME rig params [T, E + 15] (``rigs.flame.flame_param_names`` order) -> a sequence."""
        params = np.asarray(params, np.float32)
        e = num_expressions
        if params.ndim != 2 or params.shape[1] != e + 15:
            raise EmoAnimError(f"FLAME parameters must be [frames, {e + 15}], got {list(params.shape)}")
        return cls(params[:, :e], params[:, e : e + 3], params[:, e + 3 : e + 6], params[:, e + 6 : e + 9],
                   params[:, e + 9 :], float(fps))

    @property
    def num_frames(self) -> int:
        return len(self.exp)

    def params(self) -> np.ndarray:
        """[T, E + 15] in the FLAME rig's parameter order (what ``FlameRig.vertices`` poses)."""
        return np.concatenate([self.exp, self.jaw, self.neck, self.global_, self.eyes], axis=1).astype(np.float32)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        shape = np.zeros(NUM_SHAPE, np.float32) if self.shape is None else np.asarray(self.shape, np.float32)
        arrays = {"exp": self.exp, "jaw": self.jaw, "neck": self.neck, "global": self.global_, "eyes": self.eyes,
                  "shape": shape, "fps": np.float32(self.fps)}
        atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FlameSequence":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in KEYS if k not in data.files]
                if missing:
                    raise EmoAnimError(f"{path.name} is not a FLAME sequence: it lacks {', '.join(missing)}")
                arrays = {k: np.asarray(data[k], np.float32) for k in KEYS}
        except (OSError, ValueError) as exc:
            raise EmoAnimError(f"cannot read the FLAME sequence {path.name} ({exc}): give an .npz written by "
                               "EmoAnim or a FLAME fitter") from None
        t = len(arrays["exp"])
        widths = {"jaw": 3, "neck": 3, "global": 3, "eyes": 6}
        if arrays["exp"].ndim != 2 or any(arrays[k].shape != (t, w) for k, w in widths.items()):
            raise EmoAnimError(f"{path.name}: FLAME arrays must be exp [T, E], jaw/neck/global [T, 3], eyes [T, 6]")
        if not all(np.isfinite(arrays[k]).all() for k in KEYS):
            raise EmoAnimError(f"{path.name} holds NaN or infinite values")
        return cls(arrays["exp"], arrays["jaw"], arrays["neck"], arrays["global"], arrays["eyes"],
                   float(arrays["fps"]), arrays["shape"])


__all__ = ["FlameSequence"]
