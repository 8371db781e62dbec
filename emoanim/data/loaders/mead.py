"""Import FLAME reconstructions of MEAD (e.g. EMOCA run on MEAD's videos) into a 'flame' corpus.

MEAD (Wang et al., ECCV 2020) ships per actor (M003, W009, ...) an ``audio`` tree and a ``video``
tree with one folder per camera view. Put your per-clip FLAME fits in a tree parallel to ``video``
(default name ``flame``; the view folder is optional)::

    <src>/
      M003/
        audio/angry/level_3/001.m4a                 MEAD's audio, as downloaded (any format ffmpeg reads)
        flame/front/angry/level_3/001.npz           FLAME fit of video/front/angry/level_3/001.mp4
      W009/
        audio/neutral/level_1/001.m4a
        flame/neutral/level_1/001.npz               (no view folder is fine too)

Emotion folders are MEAD's: angry, contempt, disgusted, fear, happy, neutral, sad, surprised (other
spellings known to ``canonical_emotion`` work; anything else is skipped). ``level_1..3`` is the
intensity (weak, medium, strong). The actor folder name is the speaker; splits never share actors.
Only the ``view`` folder (default ``front``) is read; other views are counted in the report.

Each clip's FLAME motion is one of:

* ``<nnn>.npz`` with these arrays, [T, ...] per frame (names matched case-insensitively):
    expression  [T, E]   'exp', 'expression', 'expression_params', 'expcode', 'exp_params', 'expr'
    jaw         [T, 3]   'jaw', 'jaw_pose', 'jaw_params'  (axis-angle, radians)
    or pose     [T, 6]   'pose', 'posecode', 'pose_params': DECA/EMOCA order, global (3) then jaw (3)
                [T, 15]  ... full FLAME order: global, neck, jaw, left eye, right eye
    optional    [T, 3]   'global_pose'/'global_orient', 'neck_pose'; [T, 6] 'eye_pose' (left eye, then right)
    optional    scalar   'fps' (else ``source_fps``, 30 = MEAD's video rate)
  Explicit jaw/global/neck/eye arrays win over the ones taken from 'pose'; what is absent is 0.
* ``<nnn>/`` a folder holding the same arrays as separate ``.npy`` files (``exp.npy``, ``jaw_pose.npy``, ...).
* ``<nnn>/`` a folder of per-frame EMOCA outputs (``--save_codes``): ``<nnn>/<frame>/exp.npy`` and
  ``pose.npy`` ([1, 50] and [1, 6] each), one face per frame folder, frames in natural name order.
* ``<nnn>.npy`` one array [T, E + 3]: the expression, then the jaw.

E must equal ``num_expressions`` (50 for EMOCA/DECA; 100 for fitters that keep more). Identity
(shape) is not imported: the FLAME rig uses the template head.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

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
    natural_key,
    numeric_2d,
    read_array_file,
)
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion
from emoanim.rigs.flame import flame_param_names
from emoanim.vocabulary import MOTION_FPS, SAMPLE_RATE, canonical_emotion

SOURCE = "mead-flame"
MEAD_FPS = 30.0
MEAD_EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
MOTION_EXTS = (".npz", ".npy")
_LEVEL_RE = re.compile(r"^level[_-]?(\d+)$", re.IGNORECASE)

# Array names FLAME fitters use for each role, first match wins.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "exp": ("exp", "expression", "expression_params", "expcode", "exp_params", "expr", "expressions"),
    "jaw": ("jaw", "jaw_pose", "jaw_params", "jawpose"),
    "pose": ("pose", "posecode", "pose_params", "poses", "full_pose"),
    "global": ("global_pose", "global_orient", "global", "root_pose", "global_rotation"),
    "neck": ("neck_pose", "neck"),
    "eye": ("eye_pose", "eye_poses", "eyes", "eye"),
    "fps": ("fps", "frame_rate", "framerate"),
}
_ALL_ALIASES = {alias for aliases in KEY_ALIASES.values() for alias in aliases}


# --------------------------------------------------------------------------------------------
# Reading one clip
# --------------------------------------------------------------------------------------------


def _clip_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays of one clip in any of the documented forms (keys as stored)."""
    if path.is_file():
        return read_array_file(path)
    visible = sorted((p for p in path.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    files = [p for p in visible if p.is_file() and p.suffix.lower() == ".npy"]
    if files:  # one .npy per array
        return {p.stem: read_array_file(p)[""] for p in files}
    frames = [p for p in visible if p.is_dir()]
    if not frames:
        raise ClipError("no motion", f"{path} holds no .npy arrays and no per-frame folders")
    keys = sorted({p.stem for p in frames[0].glob("*.npy") if p.stem.lower() in _ALL_ALIASES})  # skip shape, tex, ...
    if not keys:
        raise ClipError("no expression", f"{frames[0]} holds no exp.npy / pose.npy (per-frame EMOCA output expected)")
    stacked = {}
    for key in keys:  # per-frame EMOCA output: one small array per frame
        rows = []
        for frame in frames:
            file = frame / f"{key}.npy"
            if not file.is_file():
                raise ClipError("frame count", f"{frame} lacks {key}.npy (every frame folder needs the same arrays)")
            rows.append(np.asarray(read_array_file(file)[""]).reshape(-1))
        if len({r.shape for r in rows}) != 1:
            raise ClipError("wrong shape", f"{path}: the frames' {key}.npy arrays differ in size")
        stacked[key] = np.stack(rows)
    return stacked


def _pick(arrays: dict[str, np.ndarray], role: str) -> tuple[str, np.ndarray] | None:
    lower = {k.lower(): k for k in arrays}
    for alias in KEY_ALIASES[role]:
        if alias in lower:
            return lower[alias], arrays[lower[alias]]
    return None


def load_flame_clip(path: str | Path, num_expressions: int = 50, source_fps: float = MEAD_FPS) -> Motion:
    """A 'flame' motion (``flame_param_names(num_expressions)``) from one clip's fit (module doc)."""
    path = Path(path)
    names = flame_param_names(num_expressions)
    arrays = _clip_arrays(path)
    where = str(path)
    if set(arrays) == {""}:  # a bare .npy: expression then jaw
        values = numeric_2d(arrays[""], where, "FLAME parameters")
        if values.shape[1] != num_expressions + 3:
            raise ClipError(
                "wrong coefficient count",
                f"{where} has {values.shape[1]} columns; a bare .npy must be [T, {num_expressions} expression + 3 jaw] "
                f"(num_expressions={num_expressions}), or save an .npz with named arrays",
            )
        arrays = {"exp": values[:, :num_expressions], "jaw": values[:, num_expressions:]}

    def get(role: str, width: tuple[int, ...]) -> np.ndarray | None:
        found = _pick(arrays, role)
        if found is None:
            return None
        key, value = found
        value = numeric_2d(value, where, f"'{key}'")
        if value.shape[1] not in width:
            hint = f" (num_expressions={num_expressions}; use the count your fitter writes)" if role == "exp" else ""
            expected = " or ".join(map(str, width))
            raise ClipError("wrong coefficient count",
                            f"{where}: '{key}' has {value.shape[1]} values per frame, expected {expected}{hint}")
        return value

    exp = get("exp", (num_expressions,))
    if exp is None:
        raise ClipError("no expression", f"{where} has no expression array ({', '.join(KEY_ALIASES['exp'][:4])}, ...); "
                                         f"arrays present: {', '.join(sorted(arrays)) or 'none'}")
    pose = get("pose", (6, 15))
    from_pose: dict[str, np.ndarray] = {}
    if pose is not None and pose.shape[1] == 6:  # DECA/EMOCA posecode: global, jaw
        from_pose = {"global": pose[:, 0:3], "jaw": pose[:, 3:6]}
    elif pose is not None:  # full FLAME: global, neck, jaw, left eye, right eye
        from_pose = {"global": pose[:, 0:3], "neck": pose[:, 3:6], "jaw": pose[:, 6:9], "eye": pose[:, 9:15]}
    parts = {}
    for role, width in (("jaw", 3), ("neck", 3), ("global", 3), ("eye", 6)):
        value = get(role, (width,))
        parts[role] = value if value is not None else from_pose.get(role)
    if parts["jaw"] is None:
        raise ClipError("no jaw", f"{where} has no jaw pose ('jaw_pose' [T, 3] or 'pose' [T, 6]/[T, 15]); "
                                  "lips cannot move without it")
    lengths = {len(exp)} | {len(v) for v in parts.values() if v is not None}
    if len(lengths) > 1:
        raise ClipError("frame count", f"{where}: arrays differ in frame count ({sorted(lengths)})")
    frames = len(exp)
    block = [exp] + [parts[r] if parts[r] is not None else np.zeros((frames, w)) for r, w in
                     (("jaw", 3), ("neck", 3), ("global", 3), ("eye", 6))]  # flame_param_names order
    fps = source_fps
    found = _pick(arrays, "fps")
    if found is not None:
        value = np.asarray(found[1])
        if value.size != 1 or value.dtype.kind not in "iuf" or not float(value.reshape(())) > 0:
            raise ClipError("bad fps", f"{where}: '{found[0]}' must be one positive number, got {value!r}")
        fps = float(value.reshape(()))
    return Motion(np.concatenate(block, axis=1), names, fps, "flame")


# --------------------------------------------------------------------------------------------
# Scanning and importing
# --------------------------------------------------------------------------------------------


def _actor_folders(src: Path, motion_dir: str) -> list[Path]:
    if (src / motion_dir).is_dir():  # src is one actor's folder
        return [src]
    return sorted(d for d in src.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / motion_dir).is_dir())


def _find_audio(actor: Path, emotion_dir: str, level_dir: str, stem: str) -> Path | None:
    folder = actor / "audio" / emotion_dir / level_dir
    if not folder.is_dir():
        return None
    found = [p for p in folder.iterdir() if p.stem == stem and p.suffix.lower() in AUDIO_EXTS and p.is_file()]
    return min(found, key=audio_rank) if found else None


def scan_mead(
    src: Path, motion_dir: str = "flame", view: str = "front"
) -> tuple[list[ClipJob], list[Skipped], list[str]]:
    """Clips (motion + audio + labels) of a MEAD-style tree, the items skipped, and notes."""
    actors = _actor_folders(src, motion_dir)
    if not actors:
        raise EmoAnimError(
            f"no actor folders with a '{motion_dir}' subfolder under {src}; expected "
            f"<actor>/audio/<emotion>/level_<k>/<nnn>.m4a and <actor>/{motion_dir}/{view}/<emotion>/level_<k>/<nnn>.npz"
        )
    jobs: list[ClipJob] = []
    skipped: list[Skipped] = []
    other_views: set[str] = set()
    other_view_clips = 0
    paired_audio: set[Path] = set()
    for actor in actors:
        root = actor / motion_dir
        for folder, dirnames, filenames in os.walk(root):  # one pass, not descending into clips
            here = Path(folder)
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            files = [n for n in filenames if not n.startswith(".") and Path(n).suffix.lower() in MOTION_EXTS]
            if not _LEVEL_RE.match(here.name):
                for name in sorted(files):
                    reason = f"{here / name}: not inside <emotion>/level_<k>/ under {root}"
                    skipped.append(Skipped(str(here / name), "bad path", reason))
                continue
            items = [here / n for n in sorted(dirnames + files, key=natural_key)]
            dirnames[:] = []  # clip folders (per-frame output) are read when the clip is loaded
            rel = here.relative_to(root).parts
            view_parts, emotion_dir = rel[:-2], rel[-2] if len(rel) >= 2 else ""
            if view_parts not in ((), (view,)):
                other_views.add("/".join(view_parts))
                other_view_clips += len(items)
                continue
            for item in items:
                try:
                    job = _job(actor, item, emotion_dir, here.name, view_parts)
                except ClipError as exc:
                    skipped.append(Skipped(str(item), exc.kind, str(exc)))
                    continue
                paired_audio.add(job.audio_path)
                jobs.append(job)
    notes = []
    if other_view_clips:
        notes.append(f"{other_view_clips} clip(s) of other camera views ({', '.join(sorted(other_views))}) left out; "
                     f"reading view '{view}'")
    audio_total = sum(1 for a in actors for p in (a / "audio").rglob("*")
                      if p.is_file() and p.suffix.lower() in AUDIO_EXTS and not p.name.startswith("."))
    if audio_total > len(paired_audio):
        unpaired = audio_total - len(paired_audio)
        notes.append(f"{unpaired} audio file(s) have no motion (not reconstructed?) and were left out")
    if not jobs and not skipped:
        raise EmoAnimError(
            f"no FLAME clips found under {src}: expected <actor>/{motion_dir}/{view}/<emotion>/level_<k>/<nnn>.npz"
        )
    return jobs, skipped, notes


def _job(actor: Path, item: Path, emotion_dir: str, level_name: str, view_parts: tuple[str, ...]) -> ClipJob:
    try:
        emotion = canonical_emotion(emotion_dir)
    except EmoAnimError:
        raise ClipError("unknown emotion", f"{item}: emotion folder '{emotion_dir}' is not one of MEAD's "
                                           f"({', '.join(MEAD_EMOTIONS)})") from None
    level = int(_LEVEL_RE.match(level_name).group(1))  # type: ignore[union-attr]
    if level not in (1, 2, 3):
        raise ClipError("bad level", f"{item}: level folder '{level_name}' must be level_1, level_2 or level_3")
    stem = item.stem if item.is_file() else item.name
    audio = _find_audio(actor, emotion_dir, level_name, stem)
    if audio is None:
        raise ClipError("no audio", f"{item}: no audio {actor.name}/audio/{emotion_dir}/{level_name}/{stem}.*")
    extra = {
        "dataset": "mead", "source_file": str(item.relative_to(actor.parent)),
        "audio_file": str(audio.relative_to(actor.parent)), "view": "/".join(view_parts), "mead_emotion": emotion_dir,
    }  # fmt: skip
    job_id = clip_id(actor.name, emotion, f"level{level}", stem)
    return ClipJob(job_id, actor.name, "mead", emotion, level, item, audio, "", extra)


def import_mead_flame(
    src: str | Path,
    out: str | Path,
    num_expressions: int = 50,
    fps: float = MOTION_FPS,
    *,
    source_fps: float = MEAD_FPS,
    motion_dir: str = "flame",
    view: str = "front",
    test_speakers: Iterable[str] | None = None,
    val_speakers: Iterable[str] | None = None,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import FLAME fits of MEAD (layout in the module doc) into the corpus folder ``out``.

    Motion is resampled from its fps (``source_fps`` unless the file says) to ``fps`` and fitted
    to the audio length (16 kHz). Actors are split by ``test_speakers``/``val_speakers`` (e.g.
    ['M003', 'W009']) or a stable hash. Bad clips are skipped and reported (``strict``: raised).
    MEAD's transcripts are not in its folders, so no phones are stored.
    """
    src, out = check_source_folder(src, out, "MEAD")
    names = flame_param_names(num_expressions)  # checks 50 / 100
    check_rates(fps, source_fps)
    jobs, skipped, notes = scan_mead(src, motion_dir, view)
    notes.append("phones: none stored (MEAD's transcripts are not in its folders)")
    meta = CorpusMeta(
        rig="flame", names=list(names), fps=float(fps), sample_rate=SAMPLE_RATE, source=SOURCE,
        created_by={"command": "import_mead_flame", "src": str(src), "source_fps": source_fps, "seed": seed,
                    "motion_dir": motion_dir, "view": view, "num_expressions": num_expressions},
    )  # fmt: skip
    return import_scanned(
        (jobs, skipped, notes), src, meta, lambda path: load_flame_clip(path, num_expressions, source_fps), out,
        tolerance_s=tolerance_s, test_speakers=test_speakers, val_speakers=val_speakers, val_fraction=val_fraction,
        test_fraction=test_fraction, seed=seed, align=False, strict=strict, progress=progress,
    )  # fmt: skip

__all__ = ["KEY_ALIASES", "MEAD_EMOTIONS", "MEAD_FPS", "import_mead_flame", "load_flame_clip", "scan_mead"]
