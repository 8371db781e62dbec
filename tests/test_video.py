"""MP4 writing: codecs, A/V durations, faststart, atomic output, errors."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from emoanim.errors import EmoAnimError
from emoanim.render.video import VideoWriter, frames_for_duration

av = pytest.importorskip("av")  # probe_media/read_frames need PyAV
from tools.probe import probe_media, read_frames  # noqa: E402

FPS = 25
SR = 16000
W, H = 96, 64


def _frame(i: int) -> np.ndarray:
    """Black frame with a white 16x16 square moving right by 1 px a frame."""
    f = np.zeros((H, W, 3), np.uint8)
    f[24:40, i : i + 16] = 255
    return f


def _speech_like(seconds: float) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def _top_level_atoms(path: Path) -> list[str]:
    """Names of the top-level MP4 boxes, in file order."""
    data = path.read_bytes()
    names, pos = [], 0
    while pos + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:  # 64-bit size
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:  # box runs to end of file
            size = len(data) - pos
        names.append(name.decode("latin-1"))
        pos += size
    return names


def test_frames_for_duration() -> None:
    assert frames_for_duration(2.0, 25) == 50
    assert frames_for_duration(2.01, 25) == 51
    assert frames_for_duration(0.1, 30) == 3  # not 4 from float noise
    assert frames_for_duration(0.0, 25) == 0


def test_mp4_with_audio(tmp_path: Path) -> None:
    audio = _speech_like(2.0)
    n = frames_for_duration(audio.size / SR, FPS)
    assert n == 50
    out = tmp_path / "talk.mp4"
    with VideoWriter(out, W, H, fps=FPS, audio=audio, sample_rate=SR) as vw:
        for i in range(n):
            vw.write(_frame(i))

    info = probe_media(out)
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.num_video_frames == 50
    assert info.has_audio and info.audio_codec == "aac"
    one_frame = 1 / FPS
    assert abs(info.video_duration - 2.0) <= one_frame
    assert abs(info.audio_duration - 2.0) <= one_frame
    assert abs(info.video_duration - info.audio_duration) <= one_frame

    atoms = _top_level_atoms(out)
    assert atoms.index("moov") < atoms.index("mdat"), atoms  # +faststart

    # Pixels survive encoding: the square is where we drew it.
    first, last = read_frames(out, [0, 49])
    assert first[32, 8].min() > 200 and first[32, 40].max() < 50
    assert last[32, 56].min() > 200 and last[32, 30].max() < 50

    # No temp files left next to the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]


def test_mp4_without_audio(tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    with VideoWriter(out, W, H, fps=30) as vw:
        for i in range(12):
            vw.write(_frame(i))
    info = probe_media(out)
    assert not info.has_audio
    assert info.num_video_frames == 12
    assert info.fps == pytest.approx(30)


def test_overwrites_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    with VideoWriter(out, W, H, fps=FPS) as vw:
        vw.write(_frame(0))
    assert probe_media(out).num_video_frames == 1


def test_exception_inside_with_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(out, W, H, fps=FPS, audio=_speech_like(1.0), sample_rate=SR) as vw:
            for i in range(10):
                vw.write(_frame(i))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous video")
    with pytest.raises(RuntimeError):
        with VideoWriter(out, W, H, fps=FPS) as vw:
            vw.write(_frame(0))
            raise RuntimeError("boom")
    assert out.read_bytes() == b"previous video"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


def test_ffmpeg_failure_reports_stderr_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bad.mp4"
    with pytest.raises(EmoAnimError, match="ffmpeg") as err:
        with VideoWriter(out, W, H, fps=FPS, preset="no-such-preset") as vw:
            for i in range(5):
                vw.write(_frame(i))
    assert "preset" in str(err.value).lower()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing_dir", "parent_is_file"])
def test_unwritable_output_path(tmp_path: Path, where: str) -> None:
    # Tests may run as root, which ignores chmod; use paths nobody can write.
    if where == "missing_dir":
        out = tmp_path / "no" / "such" / "dir" / "out.mp4"
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "out.mp4"
    with pytest.raises(EmoAnimError, match="[Oo]utput folder"):
        VideoWriter(out, W, H, fps=FPS)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["afile"] if where == "parent_is_file" else [])


def test_odd_size_rejected(tmp_path: Path) -> None:
    with pytest.raises(EmoAnimError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 63, 64)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((H, W + 2, 3), np.uint8),
        np.zeros((H, W), np.uint8),
        np.zeros((H, W, 4), np.uint8),
        np.zeros((H, W, 3), np.float32),
    ],
    ids=["wrong_width", "gray", "rgba", "float"],
)
def test_wrong_frame_rejected(tmp_path: Path, frame: np.ndarray) -> None:
    out = tmp_path / "bad_frame.mp4"
    with pytest.raises(EmoAnimError, match="frame"):
        with VideoWriter(out, W, H, fps=FPS) as vw:
            vw.write(_frame(0))
            vw.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EmoAnimError, match="No frames"):
        with VideoWriter(tmp_path / "empty.mp4", W, H, fps=FPS):
            pass
    assert list(tmp_path.iterdir()) == []


def test_memory_stays_flat(tmp_path: Path) -> None:
    # Frames are streamed into ffmpeg's stdin as they arrive; nothing keeps a
    # whole-video buffer, so peak Python memory is about one frame however
    # many frames we write (here 150 x 192 KiB = 28 MiB of pixels in total).
    w, h = 256, 256
    frame = np.zeros((h, w, 3), np.uint8)
    tracemalloc.start()
    try:
        with VideoWriter(tmp_path / "long.mp4", w, h, fps=FPS) as vw:
            for i in range(150):
                frame[:] = i
                vw.write(frame.copy())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * frame.nbytes
