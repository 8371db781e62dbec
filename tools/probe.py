"""Inspect rendered media with PyAV (``pip install av``).

Used by tests and output checks: codecs, sizes, durations and frame counts
come from the container (what players see), frames are decoded to RGB.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emoanim.errors import EmoAnimError

__all__ = ["MediaInfo", "probe_media", "read_frames"]


@dataclass(frozen=True)
class MediaInfo:
    """What is inside a media file. Video/audio fields are None when that stream is absent."""

    path: str
    container_duration: float | None
    has_video: bool
    video_codec: str | None
    pix_fmt: str | None
    width: int | None
    height: int | None
    fps: float | None
    num_video_frames: int | None
    video_duration: float | None
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    audio_duration: float | None


def _av() -> Any:
    # Imported lazily so the rest of emoanim works without PyAV.
    try:
        import av
    except ImportError as exc:
        raise EmoAnimError("PyAV is needed to inspect videos: run `pip install av`.") from exc
    return av


def _open(path: str | os.PathLike[str]) -> Any:
    av = _av()
    p = Path(path)
    if not p.is_file():
        raise EmoAnimError(f"Media file not found: {p}. Check the path.")
    try:
        return av.open(str(p))
    except av.error.FFmpegError as exc:
        raise EmoAnimError(f"Could not read media file {p.name} ({exc}): is it a valid video/audio file?") from exc


def _stream_seconds(stream: Any) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Codecs, pixel format, size, fps, frame count and durations of ``path``."""
    with _open(path) as container:
        container_duration = (
            container.duration / 1_000_000 if container.duration is not None else None  # AV_TIME_BASE
        )
        v = container.streams.video[0] if container.streams.video else None
        a = container.streams.audio[0] if container.streams.audio else None

        num_frames: int | None = None
        if v is not None:
            # Count packets instead of trusting the header's frame count (absent
            # in some containers); demuxing without decoding is cheap.
            num_frames = sum(1 for pkt in container.demux(v) if pkt.size)

        def video(attr: str) -> Any:
            return getattr(v, attr) if v is not None else None

        rate = v.average_rate if v is not None else None
        return MediaInfo(
            path=str(path),
            container_duration=container_duration,
            has_video=v is not None,
            video_codec=v.codec_context.name if v is not None else None,
            pix_fmt=v.codec_context.pix_fmt if v is not None else None,
            width=video("width"),
            height=video("height"),
            fps=float(rate) if rate else None,
            num_video_frames=num_frames,
            video_duration=(_stream_seconds(v) or container_duration) if v is not None else None,
            has_audio=a is not None,
            audio_codec=a.codec_context.name if a is not None else None,
            audio_sample_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            audio_duration=(_stream_seconds(a) or container_duration) if a is not None else None,
        )


def read_frames(
    path: str | os.PathLike[str], indices: Iterable[int] | None = None
) -> Iterator[np.ndarray]:
    """Yield decoded video frames as RGB uint8 [H, W, 3], all or only ``indices`` (in order)."""
    wanted = None if indices is None else sorted(set(int(i) for i in indices))
    last = wanted[-1] if wanted else None
    if wanted is not None and not wanted:
        return
    with _open(path) as container:
        if not container.streams.video:
            raise EmoAnimError(f"{Path(path).name} has no video stream.")
        keep = None if wanted is None else set(wanted)
        for i, frame in enumerate(container.decode(video=0)):
            if keep is None or i in keep:
                yield frame.to_ndarray(format="rgb24")
            if last is not None and i >= last:
                break  # don't decode the rest of the file
