"""Motions: a rig's parameter curves over time, and the files they travel in.

A ``Motion`` is ``params[T, D]`` (float32) named by ``names[D]``, sampled at ``fps``, for one
rig. It is what the model predicts, what the renderer plays, and what users exchange.

Files:

* ``.npz`` (``Motion.save`` / ``load_motion``): the native format. Plain arrays only, read with
  ``allow_pickle=False`` so that opening a motion someone sent you can never run code.
* Live Link Face CSV (``export_csv`` / ``load_csv``): the column layout Epic's Live Link Face
  iPhone app records, so curves drop into Unreal/MetaHuman and the Blender/Maya LLF importers,
  and LLF recordings can come back in as arkit motions.
* JSON (``export_json`` / ``load_json``): one curve per parameter, for web players and scripts.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.rigs import RIG_NAMES, rig_param_names
from emoanim.rigs.arkit import ARKIT_ACTIONS, HEAD_PARAMS

MAX_FPS = 240.0
NPZ_KEYS = ("params", "names", "fps", "rig")
_MAX_LISTED = 6  # how many offending names an error message lists before "and N more"


# --------------------------------------------------------------------------------------------
# The Motion container
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)  # eq on arrays is ambiguous; compare params explicitly instead
class Motion:
    """Parameter curves ``params[T, D]`` named by ``names[D]`` at ``fps`` frames/s for ``rig``."""

    params: np.ndarray
    names: tuple[str, ...]
    fps: float
    rig: str

    def __post_init__(self) -> None:
        self.names = _check_names(self.names)
        self.params = _check_params(self.params, self.names)
        self.fps = _check_fps(self.fps)
        if self.rig not in RIG_NAMES:
            raise EmoAnimError(f"unknown rig '{self.rig}'; choose one of: {', '.join(RIG_NAMES)}")

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
            raise EmoAnimError(f"this motion has no parameter '{name}'{_did_you_mean(name, self.names)}") from None

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
                f"{_count(unknown, 'parameter')} not in the '{self.rig}' rig: {_listing(unknown)}"
                f"{_did_you_mean(unknown[0], target)}{_rig_hint(self.rig)}"
            )
        missing = [n for n in target if n not in have]
        if missing and not fill_missing:
            raise EmoAnimError(
                f"the motion lacks {_count(missing, 'parameter')} of the '{self.rig}' rig: "
                f"{_listing(missing)}; use fill_missing=True to set them to neutral (0)"
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
        fps = _check_fps(fps)
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
        arrays = {
            "params": np.ascontiguousarray(self.params, dtype=np.float32),
            "names": np.array(self.names, dtype=np.str_),  # fixed-width unicode, never object
            "fps": np.array(self.fps, dtype=np.float64),
            "rig": np.array(self.rig, dtype=np.str_),
        }
        return atomic_write(path, lambda f: np.savez_compressed(f, **arrays), binary=True)


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise EmoAnimError("motion names must be a sequence of parameter names, not one string")
    names = tuple(names)
    for n in names:
        if not isinstance(n, str) or not n:
            raise EmoAnimError(f"motion parameter names must be non-empty strings, got {n!r}")
    if len(set(names)) != len(names):
        repeated = list(dict.fromkeys(n for n in names if names.count(n) > 1))
        raise EmoAnimError(f"motion parameter names must be unique; repeated: {_listing(repeated)}")
    return names


def _check_params(params: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
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


def _check_fps(fps: object) -> float:
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EmoAnimError(f"fps must be a number, got {fps!r}") from None
    if not math.isfinite(value) or not 0.0 < value <= MAX_FPS:
        raise EmoAnimError(f"fps must be a finite number in (0, {MAX_FPS:g}], got {fps!r}")
    return value


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    match = lower.get(name.lower()) or next(iter(difflib.get_close_matches(name, choices, n=1)), None)
    return f" (did you mean '{match}'? names are case-sensitive)" if match else ""


def _rig_hint(rig: str) -> str:
    if rig == "arkit":
        return "; arkit uses Apple's 52 blendshape names (e.g. jawOpen, eyeBlinkLeft) and headYaw/headPitch/headRoll"
    return f"; see emoanim.rigs.rig_param_names('{rig}') for the names it uses"


def _check_readable(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise EmoAnimError(f"{what} not found: {path}")
    if path.is_dir():
        raise EmoAnimError(f"{what} {path} is a folder; give the file itself")
    return path


# --------------------------------------------------------------------------------------------
# Native .npz
# --------------------------------------------------------------------------------------------


def load_motion(
    path: str | Path,
    expect_rig: str | None = None,
    num_expressions: int = 50,
    fill_missing: bool = False,
) -> Motion:
    """Read a motion ``.npz`` written by ``Motion.save``, conformed to its rig's parameter order.

    Never unpickles. ``expect_rig`` refuses a motion for another rig. Columns in another order
    are re-ordered; missing columns are an error unless ``fill_missing`` (then neutral, 0).
    """
    path = _check_readable(path, "motion file")
    if expect_rig is not None and expect_rig not in RIG_NAMES:
        raise EmoAnimError(f"unknown rig '{expect_rig}'; choose one of: {', '.join(RIG_NAMES)}")
    unreadable = f"{path} is not a readable .npz motion file (truncated or corrupt?)"
    _check_npz_magic(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise EmoAnimError(f"{unreadable}: {_brief(exc)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # magic said zip; be safe anyway
        raise EmoAnimError(f"{path} is not a motion .npz archive; save motions with Motion.save")
    with archive:
        missing = [k for k in NPZ_KEYS if k not in archive.files]
        if missing:
            raise EmoAnimError(
                f"{path} is missing key(s) {', '.join(missing)}; a motion .npz needs "
                f"{', '.join(NPZ_KEYS)} (write it with Motion.save)"
            )
        arrays = {}
        for key in NPZ_KEYS:
            try:
                arrays[key] = archive[key]
            except Exception as exc:  # untrusted bytes: any failure to parse means a damaged file
                # allow_pickle=False makes numpy refuse object arrays before unpickling anything.
                if isinstance(exc, ValueError) and "Object arrays cannot be loaded" in str(exc):
                    raise EmoAnimError(
                        f"{path}: '{key}' is a pickled object array; pickles are not accepted because "
                        f"loading them can run code; store '{key}' as a plain numeric/string array"
                    ) from None
                raise EmoAnimError(f"{unreadable}: '{key}': {_brief(exc)}") from None

    try:
        names = _names_from_array(arrays["names"])
        fps = _scalar(arrays["fps"], "fps", "f")
        rig = _scalar(arrays["rig"], "rig", "U")
        motion = Motion(arrays["params"], names, fps, rig)
    except EmoAnimError as exc:
        raise EmoAnimError(f"{path}: {exc}") from None
    return _conform(motion, path, expect_rig, num_expressions, fill_missing)


def _brief(exc: BaseException) -> str:
    """One line from a library's exception (numpy's can span several lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _check_npz_magic(path: Path) -> None:
    # Look before np.load does: anything that is not a zip would otherwise reach numpy's
    # pickle fallback, whose message ("allow_pickle") would confuse someone who sent a text file.
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise EmoAnimError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise EmoAnimError(f"{path} is empty; it is not a motion .npz (was the write interrupted?)")
    if head.startswith(b"PK"):
        return
    if head.startswith(b"\x93NUMPY"):
        raise EmoAnimError(f"{path} is a single .npy array, not a motion .npz; save motions with Motion.save")
    if head[:1] == b"\x80":
        raise EmoAnimError(
            f"{path} looks like a Python pickle; pickles are not accepted because loading them can run code"
        )
    raise EmoAnimError(f"{path} is not an .npz motion file (it is not a zip archive); save motions with Motion.save")


