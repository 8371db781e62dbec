"""Import an ARKit blendshape dataset laid out like EmoTalk's 3D-ETF into an 'arkit' corpus.

3D-ETF (Peng et al., EmoTalk, ICCV 2023) holds RAVDESS and HDTF videos reconstructed to Apple's 52
ARKit blendshapes at 30 fps (EmoTalk predicts ``ceil(seconds * 30)`` frames). Expected layout (the
folder names do not matter; clips are found anywhere below ``src``)::

    <src>/
      RAVDESS/audio/03-01-06-01-02-01-12.wav          speech (wav/flac/m4a/mp3/..., or a video's track)
      RAVDESS/blendshape/03-01-06-01-02-01-12.npy     float [T, 52] at ``source_fps`` (30)
      HDTF/audio/WDA_BarackObama_000.wav
      HDTF/blendshape/WDA_BarackObama_000.npy
      ...                                             or <name>.csv: a Live Link Face take

Pairing: a coefficient file (``.npy`` or Live Link Face ``.csv``) pairs with the audio file of the
same stem anywhere under ``src`` (the closest one in the folder tree if several). RAVDESS names also
pair across modalities: ``01-01-06-...`` (video) motion with ``03-01-06-...`` (audio-only) speech.

Columns of a ``.npy``: by default EmoTalk's order, which is ARKit's 52 names sorted alphabetically
(browDownLeft, browDownRight, browInnerUp, ..., noseSneerRight, tongueOut; the list its Blender
renderer drives) and equals ``ARKIT_ACTIONS``. Other orders: pass ``names`` or ``names_file`` (one name
per line or comma/space separated, ``#`` comments; ARKit names in any case, headYaw/headPitch/headRoll
in radians allowed, ``-`` drops a column). Head rotation is 0 when absent. LLF CSVs name their
columns and carry their fps in the timecodes (``source_fps`` is used if they cannot tell).

Labels: RAVDESS names ``MM-VV-EE-II-SS-RR-AA`` (modality, vocal channel 01 speech / 02 song,
emotion, intensity, statement, repetition, actor): emotion 01 neutral, 02 calm (-> neutral),
03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised; intensity 01 normal -> level 2,
02 strong -> 3; neutral and calm -> level 1. Statement 01 "Kids are talking by the door",
02 "Dogs are sitting by the door". Speaker ``ravdess-AA``. Any other name is a talking-head clip
(HDTF): neutral, level 1, speaker ``hdtf-<name without trailing _NNN>`` (``other-...`` if no folder on
its path is called HDTF). Song clips (channel 02) are skipped unless ``include_song``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from emoanim.data.corpus import CorpusMeta
from emoanim.data.loaders.common import (
    AUDIO_EXTS,
    DEFAULT_TOLERANCE_S,
    TEST_FRACTION,
    VAL_FRACTION,
    ClipError,
    ClipJob,
    ImportReport,
    Skipped,
    audio_rank,
    check_rates,
    check_source_folder,
    clip_id,
    import_scanned,
    numeric_2d,
    read_array_file,
    visible_files,
)
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion, load_csv
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS
from emoanim.vocabulary import MOTION_FPS, SAMPLE_RATE

SOURCE = "3d-etf"
ETF_FPS = 30.0
# EmoTalk's blendshape column order (its render.py drives shape keys in this order): ARKit's 52
# names alphabetically, which is exactly our ARKIT_ACTIONS.
EMOTALK_BLENDSHAPES: tuple[str, ...] = ARKIT_ACTIONS
COEFF_EXTS = (".npy", ".csv")

RAVDESS_EMOTIONS = {
    1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust", 8: "surprised",
}  # fmt: skip
RAVDESS_STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_ARKIT_BY_LOWER = {n.lower(): n for n in ARKIT_PARAMS}


@dataclass(frozen=True)
class RavdessName:
    modality: int  # 01 audio-video, 02 video-only, 03 audio-only
    channel: int  # 01 speech, 02 song
    raw_emotion: str  # RAVDESS's word: 'calm', 'disgust', ...
    emotion: str  # ours: 'neutral', 'disgusted', ...
    intensity: int  # ours: 1..3
    statement: int
    repetition: int
    actor: int

    @property
    def text(self) -> str:
        return RAVDESS_STATEMENTS[self.statement]

    @property
    def speaker(self) -> str:
        return f"ravdess-{self.actor:02d}"


def parse_ravdess_name(stem: str) -> RavdessName | None:
    """Labels of a RAVDESS file name ``03-01-06-01-02-01-12``; None if the name is not such a code."""
    match = _RAVDESS_RE.match(stem)
    if match is None:
        return None
    modality, channel, emotion, intensity, statement, repetition, actor = (int(g) for g in match.groups())
    bad = [name for name, ok in (
        ("modality", 1 <= modality <= 3), ("vocal channel", channel in (1, 2)),
        ("emotion", emotion in RAVDESS_EMOTIONS), ("intensity", intensity in (1, 2)),
        ("statement", statement in (1, 2)), ("repetition", repetition in (1, 2)), ("actor", 1 <= actor <= 99),
    ) if not ok]  # fmt: skip
    if bad:
        raise ClipError("bad name", f"'{stem}' looks like a RAVDESS name but its {', '.join(bad)} is out of range")
    raw = RAVDESS_EMOTIONS[emotion]
    ours = "neutral" if raw == "calm" else {"disgust": "disgusted"}.get(raw, raw)
    level = 1 if ours == "neutral" else intensity + 1  # RAVDESS normal -> our medium, strong -> strong
    return RavdessName(modality, channel, raw, ours, level, statement, repetition, actor)


def talking_head_speaker(stem: str) -> str:
    """'WDA_BarackObama_000' -> 'WDA_BarackObama': HDTF numbers the videos of one person."""
    return re.sub(r"(_\d+)+$", "", stem) or stem


def _pair_key(stem: str) -> str:
    ravdess = _RAVDESS_RE.match(stem)
    return stem[3:] if ravdess else stem  # RAVDESS: ignore the modality field


# --------------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------------


def read_names_file(path: str | Path) -> list[str]:
    """Column names from a text file: one per line or separated by commas/spaces; '#' starts a comment."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EmoAnimError(f"cannot read the names file {path}: {exc}") from None
    names = [tok for line in text.splitlines() for tok in re.split(r"[\s,;]+", line.split("#", 1)[0]) if tok]
    if not names:
        raise EmoAnimError(f"the names file {path} lists no names")
    return names


