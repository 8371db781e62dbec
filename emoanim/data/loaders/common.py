"""What every real-dataset importer shares: safe array reading, speaker splits, motion/audio
conforming, optional phone alignment, the import loop and its report.

An importer first *scans* its folder into ``ClipJob``s (names parsed, audio paired with motion,
nothing decoded), then splits speakers, then *loads* each job (decode audio, read coefficients,
resample, check) and writes it. A problem with one clip is a ``ClipError``: the clip is skipped and
listed in the report (or, with ``strict=True``, the error is raised). Problems with the whole
import (missing folder, nothing found, nothing importable) are plain ``EmoAnimError``s.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoanim.audio import load_audio
from emoanim.audio.align import align_phones
from emoanim.data.corpus import (
    SPLITS,
    ClipInfo,
    Corpus,
    CorpusMeta,
    CorpusWriter,
    held_out_count,
    read_meta,
    stable_unit,
)
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion
from emoanim.vocabulary import PHONES, SAMPLE_RATE, PhoneSegment

# Real audio formats before video containers: when a clip has both, the audio file is the clean track.
AUDIO_EXTS: tuple[str, ...] = (
    ".wav", ".flac", ".m4a", ".aac", ".mp3", ".ogg", ".opus", ".webm", ".mp4", ".mov", ".mkv", ".avi",
)  # fmt: skip
DEFAULT_TOLERANCE_S = 0.2  # motion vs audio length; a video-based fit can lose a few frames at the ends
VAL_FRACTION, TEST_FRACTION = 0.10, 0.15  # of speakers, per source group (as the synthetic corpus)


class ClipError(EmoAnimError):
    """One clip cannot be imported. ``kind`` groups reasons in the report ('no audio', 'NaN', ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class ClipJob:
    """One clip found by a scan: where its files are and what its names say."""

    id: str
    speaker: str
    group: str  # split stratum: every group gets its own val/test speakers ('ravdess', 'hdtf', 'mead')
    emotion: str
    intensity: int
    motion_path: Path
    audio_path: Path
    text: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Skipped:
    path: str
    kind: str
    reason: str


@dataclass
class ImportReport:
    """What an import did: clips written and skipped (with reasons), and the corpus per split."""

    source: str
    src: Path
    out: Path
    imported: int = 0
    already_present: int = 0  # in the corpus from an earlier (interrupted) run of the same import
    skipped: list[Skipped] = field(default_factory=list)
    clips: dict[str, int] = field(default_factory=dict)  # per split, whole corpus
    hours: dict[str, float] = field(default_factory=dict)  # per split, whole corpus
    speakers: dict[str, list[str]] = field(default_factory=dict)  # per split, whole corpus
    notes: list[str] = field(default_factory=list)

    def skipped_by_kind(self) -> dict[str, int]:
        return dict(Counter(s.kind for s in self.skipped).most_common())

    def summary(self, examples: int = 2) -> str:
        """A few lines for people: counts, hours per split, and why clips were skipped."""
        lines = [f"{self.source}: imported {self.imported} clip(s) from {self.src} into {self.out}"
                 + (f" ({self.already_present} already there)" if self.already_present else "")]
        for split in SPLITS:
            lines.append(f"  {split:5s} {self.clips.get(split, 0):6d} clips {self.hours.get(split, 0.0):7.3f} h "
                         f"{len(self.speakers.get(split, [])):4d} speakers")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)}:")
            for kind, count in self.skipped_by_kind().items():
                shown = [s for s in self.skipped if s.kind == kind][:examples]
                lines.append(f"    {count:5d} {kind}, e.g. " + "; ".join(s.reason for s in shown))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def check_source_folder(src: str | Path, out: str | Path, what: str) -> tuple[Path, Path]:
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.exists():
        raise EmoAnimError(f"{what} folder not found: {src}")
    if not src.is_dir():
        raise EmoAnimError(f"{src} is a file; give the {what} folder")
    if out.resolve() == src.resolve():
        raise EmoAnimError(f"the corpus folder must differ from the {what} folder {src}")
    if out.exists() and not out.is_dir():
        raise EmoAnimError(f"{out} is a file; give a folder for the corpus")
    return src, out


def visible_files(root: Path, skip: Path | None = None) -> list[Path]:
    """Files under ``root``, sorted; hidden names (``.DS_Store``, macOS ``._x.wav`` forks) and ``skip`` left out."""
    skip = skip.resolve() if skip is not None else None
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or not path.is_file():
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        files.append(path)
    return files


