"""Reading a motion from any of its files: ``.npz`` (native), Live Link Face ``.csv``, ``.json``."""

from __future__ import annotations

from pathlib import Path

from emoanim.errors import EmoAnimError
from emoanim.motion.checks import check_readable, check_rig
from emoanim.motion.container import Motion, conform
from emoanim.motion.jsonfile import load_json
from emoanim.motion.livelink import load_csv
from emoanim.motion.npz import read_npz

MOTION_SUFFIXES: tuple[str, ...] = (".npz", ".csv", ".json")


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
    path = check_readable(path, "motion file")
    if expect_rig is not None:
        check_rig(expect_rig)
    params, names, fps, rig = read_npz(path)
    try:
        motion = Motion(params, names, fps, rig)
    except EmoAnimError as exc:
        raise EmoAnimError(f"{path}: {exc}") from None
    return conform(motion, path, expect_rig, num_expressions, fill_missing)


def load_motion_file(path: str | Path, expect_rig: str | None = None, num_expressions: int = 50) -> Motion:
    """Read a motion from a ``.npz``, Live Link Face ``.csv`` or ``.json`` file, chosen by suffix.

    The result is in its rig's parameter order. ``expect_rig`` refuses a motion for another rig
    (a CSV is always an arkit motion). ``num_expressions``: of a FLAME motion (50 or 100).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_motion(path, expect_rig=expect_rig, num_expressions=num_expressions)
    if suffix == ".json":
        return load_json(path, expect_rig=expect_rig)
    if suffix == ".csv":
        return conform(load_csv(path), path, expect_rig)
    raise EmoAnimError(
        f"{path.name} is not a motion file: give a {', '.join(MOTION_SUFFIXES)} motion (e.g. one this app exported)"
    )
