"""Live Link Face CSV: the take layout of Epic's Live Link Face iPhone app.

Curves exported here drop into Unreal/MetaHuman and the Blender/Maya LLF importers, and LLF
recordings come back in as arkit motions. Only the arkit rig has ARKit's blendshapes, so only
arkit motions travel in this format.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.motion.checks import check_readable, count, did_you_mean, listing
from emoanim.motion.container import Motion, conform
from emoanim.rigs.arkit import ARKIT_ACTIONS, HEAD_PARAMS

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
    path = check_readable(path, "CSV file")
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
            f"{path}: {count(unknown, 'column')} not in the Live Link Face layout: {listing(unknown)}"
            f"{did_you_mean(unknown[0], LLF_HEADER)}; expected Timecode, BlendShapeCount, EyeBlinkLeft, ..."
        )
    columns = [by_lower[h.lower()] for h in header]
    header_index = {c: k for k, c in enumerate(columns)}
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise EmoAnimError(f"{path}: column(s) appear twice: {listing(repeated)}")
    missing = [c for c in LLF_BLENDSHAPES if c not in columns]
    if missing and not fill_missing:
        raise EmoAnimError(
            f"{path} lacks {count(missing, 'blendshape column')}: {listing(missing)}; export every curve "
            "(Live Link Face writes all 61), or in Python load_csv(path, fill_missing=True) sets them to neutral (0)"
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
    return conform(motion, path, None, 50, fill_missing)


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