def resolve_names(names: Sequence[str], fill_missing: bool = False) -> list[str | None]:
    """ARKit rig name of each column (None = drop the column).

    Unknown or repeated names are an error, and so are missing blendshapes unless ``fill_missing``.
    """
    resolved: list[str | None] = []
    for name in names:
        if name.strip() in ("-", "_", ""):
            resolved.append(None)
            continue
        rig_name = _ARKIT_BY_LOWER.get(name.strip().lower())
        if rig_name is None:
            close = difflib.get_close_matches(name.strip().lower(), list(_ARKIT_BY_LOWER), n=1)
            hint = f" (did you mean '{_ARKIT_BY_LOWER[close[0]]}'?)" if close else ""
            raise EmoAnimError(f"column name '{name}' is not an ARKit blendshape or head rotation{hint}; "
                               "write '-' to drop a column")
        resolved.append(rig_name)
    kept = [n for n in resolved if n is not None]
    repeated = sorted({n for n in kept if kept.count(n) > 1})
    if repeated:
        raise EmoAnimError(f"column names appear twice: {', '.join(repeated)}")
    missing = [n for n in ARKIT_ACTIONS if n not in kept]
    if missing and not fill_missing:
        raise EmoAnimError(f"the columns lack {len(missing)} ARKit blendshape(s): {', '.join(missing[:6])}"
                           f"{' ...' if len(missing) > 6 else ''}; use fill_missing=True to set them to 0")
    return resolved


# --------------------------------------------------------------------------------------------
# Reading one clip's coefficients
# --------------------------------------------------------------------------------------------


