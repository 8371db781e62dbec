"""Writing files so that readers never see half a file and failures leave nothing behind."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

from emoanim.errors import EmoAnimError, NoSpaceError


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
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpaceError(f"cannot write {path}: the disk is full; free some space or choose another "
                               "folder") from None
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


def cache_dir() -> Path:
    """Where EmoAnim keeps what it derives from installed packages (baked avatars, unpacked models):
    $EMOANIM_CACHE, else ~/.cache/emoanim."""
    return Path(os.environ.get("EMOANIM_CACHE", Path.home() / ".cache" / "emoanim"))


_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256: each file hashed once per process


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file (hex), read in 4 MiB blocks."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def package_files(requirement: str) -> list[Path]:
    """The installed files of a pinned package ("name==version"); a one-line error when it is missing or
    another version (the caller says how to install it)."""
    from importlib import metadata  # lazy: start-up time

    name, _, version = requirement.partition("==")
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise EmoAnimError(f"package {name} is missing: run `pip install {requirement}`") from None
    if version and dist.version != version:
        raise EmoAnimError(f"package {name} is {dist.version}, this needs {version}: run `pip install {requirement}`")
    return [Path(dist.locate_file(f)) for f in dist.files or ()]


@functools.cache
def _umask() -> int:
    # There is no getter for the umask; set-and-restore once, early (it is process-wide).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
