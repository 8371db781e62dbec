"""The JSON motion format: one curve per parameter, for web players and scripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.motion.checks import check_readable
from emoanim.motion.container import Motion, conform

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
    path = check_readable(path, "JSON motion file")
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
    return conform(motion, path, expect_rig, num_expressions, fill_missing)
