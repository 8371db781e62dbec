"""The native ``.npz`` motion file: plain arrays, never unpickled.

An archive holds ``params`` [T, D] float32, ``names`` [D] fixed-width unicode, ``fps`` and
``rig`` scalars. It is read with ``allow_pickle=False`` and its bytes are checked before numpy
sees them, so opening a motion someone sent you can never run code. This module reads and
writes the arrays; ``Motion.save`` and ``load_motion`` wrap them in a ``Motion``.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write

NPZ_KEYS = ("params", "names", "fps", "rig")


def write_npz(path: str | Path, params: np.ndarray, names: tuple[str, ...], fps: float, rig: str) -> Path:
    """Write the four arrays (exactly to ``path``; a failed write leaves no file)."""
    arrays = {
        "params": np.ascontiguousarray(params, dtype=np.float32),
        "names": np.array(names, dtype=np.str_),  # fixed-width unicode, never object
        "fps": np.array(fps, dtype=np.float64),
        "rig": np.array(rig, dtype=np.str_),
    }
    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays), binary=True)


def read_npz(path: Path) -> tuple[np.ndarray, tuple[str, ...], float, str]:
    """(params, names, fps, rig) from a motion archive; raises one-line errors for any damage.

    ``params`` is returned as stored; ``Motion`` checks its shape and values.
    """
    unreadable = f"{path} is not a readable .npz motion file (truncated or corrupt?)"
    _check_npz_magic(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise EmoAnimError(f"{unreadable}: {brief(exc)}") from None
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
                raise EmoAnimError(f"{unreadable}: '{key}': {brief(exc)}") from None
    try:
        names = _names_from_array(arrays["names"])
        fps = _scalar(arrays["fps"], "fps", "f")
        rig = _scalar(arrays["rig"], "rig", "U")
    except EmoAnimError as exc:
        raise EmoAnimError(f"{path}: {exc}") from None
    return arrays["params"], names, fps, rig


def brief(exc: BaseException) -> str:
    """One line from a library's exception (numpy's can span several lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


MAX_NPZ_MEMBER_BYTES = 512 * 2**20  # ~10 hours of 300-parameter motion at 25 fps: far more than any take


def _check_npz_sizes(path: Path) -> None:
    """Refuse an archive whose members unpack to more than ``MAX_NPZ_MEMBER_BYTES`` (a zip bomb: a few
    kilobytes that inflate to gigabytes) before numpy inflates anything. zipfile stops reading a member
    at the size its directory declares, so the declared sizes are the bound."""
    try:
        with zipfile.ZipFile(path) as archive:
            largest = max((info.file_size for info in archive.infolist()), default=0)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise EmoAnimError(f"{path} is not a readable .npz motion file (truncated or corrupt?): {brief(exc)}") from None
    if largest > MAX_NPZ_MEMBER_BYTES:
        raise EmoAnimError(f"{path} unpacks to {largest / 2**30:.1f} GiB, more than a motion file can be "
                           f"({MAX_NPZ_MEMBER_BYTES / 2**20:.0f} MiB a member): refused")


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
        _check_npz_sizes(path)
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
