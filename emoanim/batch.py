"""Many takes: every speech file under a folder animated, resumable, in threads, shardable over machines.

    files  = speech_files(audio_dir)             sorted, searched recursively by suffix (AUDIO_SUFFIXES)
    mine   = files[rank::world]                  a job array's share: the rank and size come from
                                                 --shard I/N, SLURM_ARRAY_TASK_ID/COUNT or torchrun's RANK/WORLD_SIZE
    each   -> OUT/<relative path>.mp4 and .npz   skipped when both exist: every output is written to a
                                                 hidden temporary file and renamed into place when whole,
                                                 so a file that exists is finished, and an interrupted run
                                                 leaves only temporaries, which the rerun removes

One shared ``Animator`` serves ``jobs`` threads (it is made for concurrent requests: the app uses it so);
a file that fails is reported with its one-line reason and the others go on.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from emoanim.audio.io import AUDIO_SUFFIXES
from emoanim.errors import EmoAnimError
from emoanim.pipeline import Animator, Emotion

BatchProgress = Callable[[int, int, str], None]  # (files finished, files in this shard, a line about the last)


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)  # speech files animated in this run
    skipped: list[Path] = field(default_factory=list)  # ... finished by an earlier run
    failed: list[tuple[Path, str]] = field(default_factory=list)  # ... that could not be, with the reason

    def summary(self) -> str:
        lines = [f"{len(self.done)} animated, {len(self.skipped)} already done, {len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def speech_files(folder: str | Path) -> list[Path]:
    """The speech files under ``folder`` (recursively, by suffix), sorted: the same order on every machine."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EmoAnimError(f"speech folder not found: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' (0 <= I < N) -> (I, N)."""
    try:
        rank, world = (int(v) for v in text.split("/"))
    except ValueError:
        raise EmoAnimError(f"--shard takes RANK/COUNT, e.g. 0/4, got '{text}'") from None
    if not 0 <= rank < world:
        raise EmoAnimError(f"--shard {text}: the rank must be from 0 to {world - 1}")
    return rank, world


def shard_from_env(env: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """This process's share when run as a job array: Slurm's array task, else torchrun's rank, else (0, 1)."""
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return parse_shard(f"{int(env['SLURM_ARRAY_TASK_ID']) - first}/{env['SLURM_ARRAY_TASK_COUNT']}")
    if "RANK" in env and "WORLD_SIZE" in env:
        return parse_shard(f"{env['RANK']}/{env['WORLD_SIZE']}")
    return 0, 1


def outputs_for(speech: Path, audio_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """Where a speech file's video and motion go: its path under ``audio_dir``, mirrored under ``out_dir``."""
    stem = out_dir / speech.relative_to(audio_dir).with_suffix("")
    return stem.with_suffix(".mp4"), stem.with_suffix(".npz")


def _remove_temporaries(video: Path) -> None:
    """Hidden temporaries an interrupted run left for this take: VideoWriter's ``.STEM.<8 hex>.partial.mp4``
    and atomic_write's ``.STEM.npz.<random>.tmp`` (exactly these: ``.a.*`` would also catch a file
    ``a.b``'s, which another thread may be writing)."""
    for pattern in (f".{video.stem}.{'[0-9a-f]' * 8}.partial.mp4", f".{video.stem}.npz.*.tmp"):
        for leftover in video.parent.glob(pattern):
            leftover.unlink(missing_ok=True)


def run_batch(animator: Animator, audio_dir: str | Path, out_dir: str | Path, source: Emotion, *, jobs: int = 1,
              shard: tuple[int, int] = (0, 1), progress: BatchProgress | None = None, **generate: object) -> BatchReport:
    """Animate this shard's speech files (module doc). ``generate``: ``Animator.generate``'s settings
    (guidance, steps, seed, avatar, size, ...), the same for every file."""
    audio_dir, out_dir = Path(audio_dir), Path(out_dir)
    if jobs < 1:
        raise EmoAnimError(f"--jobs must be 1 or more, got {jobs}")
    rank, world = shard
    files = speech_files(audio_dir)[rank::world]
    report = BatchReport()

    def one(speech: Path) -> tuple[Path, str | None, str]:
        video, motion = outputs_for(speech, audio_dir, out_dir)
        if video.exists() and motion.exists():
            return speech, None, "skipped"
        video.parent.mkdir(parents=True, exist_ok=True)
        _remove_temporaries(video)
        started = time.perf_counter()
        try:
            animator.generate(speech, source, video, motion_out=motion, **generate)
        except EmoAnimError as exc:
            return speech, str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not stop the others
            return speech, f"internal error ({type(exc).__name__}: {exc})", "failed"
        return speech, None, f"{time.perf_counter() - started:.1f} s"

    with ThreadPoolExecutor(jobs, thread_name_prefix="emoanim-batch") as pool:
        for finished, future in enumerate(as_completed([pool.submit(one, f) for f in files]), 1):
            speech, error, how = future.result()  # (results arrive here, in this thread: no lock needed)
            if error is not None:
                report.failed.append((speech, error))
            elif how == "skipped":
                report.skipped.append(speech)
            else:
                report.done.append(speech)
            if progress is not None:
                progress(finished, len(files), f"{speech.relative_to(audio_dir)}: {error or how}")
    report.failed.sort()
    return report


__all__ = ["BatchReport", "outputs_for", "parse_shard", "run_batch", "shard_from_env", "speech_files"]