def clip_id(*parts: str) -> str:
    """A file-name-safe clip id from its parts."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(p for p in parts if p)).strip("_.-") or "clip"


def natural_key(name: str) -> tuple:
    """'frame_10' after 'frame_9': digit runs compare as numbers."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def audio_rank(path: Path) -> int:
    return AUDIO_EXTS.index(path.suffix.lower()) if path.suffix.lower() in AUDIO_EXTS else len(AUDIO_EXTS)


# --------------------------------------------------------------------------------------------
# Safe array reading (never unpickles)
# --------------------------------------------------------------------------------------------


def read_array_file(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a ``.npy`` (key '') or ``.npz`` file, read with ``allow_pickle=False``."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ClipError("unreadable", f"{path}: cannot read ({exc.strerror or exc})") from None
    if not (head.startswith(b"\x93NUMPY") or head.startswith(b"PK")):
        kind = "a Python pickle" if head[:1] == b"\x80" else "not a NumPy .npy/.npz file"
        raise ClipError("unreadable", f"{path} is {kind}; store plain numeric arrays with np.save/np.savez")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # untrusted bytes: any parse failure means a damaged or pickled file
        raise ClipError("unreadable", f"{path}: {_array_error(exc)}") from None
    if isinstance(loaded, np.ndarray):
        return {"": loaded}
    arrays = {}
    with loaded:
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except Exception as exc:
                raise ClipError("unreadable", f"{path}, array '{key}': {_array_error(exc)}") from None
    return arrays


def _array_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "pickle" in text.lower() or "object arrays" in text.lower():
        return "holds pickled Python objects, which are not loaded (they could run code); store numeric arrays"
    return f"unreadable or truncated ({text[:160]})"


def numeric_2d(array: np.ndarray, where: str, what: str) -> np.ndarray:
    """``array`` as float64 [T, D]: leading singleton axes dropped, numbers only, all finite."""
    if array.dtype.kind not in "biuf":
        raise ClipError("not numeric", f"{where}: {what} must be numbers, got dtype {array.dtype}")
    while array.ndim > 2 and array.shape[0] == 1:  # a saved batch of one: [1, T, D]
        array = array[0]
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ClipError("wrong shape", f"{where}: {what} must be [frames, values], got shape {array.shape}")
    values = array.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        frame, col = (int(i) for i in np.argwhere(bad)[0])
        raise ClipError("NaN/inf", f"{where}: {what} has {int(bad.sum())} NaN/infinite value(s), the first at "
                                   f"frame {frame}, column {col}; fix or drop those frames")
    return values


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------


def _speaker_key(name: str) -> str:
    """'ravdess-07' / '07' / '7' -> '7'; 'M003' -> 'm003': how user-given speaker ids are compared."""
    raw = name.strip().lower().split("-", 1)[-1]
    return str(int(raw)) if raw.isdigit() else raw


def assign_splits(
    speakers: dict[str, str],
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    test_speakers: Iterable[str] | None = None,
    val_speakers: Iterable[str] | None = None,
    seed: int = 0,
) -> dict[str, str]:
    """Split of each speaker (``speakers``: speaker -> group); no speaker is in two splits.

    Given ``test_speakers``/``val_speakers`` (full ids like 'ravdess-07' or bare '07', 'M003') take
    those splits; otherwise each group's speakers are ordered by a stable hash and the first
    ``test_fraction`` go to test, the next ``val_fraction`` to val (each at least one speaker when
    the group has three or more), the rest to train.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise EmoAnimError(f"{name} must be in [0, 1), got {value}")
    split: dict[str, str] = {}
    for chosen, label in ((test_speakers, "test"), (val_speakers, "val")):
        if chosen is None:
            continue
        found: set[str] = set()
        unknown = []
        for given in chosen:
            matches = {s for s in speakers if s.lower() == given.lower() or _speaker_key(s) == _speaker_key(given)}
            found |= matches
            if not matches:
                unknown.append(given)
        if unknown:
            known = ", ".join(sorted(speakers)[:12]) + (" ..." if len(speakers) > 12 else "")
            raise EmoAnimError(f"{label} speaker(s) not in the data: {', '.join(unknown)}; speakers are: {known}")
        clash = sorted(s for s in found if s in split)
        if clash:
            raise EmoAnimError(f"speaker(s) {', '.join(clash)} given for both test and val")
        split.update({s: label for s in found})
    for group in sorted(set(speakers.values())):
        rest = sorted((s for s, g in speakers.items() if g == group and s not in split),
                      key=lambda s: stable_unit(seed, s))
        n = len(rest)
        n_test = held_out_count(n, test_fraction) if test_speakers is None else 0
        n_val = held_out_count(n, val_fraction) if val_speakers is None else 0
        for i, speaker in enumerate(rest):
            split[speaker] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return split



# --------------------------------------------------------------------------------------------
# Conforming motion to audio
# --------------------------------------------------------------------------------------------


def conform_to_audio(motion: Motion, audio_seconds: float, fps: float, tolerance_s: float, where: str) -> np.ndarray:
    """[round(audio_seconds * fps), D] params: ``motion`` resampled to ``fps`` and trimmed/held to the audio.

    Audio is the reference (the model reads it); a motion whose length differs from it by more
    than ``tolerance_s`` is out of sync or belongs to another clip, so it is refused.
    """
    gap = motion.duration - audio_seconds
    if abs(gap) > tolerance_s:
        raise ClipError(
            "length mismatch",
            f"{where}: motion lasts {motion.duration:.2f} s ({motion.num_frames} frames at {motion.fps:g} fps) but "
            f"the audio {audio_seconds:.2f} s (tolerance {tolerance_s:g} s); wrong pairing or wrong source fps?",
        )
    params = motion.resample(fps).params
    target = max(1, int(round(audio_seconds * fps)))
    if len(params) >= target:
        return params[:target]
    hold = np.repeat(params[-1:], target - len(params), axis=0)  # hold the last pose for the missing tail
    return np.concatenate([params, hold])


def load_clip_audio(path: Path) -> np.ndarray:
    try:
        return load_audio(path, SAMPLE_RATE)
    except EmoAnimError as exc:
        raise ClipError("bad audio", str(exc)) from None


# --------------------------------------------------------------------------------------------
# Optional phone alignment
# --------------------------------------------------------------------------------------------


class PhoneAligner:
    """Calls ``emoanim.audio.align.align_phones`` when enabled and the transcript is known.

    Real data has no phone timings; alignment is a bonus, so any failure (pocketsphinx missing,
    a clip it cannot align) leaves the clip with an empty phone list and is counted, never fatal.
    """

    def __init__(self, enabled: bool) -> None:
        self.fn: Callable | None = align_phones if enabled else None
        self.failures = 0
        self.first_error = ""
        self.aligned = 0
        self.enabled = enabled

    def __call__(self, audio: np.ndarray, text: str) -> list[PhoneSegment]:
        if self.fn is None or not text:
            return []
        duration = len(audio) / SAMPLE_RATE
        try:
            phones = [
                PhoneSegment(str(p.phone), max(0.0, float(p.start)), min(duration, float(p.end)))
                for p in self.fn(audio, SAMPLE_RATE, text)
            ]
            if any(p.phone not in PHONES or p.end < p.start for p in phones):
                raise ValueError("aligner returned unknown phones or negative durations")
        except Exception as exc:  # fail-safe by design: alignment is optional
            self.failures += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
            return []
        self.aligned += 1
        return phones

    def note(self) -> str | None:
        if self.enabled and self.failures:
            return f"phones: alignment failed for {self.failures} clip(s), stored empty ({self.first_error})"
        return None


# --------------------------------------------------------------------------------------------
# The import loop
# --------------------------------------------------------------------------------------------

LoadFn = Callable[[ClipJob, np.ndarray], tuple[np.ndarray, dict]]  # (job, audio) -> (params [T, D], extra)


def check_rates(fps: float, source_fps: float) -> None:
    if not fps > 0 or not source_fps > 0:
        raise EmoAnimError(f"fps and source_fps must be positive, got {fps} and {source_fps}")


def import_scanned(
    scan: tuple[list[ClipJob], list[Skipped], list[str]],
    src: Path,
    meta: CorpusMeta,
    read_motion: Callable[[Path], Motion],
    out: Path,
    *,
    tolerance_s: float,
    test_speakers: Iterable[str] | None,
    val_speakers: Iterable[str] | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    align: bool,
    strict: bool,
    progress: Callable[[int, int], None] | None,
) -> ImportReport:
    """Everything after an importer's scan: split speakers, then read, conform and write each clip.

    ``scan`` is (jobs, skipped, notes); ``read_motion(path)`` reads one clip's motion, which is
    resampled to ``meta.fps`` and fitted to its audio. ``strict`` raises the first problem.
    """
    jobs, skipped, notes = scan
    if strict and skipped:
        raise EmoAnimError(skipped[0].reason)
    if not jobs:
        raise EmoAnimError(f"no importable clip under {src}: " + "; ".join(s.reason for s in skipped[:3]))
    report = ImportReport(meta.source, src, out, skipped=skipped, notes=notes)
    speakers = {j.speaker: j.group for j in jobs}
    splits = assign_splits(speakers, val_fraction, test_fraction, test_speakers, val_speakers, seed)

    def load(job: ClipJob, audio: np.ndarray) -> tuple[np.ndarray, dict]:
        motion = read_motion(job.motion_path)
        params = conform_to_audio(motion, len(audio) / SAMPLE_RATE, meta.fps, tolerance_s, str(job.motion_path))
        return params, {"source_fps": motion.fps}

    return run_import(jobs, report, meta, load, splits=splits, align=align, strict=strict, progress=progress)


def run_import(
    jobs: Sequence[ClipJob],
    report: ImportReport,
    meta: CorpusMeta,
    load: LoadFn,
    *,
    splits: dict[str, str],
    align: bool,
    strict: bool,
    progress: Callable[[int, int], None] | None,
) -> ImportReport:
    """Load, check and write every job; fill the report from the finished corpus."""
    out = report.out
    writer = None  # made at the first clip, so that a failed import leaves no empty corpus behind
    if (out / "corpus.json").exists():  # resuming: it must be the same kind of corpus
        existing = read_meta(out).source
        if existing != meta.source:
            raise EmoAnimError(f"{out} already holds a '{existing}' corpus; import into a new folder")
        writer = CorpusWriter(out, meta)
        # Speakers already written keep their split, so a rerun that finds more speakers (and so
        # ranks them differently) can never put one speaker in two splits.
        kept = {c.speaker: c.split for c in Corpus(out).clips()}
        moved = sorted(s for s, split in kept.items() if splits.get(s, split) != split)
        splits = {**splits, **kept}
        if moved:
            report.notes.append(f"{len(moved)} speaker(s) keep their split from the existing corpus: "
                                f"{', '.join(moved[:6])}")
    done = writer.done if writer is not None else set()
    aligner = PhoneAligner(align)
    seen: set[str] = set()
    for index, job in enumerate(jobs):
        if progress is not None:
            progress(index, len(jobs))
        if job.id in seen:
            reason = f"{job.motion_path}: a second motion file for clip {job.id}"
            report.skipped.append(Skipped(str(job.motion_path), "duplicate", reason))
            continue
        seen.add(job.id)
        if job.id in done:
            report.already_present += 1
            continue
        try:
            audio = load_clip_audio(job.audio_path)
            params, extra = load(job, audio)
        except ClipError as exc:
            if strict:
                raise
            report.skipped.append(Skipped(str(job.motion_path), exc.kind, str(exc)))
            continue
        phones = aligner(audio, job.text)
        info = ClipInfo(
            id=job.id, split=splits[job.speaker], emotion=job.emotion, intensity=job.intensity,
            duration=len(audio) / meta.sample_rate, num_frames=len(params), speaker=job.speaker, text=job.text,
            extra={**job.extra, **extra, "phone_timing": "aligned" if phones else "none"},
        )  # fmt: skip
        if writer is None:
            writer = CorpusWriter(out, meta)
        writer.add(info, audio, params, phones)
        report.imported += 1
    if progress is not None:
        progress(len(jobs), len(jobs))
    if writer is None:
        kinds = ", ".join(f"{n} {k}" for k, n in report.skipped_by_kind().items())
        example = report.skipped[0].reason if report.skipped else ""
        raise EmoAnimError(f"no clip of {report.src} could be imported ({kinds}); for example: {example}")
    writer.finish()
    note = aligner.note()
    if note:
        report.notes.append(note)
    corpus = Corpus(out)
    for split in SPLITS:
        report.clips[split] = len(corpus.clips(split))
        report.hours[split] = corpus.hours(split)
        report.speakers[split] = sorted({c.speaker for c in corpus.clips(split)})
    return report
