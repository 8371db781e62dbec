"""Writing files so that readers never see half a file and failures leave nothing behind."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

from emoanim.errors import EmoAnimError


def atomic_write(path: str | Path, write: Callable[[IO], object], binary: bool) -> Path:
    """Write via a temp file in the target folder, then rename: readers never see half a file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EmoAnimError(f"cannot write {path}: it is a folder; give a file name")
    if not folder.is_dir():
        raise EmoAnimError(f"cannot write {path}: folder {folder} does not exist; create it or choose another path")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual new-file mode
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise EmoAnimError(
            f"cannot write {path}: {exc.strerror or exc}; check that the folder is writable and the disk has space"
        ) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


@functools.cache
def _umask() -> int:
    # There is no getter for the umask; set-and-restore once, early (it is process-wide).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
