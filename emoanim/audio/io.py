"""Audio input/output: decode any common format to float32 mono via ffmpeg.

We shell out to the ffmpeg binary bundled with ``imageio-ffmpeg`` rather than
the system one, so decoding works on hosts without apt (e.g. Hugging Face
Spaces). One code path handles wav/mp3/flac/ogg/m4a/webm at any rate and
channel count: ffmpeg resamples and mixes down, we only parse raw float32.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError

__all__ = [
    "ACCEPTED_FORMATS",
    "AUDIO_SUFFIXES",
    "audio_duration",
    "ffmpeg_exe",
    "is_silent",
    "load_audio",
    "save_wav",
    "summarize_ffmpeg_stderr",
]

ACCEPTED_FORMATS = "wav, mp3, flac, ogg, m4a/aac, webm/opus"
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".webm", ".opus")  # what folders are searched for

# Container headers (and resampling) can be off by a few ms; don't reject a
# 30.00 s clip against a 30 s limit because it decodes to 30.01 s.
_LENGTH_TOLERANCE_S = 0.05

_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - dependency is required
        raise EmoAnimError(
            "imageio-ffmpeg is not installed: run `pip install imageio-ffmpeg`."
        ) from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover - broken install
        raise EmoAnimError(
            f"Could not find an ffmpeg binary ({exc}): reinstall imageio-ffmpeg."
        ) from exc


def _ffmpeg_input(path: Path) -> str:
    # The "file:" prefix stops ffmpeg from reading names such as "a:b.wav"
    # or "concat:..." as protocols.
    return "file:" + str(path.resolve())


def _check_input_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise EmoAnimError(f"Audio file not found: {p}. Check the path.")
    if not p.is_file():
        raise EmoAnimError(f"Audio path is not a file: {p}. Give the path of an audio file.")
    if p.stat().st_size == 0:
        raise EmoAnimError(f"Audio file is empty (0 bytes): {p}. Record or export it again.")
    return p


def _header_duration(path: Path) -> float | None:
    """Duration from the container header, without decoding (None if unknown).

    ``ffmpeg -i FILE`` with no output prints stream info and exits non-zero;
    we only want the "Duration:" line.
    """
    try:
        proc = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _ffmpeg_input(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return None
    match = _DURATION_RE.search(proc.stderr.decode("utf-8", "replace"))
    if match is None:  # "Duration: N/A" or not a media file
        return None
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _too_long_error(path: Path, seconds: float, max_seconds: float, *, at_least: bool) -> EmoAnimError:
    length = f"longer than {seconds:.1f} s" if at_least else f"{seconds:.1f} s long"
    return EmoAnimError(
        f"Audio {path.name} is {length}, but the limit is {max_seconds:g} s: "
        f"trim it to {max_seconds:g} s or less (e.g. `ffmpeg -i IN -t {max_seconds:g} OUT.wav`)."
    )


_FFMPEG_PREFIX_RE = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def summarize_ffmpeg_stderr(stderr: bytes | str, max_chars: int = 500) -> str:
    """One line from ffmpeg's stderr: the first errors (usually the cause) and the last one."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines: list[str] = []
    for raw in text.splitlines():
        # Drop "[libx264 @ 0x55...]" context prefixes; they are noise to users.
        line = _FFMPEG_PREFIX_RE.sub("", raw).strip()
        if line and line not in lines:
            lines.append(line)
    picked = lines if len(lines) <= 3 else [*lines[:2], "...", lines[-1]]
    summary = " | ".join(picked)
    return summary if len(summary) <= max_chars else summary[: max_chars - 3] + "..."


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    max_seconds: float | None = None,
) -> np.ndarray:
    """Decode an audio file to float32 mono samples in [-1, 1] at ``sample_rate``.

    Accepts any format ffmpeg can decode (and the audio track of video files).
    Multi-channel audio is mixed down by ffmpeg (``-ac 1`` averages channels).
    Raises EmoAnimError for missing/corrupt/empty/too-long/NaN audio.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    p = _check_input_file(path)

    # Cheap reject from the header before spending time decoding a long file.
    header = None
    if max_seconds is not None:
        header = _header_duration(p)
        if header is not None and header > max_seconds + _LENGTH_TOLERANCE_S:
            raise _too_long_error(p, header, max_seconds, at_least=False)

    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error",
        "-i", _ffmpeg_input(p),
        "-map", "0:a:0",  # first audio stream only; fails clearly if there is none
        "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(int(sample_rate)),
    ]
    if max_seconds is not None:
        # Bound memory even when the header has no duration: stop decoding
        # one second past the limit; that is enough to know it is too long.
        cmd += ["-t", f"{max_seconds + 1.0:.3f}"]
    cmd += ["-f", "f32le", "-"]

    # The samples are read straight into one array sized from the header (doubled if it runs out), so
    # a long clip is held once while it decodes; stderr goes to a temporary file, so neither pipe can
    # fill and block.
    samples = np.empty(int((header or 10.0) * sample_rate * 1.01) + sample_rate, dtype="<f4")
    filled = 0  # bytes
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:  # pragma: no cover - binary not executable
            raise EmoAnimError(f"Could not run ffmpeg ({exc}): reinstall imageio-ffmpeg.") from exc
        with proc:
            assert proc.stdout is not None
            while True:
                if filled == samples.nbytes:
                    samples = np.concatenate([samples, np.empty_like(samples)])
                read = proc.stdout.readinto(memoryview(samples.view(np.uint8))[filled:])
                if not read:
                    break
                filled += read
        errors.seek(0)
        stderr = errors.read()
    if proc.returncode != 0:
        if b"matches no streams" in stderr:
            raise EmoAnimError(
                f"{p.name} has no audio track: give an audio file ({ACCEPTED_FORMATS})."
            )
        reason = summarize_ffmpeg_stderr(stderr)
        raise EmoAnimError(
            f"Could not decode audio {p.name}: unreadable or corrupt ({reason}). "
            f"Use a valid audio file: {ACCEPTED_FORMATS}."
        )

    # f32le from ffmpeg is little-endian float32; '<f4' keeps it right on any host.
    audio = samples[: filled // 4].astype(np.float32, copy=False)
    if audio.size == 0:
        raise EmoAnimError(
            f"Audio {p.name} contains no samples (zero length): record or export it again "
            f"({ACCEPTED_FORMATS})."
        )
    if not all_finite(audio):
        raise EmoAnimError(
            f"Audio {p.name} contains NaN or infinite samples: re-export it as normal PCM audio."
        )
    if max_seconds is not None:
        seconds = audio.size / sample_rate
        if seconds > max_seconds + _LENGTH_TOLERANCE_S:
            # If decoding hit the -t cap, we only know a lower bound.
            capped = seconds >= max_seconds + 1.0 - 1.0 / sample_rate
            raise _too_long_error(p, seconds if not capped else max_seconds + 1.0, max_seconds,
                                  at_least=capped)
    # Float formats may exceed full scale; the model expects [-1, 1]. (In place: no third copy of a long clip.)
    return np.clip(audio, -1.0, 1.0, out=audio)


def audio_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds: from the header if present, else by decoding."""
    p = _check_input_file(path)
    header = _header_duration(p)
    if header is not None:
        return header
    # Some files (streamed webm, headerless wav) have no duration: decode at a
    # low rate to count samples.
    rate = 8000
    return load_audio(p, sample_rate=rate).size / rate


def all_finite(audio: np.ndarray) -> bool:
    """No NaN or infinite sample, checked a million samples at a time (no mask the size of a long clip)."""
    x = np.asarray(audio).reshape(-1)
    block = 1 << 20
    return all(bool(np.isfinite(x[i : i + block]).all()) for i in range(0, x.size, block))


def is_silent(audio: np.ndarray, threshold_db: float = -50.0) -> bool:
    """True if the RMS level of ``audio`` is below ``threshold_db`` dBFS (or it is empty)."""
    x = np.asarray(audio).reshape(-1)
    if x.size == 0:
        return True
    # Summed in float64 a million samples at a time: no float64 copy (nor its square) of a long clip.
    block = 1 << 20
    energy = sum(float(np.dot(c, c)) for c in (x[i : i + block].astype(np.float64) for i in range(0, x.size, block)))
    rms = math.sqrt(energy / x.size)
    if rms <= 0.0:
        return True
    return 20.0 * math.log10(rms) < threshold_db


def save_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio ([N] mono or [N, C]) as 16-bit PCM WAV (stdlib ``wave``, no libsndfile)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"audio must have shape [N] or [N, C], got {np.shape(audio)}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
