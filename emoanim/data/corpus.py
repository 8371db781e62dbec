"""The on-disk corpus format every data source maps into, with its writer and reader.

Layout of a corpus folder::

    corpus.json       what the corpus holds: format version, rig, parameter names, fps, sample rate,
                      source and how it was made (command, seed)
    manifest.jsonl    one JSON object per clip (``ClipInfo``), sorted by clip id when finished
    clips/<id>.npz    arrays of one clip (never pickled):
                        audio        int16 [N]     mono speech at ``sample_rate`` (16 kHz)
                        params       float32 [T, D] motion at ``fps`` in the rig's parameter order
                        phone_times  float64 [P, 2] start, end seconds of each phone
                        phone_labels <U3 [P]       ARPAbet phones ('sil' for silence)

A clip's ``split`` is 'train', 'val' or 'test'; for the synthetic corpus, test voices and test
sentences never occur in training. A clip file is written atomically before its manifest line, so
an interrupted build can resume: what is in the manifest is complete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from emoanim.vocabulary import canonical_emotion, check_intensity
from emoanim.vocabulary import PhoneSegment
from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write

FORMAT = "emoanim-corpus"
VERSION = 1
SPLITS = ("train", "val", "test")


@dataclass
class CorpusMeta:
    rig: str
    names: list[str]
    fps: float
    sample_rate: int
    source: str  # 'synthetic', '3d-etf', 'mead-flame', ...
    created_by: dict = field(default_factory=dict)  # command, seed, hours, ...
    format: str = FORMAT
    version: int = VERSION


@dataclass
class ClipInfo:
    id: str
    split: str
    emotion: str
    intensity: int
    duration: float  # seconds of audio
    num_frames: int
    speaker: str  # voice id (synthetic) or actor id (real data)
    text: str = ""  # what is said, when known
    descriptions: list[str] = field(default_factory=list)  # natural-language emotion descriptions
    extra: dict = field(default_factory=dict)  # source-specific: engine, sentence id, prosody, augmentation

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise EmoAnimError(f"clip {self.id}: split must be one of {SPLITS}, got '{self.split}'")
        self.emotion = canonical_emotion(self.emotion)
        self.intensity = check_intensity(int(self.intensity))


@dataclass
class Clip:
    info: ClipInfo
    audio: np.ndarray  # float32 [N] in [-1, 1]
    params: np.ndarray  # float32 [T, D]
    phones: list[PhoneSegment]


class CorpusWriter:
    """Adds clips to a corpus folder; reopening an existing folder resumes it."""

    def __init__(self, root: str | Path, meta: CorpusMeta) -> None:
        self.root = Path(root)
        self.meta = meta
        (self.root / "clips").mkdir(parents=True, exist_ok=True)
        meta_path = self.root / "corpus.json"
        if meta_path.exists():
            old = read_meta(self.root)
            if (old.rig, old.names, old.fps, old.sample_rate) != (meta.rig, meta.names, meta.fps, meta.sample_rate):
                raise EmoAnimError(f"{self.root} holds a corpus with other settings; choose a new folder")
        atomic_write(meta_path, lambda f: json.dump(asdict(meta), f, indent=1), binary=False)
        self._manifest = self.root / "manifest.jsonl"
        infos = read_manifest(self._manifest)
        self.done = {info.id for info in infos}
        if self._manifest.exists() and not self._manifest.read_bytes().endswith(b"\n"):
            self._rewrite(infos)  # drop a line torn by an interruption before appending again

    def add(self, info: ClipInfo, audio: np.ndarray, params: np.ndarray, phones: list[PhoneSegment]) -> None:
        if params.ndim != 2 or params.shape[1] != len(self.meta.names):
            raise EmoAnimError(f"clip {info.id}: params must be [T, {len(self.meta.names)}], got {params.shape}")
        if not np.isfinite(params).all() or not np.isfinite(audio).all():
            raise EmoAnimError(f"clip {info.id}: NaN or infinite values")
        arrays = {
            "audio": np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16),
            "params": params.astype(np.float32),
            "phone_times": np.array([[p.start, p.end] for p in phones], np.float64).reshape(-1, 2),
            "phone_labels": np.array([p.phone for p in phones], dtype="<U3"),
        }
        atomic_write(clip_path(self.root, info.id), lambda f: np.savez(f, **arrays), binary=True)
        with open(self._manifest, "a", encoding="utf-8") as f:  # one short append: complete lines
            f.write(json.dumps(asdict(info), ensure_ascii=False) + "\n")
        self.done.add(info.id)

    def finish(self, keep: Callable[[str], bool] = lambda clip_id: True) -> None:
        """Sort the manifest by id, so the same build gives the same files however it was scheduled.

        Clips for which ``keep(id)`` is false are removed with their files.
        """
        infos = sorted(read_manifest(self._manifest), key=lambda info: info.id)
        unique = {info.id: info for info in infos if keep(info.id)}
        for info in infos:
            if info.id not in unique:
                clip_path(self.root, info.id).unlink(missing_ok=True)
        self._rewrite(list(unique.values()))

    def _rewrite(self, infos: list[ClipInfo]) -> None:
        text = "".join(json.dumps(asdict(info), ensure_ascii=False) + "\n" for info in infos)
        atomic_write(self._manifest, lambda f: f.write(text), binary=False)


class Corpus:
    """Read access to a corpus folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.infos = read_manifest(self.root / "manifest.jsonl")
        self._by_id = {info.id: info for info in self.infos}

    def __len__(self) -> int:
        return len(self.infos)

    def clips(self, split: str | None = None) -> list[ClipInfo]:
        return [info for info in self.infos if split is None or info.split == split]

    def hours(self, split: str | None = None) -> float:
        return sum(info.duration for info in self.clips(split)) / 3600.0

    def load(self, clip_id: str) -> Clip:
        info = self._by_id.get(clip_id)
        if info is None:
            raise EmoAnimError(f"no clip '{clip_id}' in {self.root}")
        try:
            with np.load(clip_path(self.root, clip_id), allow_pickle=False) as data:
                audio = data["audio"].astype(np.float32) / 32767.0
                params = data["params"]
                times, labels = data["phone_times"], data["phone_labels"]
        except (OSError, ValueError, KeyError) as exc:
            raise EmoAnimError(f"clip '{clip_id}' in {self.root} is unreadable ({exc}); rebuild it") from None
        phones = [PhoneSegment(str(label), float(s), float(e)) for label, (s, e) in zip(labels, times)]
        return Clip(info, audio, params, phones)

    def __iter__(self) -> Iterator[Clip]:
        for info in self.infos:
            yield self.load(info.id)


def stable_unit(*keys: object) -> float:
    """A number in [0, 1) fixed by its keys (the same on every machine and Python run)."""
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def held_out_count(n: int, fraction: float) -> int:
    """Speakers of ``n`` for a held-out split (val/test): at least one when there are three or more."""
    return 0 if fraction == 0 or n < 3 else max(1, round(fraction * n))


def clip_path(root: Path, clip_id: str) -> Path:
    return root / "clips" / f"{clip_id}.npz"


def read_meta(root: Path) -> CorpusMeta:
    path = Path(root) / "corpus.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = CorpusMeta(**data)
    except FileNotFoundError:
        raise EmoAnimError(f"{root} is not a corpus folder (no corpus.json); build one with `emoanim data synth`") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise EmoAnimError(f"{path} is damaged ({exc})") from None
    if meta.format != FORMAT or meta.version > VERSION:
        raise EmoAnimError(f"{path}: unsupported corpus format {meta.format} v{meta.version}")
    return meta


def read_manifest(path: Path) -> list[ClipInfo]:
    """Clips listed in a manifest; a torn last line (interrupted append) is ignored."""
    if not path.exists():
        return []
    infos = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            infos.append(ClipInfo(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return infos
