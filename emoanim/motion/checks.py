"""Checks and error wording shared by the motion container and its file formats.

Every check raises a one-line ``EmoAnimError`` that says what is wrong and how to fix it; the
format readers prefix the file name.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.rigs import RIG_NAMES

MAX_FPS = 240.0
MAX_LISTED = 6  # how many offending names an error message lists before "and N more"


def check_names(names: Iterable[str]) -> tuple[str, ...]:
    """Non-empty, unique parameter names as a tuple."""
    if isinstance(names, str):
        raise EmoAnimError("motion names must be a sequence of parameter names, not one string")
    names = tuple(names)
    for n in names:
        if not isinstance(n, str) or not n:
            raise EmoAnimError(f"motion parameter names must be non-empty strings, got {n!r}")
    if len(set(names)) != len(names):
        repeated = list(dict.fromkeys(n for n in names if names.count(n) > 1))
        raise EmoAnimError(f"motion parameter names must be unique; repeated: {listing(repeated)}")
    return names


def check_params(params: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """[T, D] finite float32 curves, one column per name, at least one frame."""
    raw = np.asarray(params)
    if raw.dtype.kind not in "biuf":  # refuse strings, objects, complex: no silent coercion
        raise EmoAnimError(f"motion params must be numbers, got an array of dtype {raw.dtype}")
    if raw.ndim != 2:
        raise EmoAnimError(f"motion params must be 2-D [frames, parameters], got shape {raw.shape}")
    frames, dims = raw.shape
    if dims != len(names):
        raise EmoAnimError(
            f"motion params have {dims} columns but {len(names)} names; they must match one to one"
        )
    if frames < 1:
        raise EmoAnimError("motion has no frames; it needs at least one")
    with np.errstate(over="ignore"):  # float64 beyond float32 range becomes inf, caught below
        out = np.ascontiguousarray(raw, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        frame, col = (int(i) for i in np.argwhere(bad)[0])
        value = raw[frame, col]
        what = "NaN" if np.isnan(value) else "infinite" if np.isinf(value) else "too large for float32"
        raise EmoAnimError(
            f"motion values must be finite: {int(bad.sum())} bad value(s), the first at frame {frame}, "
            f"parameter '{names[col]}' ({what}); fix or drop those frames"
        )
    return out


def check_fps(fps: object) -> float:
    """A frame rate in (0, MAX_FPS] as a float."""
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EmoAnimError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or not 0.0 < value <= MAX_FPS:
        raise EmoAnimError(f"fps must be a finite number in (0, {MAX_FPS:g}], got {fps!r}")
    return value


def check_rig(rig: str) -> str:
    if rig not in RIG_NAMES:
        raise EmoAnimError(f"unknown rig '{rig}'; choose one of: {', '.join(RIG_NAMES)}")
    return rig


def check_readable(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is an existing file (not a folder)."""
    path = Path(path)
    if not path.exists():
        raise EmoAnimError(f"{what} not found: {path}")
    if path.is_dir():
        raise EmoAnimError(f"{what} {path} is a folder; give the file itself")
    return path


# ---- wording ---------------------------------------------------------------------------------


def count(items: Sequence[object], noun: str) -> str:
    """``"3 parameters"`` / ``"1 parameter"``."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items: Sequence[str]) -> str:
    """The first MAX_LISTED items, comma-separated, then ``and N more``."""
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'? ...)`` for the closest choice, or ``""``."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    match = lower.get(name.lower()) or next(iter(difflib.get_close_matches(name, choices, n=1)), None)
    return f" (did you mean '{match}'? names are case-sensitive)" if match else ""


def rig_hint(rig: str) -> str:
    """Where to find the parameter names a rig uses."""
    if rig == "arkit":
        return "; arkit uses Apple's 52 blendshape names (e.g. jawOpen, eyeBlinkLeft) and headYaw/headPitch/headRoll"
    return f"; see emoanim.rigs.rig_param_names('{rig}') for the names it uses"
