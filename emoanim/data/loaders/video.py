"""Import a folder of talking-face videos into an 'arkit' corpus: ARKit curves tracked from each
video's face (``emoanim.face.tracking``, MediaPipe) and its own audio track, 16 kHz.

Any layout works; each video (.mp4 .mov .mkv .webm .avi .m4v) is one clip. Its labels come from its
names, most specific first:

    RAVDESS code   01-01-06-01-02-01-12.mp4            (audio-video modality 01; see ``arkit_etf``)
    folders/words  MEAD's M003/video/front/angry/level_3/001.mp4, or happy/take_2.mp4, clip_sad.mov:
                   an emotion word (any spelling ``canonical_emotion`` knows) in the file name or a
                   folder, ``level_1..3`` (or a trailing ``_1.._3`` after the word) for the intensity
                   (2 when not given; neutral is 1)
    nothing        neutral, level 1 (a talking-head video)

Speaker: RAVDESS's actor; else the first folder under ``src`` (MEAD's actor id, one person's
folder), else the file name without its trailing number. Clips without a face, with several faces
or without audio are skipped with their reason, as every importer does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from emoanim.data.corpus import CorpusMeta
from emoanim.data.loaders.arkit_etf import parse_ravdess_name, talking_head_speaker
from emoanim.data.loaders.common import (
    DEFAULT_TOLERANCE_S,
    TEST_FRACTION,
    VAL_FRACTION,
    ClipError,
    ClipJob,
    ImportReport,
    Skipped,
    check_source_folder,
    clip_id,
    import_scanned,
    visible_files,
)
from emoanim.errors import EmoAnimError
from emoanim.face.tracking import TrackConfig, track_face
from emoanim.motion import Motion
from emoanim.rigs.arkit import ARKIT_PARAMS
from emoanim.vocabulary import MOTION_FPS, SAMPLE_RATE, canonical_emotion

SOURCE = "video"
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
_LEVEL_RE = re.compile(r"^level[_-]?([123])$", re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z]+|\d+")


def video_labels(rel: Path) -> tuple[str, int] | None:
    """(emotion, intensity) named by a video's path below the import folder, or None."""
    emotion, level = None, None
    for part in [p for p in rel.parts[:-1]] + [rel.stem]:
        if _LEVEL_RE.match(part):
            level = int(_LEVEL_RE.match(part).group(1))
            continue
        words = _WORD_RE.findall(part)
        for i, word in enumerate(words):
            try:
                emotion = canonical_emotion(word.lower())
            except EmoAnimError:
                continue
            if i + 1 < len(words) and words[i + 1] in ("1", "2", "3"):  # "angry_3"
                level = int(words[i + 1])
    if emotion is None:
        return None
    return emotion, 1 if emotion == "neutral" else (level or 2)


def _job(path: Path, src: Path) -> ClipJob:
    rel = path.relative_to(src)
    extra = {"source_file": str(rel), "audio_file": str(rel), "dataset": "video"}
    ravdess = parse_ravdess_name(path.stem)
    if ravdess is not None:
        if ravdess.modality == 3:
            raise ClipError("no video", f"{path}: a RAVDESS audio-only file (modality 03)")
        extra.update(dataset="ravdess", ravdess_emotion=ravdess.raw_emotion, statement=ravdess.statement,
                     vocal="song" if ravdess.channel == 2 else "speech")
        return ClipJob(clip_id("ravdess", path.stem), ravdess.speaker, "ravdess", ravdess.emotion,
                       ravdess.intensity, path, path, ravdess.text, extra)
    emotion, level = video_labels(rel) or ("neutral", 1)
    speaker = rel.parts[0] if len(rel.parts) > 1 else talking_head_speaker(path.stem)
    return ClipJob(clip_id(*rel.with_suffix("").parts), speaker, "video", emotion, level, path, path, "", extra)


def scan_videos(src: Path, skip: Path | None = None) -> tuple[list[ClipJob], list[Skipped], list[str]]:
    videos = [f for f in visible_files(src, skip) if f.suffix.lower() in VIDEO_EXTS]
    if not videos:
        raise EmoAnimError(f"no videos ({', '.join(VIDEO_EXTS)}) under {src}")
    jobs, skipped = [], []
    for path in videos:
        try:
            jobs.append(_job(path, src))
        except ClipError as exc:
            skipped.append(Skipped(str(path), exc.kind, str(exc)))
    return jobs, skipped, []


def _tracked(path: Path, config: TrackConfig) -> Motion:
    try:
        return track_face(path, config)
    except EmoAnimError as exc:
        raise ClipError("no usable face", str(exc)) from None


def import_videos(
    src: str | Path,
    out: str | Path,
    fps: float = MOTION_FPS,
    *,
    max_seconds: float = 600.0,
    test_speakers: Iterable[str] | None = None,
    val_speakers: Iterable[str] | None = None,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    align: bool = True,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Track every talking-face video under ``src`` into the 'arkit' corpus folder ``out`` (resumable)."""
    src, out = check_source_folder(src, out, "video")
    config = TrackConfig(fps=float(fps), max_seconds=max_seconds)
    meta = CorpusMeta(rig="arkit", names=list(ARKIT_PARAMS), fps=float(fps), sample_rate=SAMPLE_RATE, source=SOURCE,
                      created_by={"command": "import_videos", "src": str(src), "seed": seed, "tracker": "mediapipe"})
    return import_scanned(
        scan_videos(src, out), src, meta, lambda path: _tracked(path, config), out,
        tolerance_s=tolerance_s, test_speakers=test_speakers, val_speakers=val_speakers, val_fraction=val_fraction,
        test_fraction=test_fraction, seed=seed, align=align, strict=strict, progress=progress,
    )  # fmt: skip


__all__ = ["import_videos", "scan_videos", "video_labels"]
