"""Stream RGB frames (plus optional audio) into an H.264/AAC MP4 via ffmpeg.

Frames go straight down ffmpeg's stdin as raw rgb24, so memory stays flat no
matter how long the video is. The MP4 is written to a hidden temp file next to
the destination and renamed into place only when ffmpeg succeeds, so callers
never see a half-written video.
"""

from __future__ import annotations

import math
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from emoanim.audio.io import ffmpeg_exe, save_wav, summarize_ffmpeg_stderr
from emoanim.errors import EmoAnimError, NoSpaceError
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import MUX_SAMPLE_RATE

__all__ = ["VideoWriter", "check_frame_size", "check_output_path", "frames_for_duration"]

FRAME_SIZE_RANGE = (16, 2048)  # pixels per side accepted for rendered frames and videos


def check_frame_size(width: int, height: int) -> tuple[int, int]:
    """The one check of a frame size (renderer, video writer, pipeline, CLI): whole, even (H.264's
    yuv420p subsamples chroma 2x2, so libx264 rejects odd sizes) and within ``FRAME_SIZE_RANGE``."""
    low, high = FRAME_SIZE_RANGE
    for value in (width, height):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise EmoAnimError(f"the video size must be a whole number of pixels, got {value!r}")
    if any(v % 2 or not low <= v <= high for v in (width, height)):
        raise EmoAnimError(f"the video width and height must be even numbers of pixels from {low} to {high} "
                           f"(H.264 needs even sizes), got {width}x{height}")
    return int(width), int(height)


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """The one check of an output file's place (video writer, pipeline): not a folder, in a writable one."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise EmoAnimError(f"Output path is a directory: {path}. Give a file name such as out.mp4.")
    if not path.parent.is_dir():
        raise EmoAnimError(f"Output folder does not exist: {path.parent}. Create it or choose another path.")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise EmoAnimError(f"Output folder is not writable: {path.parent}. Choose another output path.")
    return path


def _widen_pipe(pipe: IO[bytes] | None, frame_bytes: int) -> None:
    """Let the pipe into ffmpeg hold a frame or more (Linux: 64 KiB by default, up to
    /proc/sys/fs/pipe-max-size), so handing over a frame returns at once while the encoder is busy
    with the last one: rendering and encoding overlap instead of taking turns."""
    try:
        import fcntl  # lazy: POSIX only
    except ImportError:
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is None or set_size is None:
        return
    for size in (2 * frame_bytes, frame_bytes, 1 << 20):
        try:
            fcntl.fcntl(pipe.fileno(), set_size, size)
            return
        except OSError:  # above this user's limit: try smaller
            continue


def _stderr_tail(f: IO[bytes] | None) -> str:
    if f is None:
        return ""
    f.seek(0)
    return summarize_ffmpeg_stderr(f.read())


class VideoWriter:
    """Context manager that encodes RGB uint8 frames [H, W, 3] to an MP4.

    >>> with VideoWriter("out.mp4", 512, 512, fps=25, audio=wav, sample_rate=16000) as vw:
    ...     for frame in frames:       # frames_for_duration(len(wav) / 16000, 25) of them
    ...         vw.write(frame)

    With audio, the output is cut to the audio's duration (``-t``), so supply
    ``frames_for_duration(audio_seconds, fps)`` frames and video and audio end
    within one frame of each other.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float = 25.0,
        audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        *,
        crf: int = 20,
        preset: str = "veryfast",
        audio_bitrate: str = "128k",
        audio_file: str | os.PathLike[str] | None = None,
        audio_seconds: float | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.width, self.height = check_frame_size(width, height)
        self.fps = float(fps)
        self.crf = int(crf)
        self.preset = preset
        self.audio_bitrate = audio_bitrate
        self.frames_written = 0

        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise EmoAnimError(f"Frame rate must be a positive number, got {fps}.")

        self._audio: np.ndarray | None = None
        self._sample_rate = 0
        if audio is not None:
            a = np.asarray(audio, dtype=np.float32)
            if a.ndim != 1 or a.size == 0:
                raise EmoAnimError(
                    f"Audio for the video must be a non-empty mono array [N], got shape {a.shape}."
                )
            if not np.all(np.isfinite(a)):
                raise EmoAnimError("Audio for the video contains NaN or infinite samples.")
            if sample_rate is None or int(sample_rate) <= 0:
                raise EmoAnimError("Give the audio's sample_rate (a positive integer) with audio=.")
            self._audio = a
            self._sample_rate = int(sample_rate)

        # Or the sound straight from a file ffmpeg reads itself (a long clip is then never held in
        # memory at 48 kHz), cut to ``audio_seconds``: the length the motion was made for.
        self._audio_file = None if audio_file is None else Path(audio_file)
        if self._audio_file is not None:
            if audio is not None:
                raise EmoAnimError("give the video's sound as samples (audio=) or as a file (audio_file=), not both")
            if audio_seconds is None or not (audio_seconds > 0 and math.isfinite(audio_seconds)):
                raise EmoAnimError(f"audio_file= needs the sound's length: audio_seconds > 0, got {audio_seconds}")
            self._audio_seconds = float(audio_seconds)

        check_output_path(self.path)  # fail before any encoding work if the video can't be saved
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._tmp_video: Path | None = None
        self._tmp_wav: Path | None = None

    @property
    def audio_duration(self) -> float | None:
        """Seconds of audio given to the writer (None without audio)."""
        if self._audio_file is not None:
            return self._audio_seconds
        if self._audio is None:
            return None
        return self._audio.size / self._sample_rate

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> VideoWriter:
        """Create the temp output and start ffmpeg (called by ``__enter__``)."""
        if self._proc is not None:
            raise RuntimeError("VideoWriter is already open")
        try:
            self._start()
        except BaseException:
            self._cleanup()
            raise
        return self

    def _start(self) -> None:
        # Hidden temp name in the destination folder: the final os.replace is
        # then an atomic rename on the same filesystem.
        tmp = self.path.with_name(f".{self.path.stem}.{secrets.token_hex(4)}.partial.mp4")
        try:
            # Exclusive create proves the folder is writable (os.access can
            # lie, e.g. for root on a read-only mount) and honours the umask.
            with open(tmp, "xb"):
                pass
        except OSError as exc:
            raise EmoAnimError(
                f"Cannot write to {self.path.parent} ({exc.strerror}): choose another output path."
            ) from exc
        self._tmp_video = tmp

        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{self.width}x{self.height}", "-framerate", repr(self.fps),
            "-i", "pipe:0",
        ]
        if self._audio_file is not None:
            cmd += ["-i", "file:" + str(self._audio_file)]
        elif self._audio is not None:
            fd, wav_name = tempfile.mkstemp(prefix="emoanim_audio_", suffix=".wav")
            os.close(fd)
            self._tmp_wav = Path(wav_name)
            save_wav(self._tmp_wav, self._audio, self._sample_rate)
            cmd += ["-i", "file:" + str(self._tmp_wav)]
        cmd += [
            "-map", "0:v:0",
            "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p",  # the only pixel format every player decodes
        ]
        if self.audio_duration is not None:
            cmd += [
                "-map", "1:a:0",
                # 48 kHz AAC plays everywhere; 16 kHz AAC is poorly supported.
                "-c:a", "aac", "-b:a", self.audio_bitrate, "-ar", str(MUX_SAMPLE_RATE), "-ac", "1",
                # The audio sets the length; frames past it (< 1 frame) are cut.
                "-t", f"{self.audio_duration:.6f}",
            ]
        cmd += [
            "-movflags", "+faststart",  # moov atom first: playback starts before download ends
            "-f", "mp4", "file:" + str(tmp),
        ]
        # stderr goes to a temp file, not a pipe: a pipe nobody reads can fill
        # up and block ffmpeg while we block writing frames (deadlock).
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
            )
        except OSError as exc:
            raise EmoAnimError(f"Could not start ffmpeg ({exc}): reinstall imageio-ffmpeg.") from exc
        _widen_pipe(self._proc.stdin, 3 * self.width * self.height)

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB uint8 frame of shape [height, width, 3]."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("VideoWriter is not open: use it as `with VideoWriter(...) as vw:`")
        expected = (self.height, self.width, 3)
        if not isinstance(frame, np.ndarray) or frame.shape != expected:
            got = getattr(frame, "shape", type(frame).__name__)
            raise EmoAnimError(f"Video frame has shape {got}, expected {expected} (height, width, RGB).")
        if frame.dtype != np.uint8:
            raise EmoAnimError(f"Video frame must be uint8 RGB, got dtype {frame.dtype}.")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError) as exc:
            # ffmpeg died (bad option, disk full...): report its own reason.
            self._proc.wait()
            raise self._failure(f"ffmpeg stopped while encoding {self.path.name}: "
                                f"{_stderr_tail(self._stderr) or exc}") from exc
        self.frames_written += 1

    def close(self) -> None:
        """Finish encoding and move the video into place (called by ``__exit__``)."""
        if self._proc is None:
            return
        try:
            proc = self._proc
            assert proc.stdin is not None
            try:
                proc.stdin.close()  # EOF: ffmpeg flushes the encoder and writes moov
            except BrokenPipeError:
                pass
            rc = proc.wait()
            if self.frames_written == 0:
                raise EmoAnimError(f"No frames were written to {self.path.name}: nothing to encode.")
            if rc != 0:
                raise self._failure(f"ffmpeg failed to write {self.path.name} (exit {rc}): "
                                    f"{_stderr_tail(self._stderr)}")
            assert self._tmp_video is not None
            os.replace(self._tmp_video, self.path)
            self._tmp_video = None
        finally:
            self._cleanup()

    def _failure(self, message: str) -> EmoAnimError:
        """ffmpeg's reason as an error; a full disk gets its own (the fix is the user's, not the file's)."""
        if "No space left on device" in message or "Disk quota exceeded" in message:
            return NoSpaceError(f"cannot write {self.path}: the disk is full; free some space or choose "
                                "another folder")
        return EmoAnimError(message)

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial output."""
        self._cleanup()

    def _cleanup(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            proc.wait()
        for tmp in (self._tmp_video, self._tmp_wav):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self._tmp_video = self._tmp_wav = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> VideoWriter:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()  # no partial video on error or Ctrl-C