def _names_from_array(names: np.ndarray) -> tuple[str, ...]:
    if names.dtype.kind == "S":  # bytes written by other tools: accept if they are text
        try:
            names = np.char.decode(names, "utf-8")
        except UnicodeDecodeError:
            raise EmoAnimError("'names' must be text; it holds undecodable bytes") from None
    if names.dtype.kind != "U":
        raise EmoAnimError(f"'names' must be a string array, got dtype {names.dtype}")
    if names.ndim != 1:
        raise EmoAnimError(f"'names' must be 1-D (one name per column), got shape {names.shape}")
    return tuple(str(n) for n in names)


def _scalar(value: np.ndarray, key: str, kind: str) -> float | str:
    if value.size != 1:
        raise EmoAnimError(f"'{key}' must be a single value, got shape {value.shape}")
    if kind == "f":
        if value.dtype.kind not in "iuf":
            raise EmoAnimError(f"'{key}' must be a number, got dtype {value.dtype}")
        return float(value.reshape(()))
    if value.dtype.kind == "S":
        value = np.char.decode(value, "utf-8", errors="replace")
    if value.dtype.kind != "U":
        raise EmoAnimError(f"'{key}' must be a string, got dtype {value.dtype}")
    return str(value.reshape(()))


def _conform(
    motion: Motion, source: Path | str, expect_rig: str | None, num_expressions: int, fill_missing: bool
) -> Motion:
    if expect_rig is not None and motion.rig != expect_rig:
        raise EmoAnimError(
            f"{source} is a motion for the '{motion.rig}' rig but the '{expect_rig}' rig was asked for; "
            f"use the '{motion.rig}' rig with it, or a motion made for '{expect_rig}'"
        )
    try:
        return motion.for_rig(num_expressions, fill_missing)
    except EmoAnimError as exc:
        raise EmoAnimError(f"{source}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Live Link Face CSV
# --------------------------------------------------------------------------------------------

# Column order exactly as the Live Link Face app writes its CSV takes (checked against LLF
# recordings and open importers). Note it differs from ARKit's alphabetical order and even from
# LLF's own UDP order: the CSV has JawRight before JawLeft and MouthRight before MouthLeft.
LLF_BLENDSHAPES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft",
    "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight",
    "JawForward", "JawRight", "JawLeft", "JawOpen",
    "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft",
    "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight",
    "MouthStretchLeft", "MouthStretchRight", "MouthRollLower", "MouthRollUpper", "MouthShrugLower",
    "MouthShrugUpper", "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft",
    "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight",
    "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight",
    "CheekPuff", "CheekSquintLeft", "CheekSquintRight",
    "NoseSneerLeft", "NoseSneerRight",
    "TongueOut",
)  # fmt: skip
LLF_HEAD: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll")
LLF_EYES: tuple[str, ...] = (
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
LLF_CURVES: tuple[str, ...] = LLF_BLENDSHAPES + LLF_HEAD + LLF_EYES  # the 61 "BlendShapeCount"
LLF_HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount") + LLF_CURVES

# LLF column -> arkit rig name: ARKit names with the first letter capitalised.
_LLF_TO_ARKIT = {n[0].upper() + n[1:]: n for n in ARKIT_ACTIONS + HEAD_PARAMS}
assert set(_LLF_TO_ARKIT) == set(LLF_BLENDSHAPES + LLF_HEAD)

# Head rotation units. Our rig stores radians. LLF's head columns are commonly read as
# normalised angles, 1.0 = 90 degrees (the LLF Blender add-on drives bones over -1..1, and
# importers map 1.0 to a quarter turn); Epic does not document it. "normalized" is therefore the
# default, and "radians"/"degrees" are offered for tools that expect those. Signs pass through
# unchanged (our headYaw/headPitch/headRoll -> HeadYaw/HeadPitch/HeadRoll).
HEAD_UNITS: dict[str, float] = {  # file value = radians * factor
    "normalized": 2.0 / math.pi,
    "radians": 1.0,
    "degrees": 180.0 / math.pi,
}

# Eye rotation columns are derived from the eyeLook* actions, in radians as LLF recordings show
# them (e.g. eyeLookUp 0.38 sits with LeftEyePitch -0.17). Weight 1 of an eyeLook action = the
# rig's full gaze turn (the arkit rig's GAZE_YAW/GAZE_PITCH, 30 and 25 degrees). Signs follow
# LLF takes: yaw > 0 towards the subject's right (left eye looking in, right eye looking out),
# pitch > 0 looking down; roll is always 0. load_csv ignores these columns (they are derived).
EYE_YAW_RAD = math.radians(30.0)
EYE_PITCH_RAD = math.radians(25.0)

_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;](\d+(?:\.\d*)?)\s*$")