def load_arkit_coefficients(
    path: str | Path,
    names: Sequence[str] | None = None,
    source_fps: float = ETF_FPS,
    fill_missing: bool = False,
) -> Motion:
    """An 'arkit' motion (all ``ARKIT_PARAMS``, head 0 when absent) from a ``.npy`` or LLF ``.csv``.

    ``.npy``: float [T, len(names)], columns ``names`` (default EmoTalk's 52), at ``source_fps``.
    Blendshapes the columns lack are an error unless ``fill_missing`` (then 0).
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _load_llf(path, source_fps, fill_missing)
    resolved = resolve_names(names if names is not None else EMOTALK_BLENDSHAPES, fill_missing)
    arrays = read_array_file(path)
    if "" not in arrays:
        raise ClipError("wrong shape", f"{path} is an .npz archive; give one [T, {len(resolved)}] array per .npy file")
    values = numeric_2d(arrays[""], str(path), "blendshape coefficients")
    if values.shape[1] != len(resolved):
        order = "EmoTalk's ARKit order" if names is None else "the names given"
        raise ClipError(
            "wrong coefficient count",
            f"{path} has {values.shape[1]} columns but {len(resolved)} were expected ({order}); "
            f"pass names/names_file listing its columns",
        )
    keep = [j for j, n in enumerate(resolved) if n is not None]
    kept_names = tuple(resolved[j] for j in keep)
    motion = Motion(values[:, keep], kept_names, source_fps, "arkit")
    return motion.with_names(ARKIT_PARAMS, fill_missing=True)  # head (and allowed gaps) = 0


def _load_llf(path: Path, source_fps: float, fill_missing: bool) -> Motion:
    try:
        try:
            motion = load_csv(path, fill_missing=fill_missing)
        except EmoAnimError as first:
            try:  # a take shorter than a second cannot show its rate in timecodes: use source_fps
                motion = load_csv(path, fps=source_fps, fill_missing=fill_missing)
            except EmoAnimError:
                raise first from None
    except EmoAnimError as exc:
        text = str(exc)
        kind = "NaN/inf" if "not finite" in text else "wrong coefficient count" if "lacks" in text else "unreadable"
        raise ClipError(kind, text) from None
    return motion.with_names(ARKIT_PARAMS, fill_missing=True)


# --------------------------------------------------------------------------------------------
# Scanning and importing
# --------------------------------------------------------------------------------------------


def scan_arkit_dataset(
    src: Path, skip: Path | None = None, include_song: bool = False
) -> tuple[list[ClipJob], list[Skipped], list[str]]:
    """Clips (coefficient file + audio + labels) under ``src``, the files skipped, and notes."""
    files = visible_files(src, skip)
    coeffs = [f for f in files if f.suffix.lower() in COEFF_EXTS]
    audio_by_key: dict[str, list[Path]] = {}
    for f in files:
        if f.suffix.lower() in AUDIO_EXTS:
            audio_by_key.setdefault(_pair_key(f.stem), []).append(f)
    if not coeffs:
        raise EmoAnimError(
            f"no blendshape files (.npy or Live Link Face .csv) under {src}; expected e.g. "
            "RAVDESS/blendshape/03-01-06-01-02-01-12.npy next to RAVDESS/audio/03-01-06-01-02-01-12.wav"
        )
    jobs, skipped, paired, songs = [], [], set(), 0
    for path in coeffs:
        candidates = audio_by_key.get(_pair_key(path.stem), [])
        if not candidates:
            skipped.append(Skipped(str(path), "no audio", f"{path}: no audio file named {path.stem}.* under {src}"))
            continue
        audio = min(candidates, key=lambda a: (-_shared_depth(a, path), audio_rank(a), str(a)))
        paired.add(_pair_key(path.stem))
        try:
            job = _job(path, audio, src)
        except ClipError as exc:
            skipped.append(Skipped(str(path), exc.kind, str(exc)))
            continue
        if job.extra.get("vocal") == "song" and not include_song:
            songs += 1  # sung, not spoken: a deliberate filter, not a fault
            continue
        jobs.append(job)
    notes = []
    if songs:
        notes.append(f"{songs} RAVDESS song clip(s) (vocal channel 02) left out; include_song=True imports them")
    unpaired = sum(len(v) for k, v in audio_by_key.items() if k not in paired)
    if unpaired:
        notes.append(f"{unpaired} audio file(s) have no blendshape file and were left out")
    return jobs, skipped, notes


def _shared_depth(a: Path, b: Path) -> int:
    n = 0
    for x, y in zip(a.parent.parts, b.parent.parts):
        if x != y:
            break
        n += 1
    return n


def _job(path: Path, audio: Path, src: Path) -> ClipJob:
    rel = path.relative_to(src)
    extra = {"source_file": str(rel), "audio_file": str(audio.relative_to(src))}
    ravdess = parse_ravdess_name(path.stem)
    if ravdess is not None:
        extra.update(dataset="ravdess", ravdess_emotion=ravdess.raw_emotion, statement=ravdess.statement,
                     repetition=ravdess.repetition, vocal="song" if ravdess.channel == 2 else "speech")
        return ClipJob(clip_id("ravdess", path.stem), ravdess.speaker, "ravdess", ravdess.emotion, ravdess.intensity,
                       path, audio, ravdess.text, extra)
    dataset = "hdtf" if any(p.lower().startswith("hdtf") for p in rel.parts[:-1]) else "other"
    extra.update(dataset=dataset)
    speaker = f"{dataset}-{talking_head_speaker(path.stem)}"
    return ClipJob(clip_id(dataset, path.stem), speaker, dataset, "neutral", 1, path, audio, "", extra)


def import_arkit_dataset(
    src: str | Path,
    out: str | Path,
    fps: float = MOTION_FPS,
    *,
    source_fps: float = ETF_FPS,
    names: Sequence[str] | None = None,
    names_file: str | Path | None = None,
    fill_missing: bool = False,
    include_song: bool = False,
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
    """Import a 3D-ETF-style ARKit dataset (see the module doc) into the corpus folder ``out``.

    Motion is resampled from ``source_fps`` to ``fps`` and fitted to the audio length (16 kHz).
    Speakers are split per source (RAVDESS actors, HDTF people): ``test_speakers``/``val_speakers``
    (e.g. ['ravdess-01', '02']) or a stable hash. Bad clips are skipped and reported (``strict``:
    raised). Re-running after an interruption continues where it stopped.
    """
    src, out = check_source_folder(src, out, "ARKit dataset")
    check_rates(fps, source_fps)
    if names is not None and names_file is not None:
        raise EmoAnimError("give the column names either as names or as names_file, not both")
    column_names = read_names_file(names_file) if names_file is not None else names
    if column_names is not None:
        resolve_names(column_names, fill_missing)  # a typo is an error for the whole import, not per clip
    meta = CorpusMeta(
        rig="arkit", names=list(ARKIT_PARAMS), fps=float(fps), sample_rate=SAMPLE_RATE, source=SOURCE,
        created_by={"command": "import_arkit_dataset", "src": str(src), "source_fps": source_fps, "seed": seed,
                    "names": list(column_names) if column_names is not None else "emotalk"},
    )  # fmt: skip
    return import_scanned(
        scan_arkit_dataset(src, out, include_song), src, meta,
        lambda path: load_arkit_coefficients(path, column_names, source_fps, fill_missing), out,
        tolerance_s=tolerance_s, test_speakers=test_speakers, val_speakers=val_speakers, val_fraction=val_fraction,
        test_fraction=test_fraction, seed=seed, align=align, strict=strict, progress=progress,
    )  # fmt: skip

__all__ = [
    "EMOTALK_BLENDSHAPES", "ETF_FPS", "RAVDESS_EMOTIONS", "RAVDESS_STATEMENTS", "RavdessName",
    "import_arkit_dataset", "load_arkit_coefficients", "parse_ravdess_name", "read_names_file", "resolve_names",
    "scan_arkit_dataset", "talking_head_speaker",
]  # fmt: skip