def _timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` for frame ``frame`` at ``fps``: FF counts frames within the second and
    ``.fff`` is the sub-frame fraction (0 for whole-number rates), as LLF writes it."""
    t = frame / fps
    second = math.floor(t + 1e-9)
    frames = max(0.0, (t - second) * fps)
    ff = math.floor(frames + 1e-6)
    sub = min(999, max(0, round((frames - ff) * 1000)))
    hours, rest = divmod(second, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{ff:02d}.{sub:03d}"


def llf_curves(motion: Motion, head_unit: str = "normalized") -> np.ndarray:
    """[T, 61] float64 values of the LLF curves (``LLF_CURVES`` order) for an arkit motion."""
    if motion.rig != "arkit":
        raise EmoAnimError(
            f"only 'arkit' motions can be exported as Live Link Face CSV; this one is '{motion.rig}', "
            "whose parameters have no ARKit equivalent: export JSON or .npz instead, or animate with the arkit rig"
        )
    if head_unit not in HEAD_UNITS:
        raise EmoAnimError(f"unknown head unit '{head_unit}'; choose one of: {', '.join(HEAD_UNITS)}")
    motion = motion.for_rig(fill_missing=True)  # any order/subset of arkit names; missing = neutral
    p = {name: motion.params[:, i].astype(np.float64) for i, name in enumerate(motion.names)}
    out = np.zeros((motion.num_frames, len(LLF_CURVES)), np.float64)
    for j, column in enumerate(LLF_BLENDSHAPES):
        out[:, j] = p[_LLF_TO_ARKIT[column]]
    base = len(LLF_BLENDSHAPES)
    for j, name in enumerate(HEAD_PARAMS):
        out[:, base + j] = p[name] * HEAD_UNITS[head_unit]
    base += len(LLF_HEAD)
    zero = np.zeros(motion.num_frames)
    eyes = (
        EYE_YAW_RAD * (p["eyeLookInLeft"] - p["eyeLookOutLeft"]),
        EYE_PITCH_RAD * (p["eyeLookDownLeft"] - p["eyeLookUpLeft"]),
        zero,
        EYE_YAW_RAD * (p["eyeLookOutRight"] - p["eyeLookInRight"]),
        EYE_PITCH_RAD * (p["eyeLookDownRight"] - p["eyeLookUpRight"]),
        zero,
    )
    for j, curve in enumerate(eyes):
        out[:, base + j] = curve
    return out


def export_csv(motion: Motion, path: str | Path, head_unit: str = "normalized") -> Path:
    """Write an arkit motion as a Live Link Face CSV take (63 columns: Timecode, BlendShapeCount,
    the 52 blendshapes, head yaw/pitch/roll, both eyes' yaw/pitch/roll). Values are written as
    they are (not clamped to [0, 1]), with 10 decimals like LLF. Timecodes start at 00:00:00:00."""
    curves = llf_curves(motion, head_unit)
    count = str(len(LLF_CURVES))

    def write(f: IO) -> None:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(LLF_HEADER)
        for i, row in enumerate(curves):
            out.writerow([_timecode(i, motion.fps), count, *(f"{v:.10f}" for v in row)])

    return atomic_write(path, write, binary=False)


def load_csv(
    path: str | Path,
    fps: float | None = None,
    head_unit: str = "normalized",
    fill_missing: bool = False,
) -> Motion:
    """Read a Live Link Face CSV (an iPhone take, or ``export_csv`` output) as an arkit motion.

    Column names match case-insensitively (``EyeBlinkLeft`` or ``eyeBlinkLeft``) in any order.
    ``fps`` defaults to what the timecodes show; pass it for clips shorter than one second.
    Head columns are optional (absent = still head); missing blendshapes need ``fill_missing``.
    """
    path = _check_readable(path, "CSV file")
    if head_unit not in HEAD_UNITS:
        raise EmoAnimError(f"unknown head unit '{head_unit}'; choose one of: {', '.join(HEAD_UNITS)}")
    rows: list[tuple[int, list[str]]] = []  # (line number in the file, fields)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append((reader.line_num, row))
    except UnicodeDecodeError:
        raise EmoAnimError(f"{path} is not a text CSV file (it is not UTF-8 text)") from None
    except (OSError, csv.Error) as exc:
        raise EmoAnimError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise EmoAnimError(f"{path} is empty; expected a Live Link Face CSV with a header row")
    header = [h.strip() for h in rows[0][1]]
    data = rows[1:]
    if not data:
        raise EmoAnimError(f"{path} has a header but no frames")

    by_lower = {c.lower(): c for c in LLF_HEADER}
    unknown = [h for h in header if h.lower() not in by_lower]
    if unknown:
        raise EmoAnimError(
            f"{path}: {_count(unknown, 'column')} not in the Live Link Face layout: {_listing(unknown)}"
            f"{_did_you_mean(unknown[0], LLF_HEADER)}; expected Timecode, BlendShapeCount, EyeBlinkLeft, ..."
        )
    columns = [by_lower[h.lower()] for h in header]
    header_index = {c: k for k, c in enumerate(columns)}
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise EmoAnimError(f"{path}: column(s) appear twice: {_listing(repeated)}")
    missing = [c for c in LLF_BLENDSHAPES if c not in columns]
    if missing and not fill_missing:
        raise EmoAnimError(
            f"{path} lacks {_count(missing, 'blendshape column')}: {_listing(missing)}; "
            "use fill_missing=True to set them to neutral (0)"
        )

    numeric = [c for c in columns if c not in ("Timecode", "BlendShapeCount")]
    values = np.zeros((len(data), len(numeric)), np.float64)
    timecodes: list[tuple[int, str]] = []
    for i, (line, row) in enumerate(data):
        if len(row) != len(header):
            raise EmoAnimError(
                f"{path}, line {line}: {len(row)} fields but the header has {len(header)}; the file is cut or malformed"
            )
        cells = dict(zip(columns, row))
        if "Timecode" in cells:
            timecodes.append((line, cells["Timecode"]))
        for j, column in enumerate(numeric):
            try:
                values[i, j] = float(cells[column])
            except ValueError:
                raise EmoAnimError(
                    f"{path}, line {line}, column {column}: '{cells[column]}' is not a number"
                ) from None

    bad = ~np.isfinite(values)
    if bad.any():  # report where the user can find it in the file, not just the frame index
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise EmoAnimError(
            f"{path}, line {data[i][0]}, column {numeric[j]}: value '{data[i][1][header_index[numeric[j]]]}' "
            f"is not finite (frame {i}); {int(bad.sum())} bad value(s) in all; fix or drop those frames"
        )

    if fps is None:
        fps = _fps_from_timecodes(timecodes, path) if timecodes else None
        if fps is None:
            raise EmoAnimError(
                f"cannot tell the frame rate of {path} from its timecodes (no Timecode column, "
                "or shorter than one second); pass fps explicitly"
            )

    # Keep blendshapes and head; eye-rotation columns are derived from eyeLook* and dropped.
    names, cols = [], []
    for j, column in enumerate(numeric):
        if column in _LLF_TO_ARKIT:
            names.append(_LLF_TO_ARKIT[column])
            scale = 1.0 / HEAD_UNITS[head_unit] if column in LLF_HEAD else 1.0
            cols.append(values[:, j] * scale)
    params = np.stack(cols, axis=1) if cols else np.zeros((len(values), 0))
    try:
        motion = Motion(params, tuple(names), fps, "arkit")
    except EmoAnimError as exc:
        raise EmoAnimError(f"{path}: {exc}") from None
    # Head columns are optional: an absent head is a still head, so always neutral-fill those.
    missing_head = [n for n in HEAD_PARAMS if n not in names]
    if missing_head and not fill_missing:
        motion = motion.with_names(tuple(names) + tuple(missing_head), fill_missing=True)
    return _conform(motion, path, None, 50, fill_missing)


def _fps_from_timecodes(timecodes: Sequence[tuple[int, str]], path: Path | str) -> float | None:
    """Frame rate of LLF rows from their ``HH:MM:SS:FF.fff`` timecodes.

    LLF counts FF at its timecode rate (often 60) which may differ from the row rate (a 30 fps
    take advances FF by 2). The timecode rate R shows where FF wraps into the next second:
    FF_before + step - FF_after = R. Then fps = R / step.
    """
    parsed = []
    for line, tc in timecodes:
        m = _TIMECODE.match(tc)
        if not m:
            raise EmoAnimError(f"{path}, line {line}: timecode '{tc}' is not HH:MM:SS:FF(.fff); pass fps explicitly")
        h, mi, s, ff = m.groups()
        parsed.append(((int(h) * 60 + int(mi)) * 60 + int(s), float(ff)))
    if len(parsed) < 2:
        return None
    sec = np.array([p[0] for p in parsed], np.float64)
    ff = np.array([p[1] for p in parsed], np.float64)
    dsec, dff = np.diff(sec), np.diff(ff)
    same = dsec == 0
    if not same.any():  # at most one row per second
        step_s = float(np.median(dsec))
        return _snap_fps(1.0 / step_s) if step_s > 0 else None
    step = float(np.median(dff[same]))
    wrap = dsec == 1
    if step <= 0 or not wrap.any():
        return None
    rate = float(np.median(ff[:-1][wrap] + step - ff[1:][wrap]))
    return _snap_fps(rate / step) if rate > 0 else None


def _snap_fps(fps: float) -> float:
    # Recorded timecodes jitter slightly (30.004 for a 30 fps take): snap to a standard rate.
    for standard in (round(fps), round(fps * 1.001) / 1.001):
        if standard > 0 and abs(fps - standard) / standard < 5e-4:
            return float(standard)
    return fps


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

# Per-parameter curves rather than per-frame rows: DCC tools and web players key one curve per
# shape key / morph target, and a curve can be looked up by name without knowing column order.
JSON_FORMAT = "emoanim.motion"
JSON_VERSION = 1


def export_json(motion: Motion, path: str | Path) -> Path:
    """Write ``{"format", "version", "rig", "fps", "num_frames", "names", "units", "curves"}``.

    ``curves`` maps each name to its list of per-frame values (float32 shortest repr, so reading
    back is exact); ``names`` keeps the column order. Angles (head*, and FLAME poses) are radians.
    """
    curves = {
        name: [float(s) for s in map(str, motion.params[:, i])] for i, name in enumerate(motion.names)
    }
    doc = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "rig": motion.rig,
        "fps": motion.fps,
        "num_frames": motion.num_frames,
        "names": list(motion.names),
        "units": {"time": "frames at fps", "angles": "radians", "blendshapes": "weights, 0 = neutral"},
        "curves": curves,
    }
    return atomic_write(path, lambda f: json.dump(doc, f, separators=(",", ":")), binary=False)


def load_json(
    path: str | Path,
    expect_rig: str | None = None,
    num_expressions: int = 50,
    fill_missing: bool = False,
) -> Motion:
    """Read ``export_json`` output (also accepts ``"frames": [[...], ...]`` rows with ``names``)."""
    path = _check_readable(path, "JSON motion file")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EmoAnimError(f"{path} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise EmoAnimError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise EmoAnimError(f"{path}: expected a JSON object with rig, fps and curves")
    missing = [k for k in ("rig", "fps") if k not in doc]
    if "curves" not in doc and "frames" not in doc:
        missing.append("curves")
    if missing:
        raise EmoAnimError(f"{path} is missing key(s) {', '.join(missing)}; write it with export_json")
    try:
        if "curves" in doc:
            curves = doc["curves"]
            if not isinstance(curves, dict) or not curves:
                raise EmoAnimError("'curves' must map parameter names to lists of values")
            names = tuple(doc.get("names") or curves)
            if set(names) != set(curves):
                raise EmoAnimError("'names' and the keys of 'curves' differ")
            lengths = {len(curves[n]) if isinstance(curves[n], list) else -1 for n in names}
            if len(lengths) != 1 or -1 in lengths:
                raise EmoAnimError("every curve must be a list of numbers of the same length")
            params = np.array([curves[n] for n in names], dtype=np.float64).T
        else:
            names = tuple(doc.get("names") or ())
            params = np.array(doc["frames"], dtype=np.float64)
        motion = Motion(params, names, doc["fps"], str(doc["rig"]))
    except (TypeError, ValueError):
        raise EmoAnimError(f"{path}: curve values must be numbers") from None
    except EmoAnimError as exc:
        raise EmoAnimError(f"{path}: {exc}") from None
    return _conform(motion, path, expect_rig, num_expressions, fill_missing)


__all__ = [
    "Motion",
    "load_motion",
    "export_csv",
    "load_csv",
    "llf_curves",
    "export_json",
    "load_json",
    "LLF_HEADER",
    "LLF_CURVES",
    "HEAD_UNITS",
]
