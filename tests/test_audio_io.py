"""Decoding of common audio formats and the user-facing errors of load_audio."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from emoanim.audio import audio_duration, ffmpeg_exe, is_silent, load_audio, save_wav
from emoanim.audio import io as audio_io
from emoanim.errors import EmoAnimError


def _tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s, 44.1 kHz, stereo 16-bit WAV: the source for the other formats."""
    path = tmp_path_factory.mktemp("audio") / "stereo44k.wav"
    tone = _tone(1.5, 44100)
    save_wav(path, np.stack([tone, 0.5 * tone], axis=1), 44100)
    return path


@pytest.mark.parametrize(
    "ext, codec_args",
    [
        ("wav", []),
        ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
        ("flac", ["-c:a", "flac"]),
        ("ogg", ["-c:a", "libvorbis"]),
        ("m4a", ["-c:a", "aac", "-b:a", "128k"]),
        ("webm", ["-c:a", "libopus", "-ar", "48000"]),
    ],
)
def test_decodes_common_formats_to_16k_mono(
    stereo_wav: Path, tmp_path: Path, ext: str, codec_args: list[str]
) -> None:
    path = stereo_wav
    if ext != "wav":
        path = tmp_path / f"clip.{ext}"
        _ffmpeg("-i", str(stereo_wav), *codec_args, str(path))
    audio = load_audio(path, sample_rate=16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 1.5 * 16000) <= 0.01 * 1.5 * 16000
    assert np.abs(audio).max() <= 1.0
    assert not is_silent(audio)
    assert abs(audio_duration(path) - 1.5) < 0.05


def test_stereo_with_one_silent_channel_mixes_down(tmp_path: Path) -> None:
    tone = _tone(1.0, 22050, amp=0.5)
    path = tmp_path / "left_only.wav"
    save_wav(path, np.stack([tone, np.zeros_like(tone)], axis=1), 22050)
    audio = load_audio(path, sample_rate=16000)
    assert audio.size == 16000
    assert not is_silent(audio)
    # ffmpeg averages the channels: the tone survives at about half amplitude.
    peak = float(np.abs(audio).max())
    assert 0.2 < peak < 0.55


def test_other_sample_rates(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    save_wav(path, _tone(2.0, 8000), 8000)
    assert load_audio(path, sample_rate=24000).size == 48000


def test_audio_track_of_a_video(tmp_path: Path) -> None:
    path = tmp_path / "talk.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x48", "-f", "lavfi", "-i", "sine=d=1",
            "-shortest", str(path))
    assert abs(load_audio(path).size - 16000) <= 160


def test_video_without_audio_track(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x48", str(path))
    with pytest.raises(EmoAnimError, match="no audio track"):
        load_audio(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EmoAnimError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp3"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(EmoAnimError, match="Could not decode.*wav, mp3"):
        load_audio(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmoAnimError, match="empty"):
        load_audio(path)


def test_zero_length_wav(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    save_wav(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(EmoAnimError, match="zero length"):
        load_audio(path)


def test_longer_than_max_seconds(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    save_wav(path, _tone(3.0, 16000), 16000)
    with pytest.raises(EmoAnimError, match=r"3\.0 s long.*limit is 2 s"):
        load_audio(path, max_seconds=2)
    # At the limit is fine.
    assert load_audio(path, max_seconds=3).size == 48000


def test_longer_than_max_seconds_without_header_duration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Streams with no duration in the header are caught while decoding, and
    # decoding stops at max_seconds + 1 s (bounded memory).
    monkeypatch.setattr(audio_io, "_header_duration", lambda path: None)
    path = tmp_path / "long.wav"
    save_wav(path, _tone(10.0, 16000), 16000)
    with pytest.raises(EmoAnimError, match=r"longer than 3\.0 s.*limit is 2 s"):
        load_audio(path, max_seconds=2)


def test_nan_samples(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    audio = _tone(1.0, 16000)
    audio[100:200] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, audio, 16000, subtype="FLOAT")
    with pytest.raises(EmoAnimError, match="NaN"):
        load_audio(path)


def test_is_silent() -> None:
    assert is_silent(np.zeros(1000, np.float32))
    assert is_silent(np.zeros(0, np.float32))
    assert is_silent(np.full(1000, 1e-4, np.float32))  # -80 dBFS
    assert not is_silent(_tone(0.1, 16000, amp=0.1))


def test_save_wav_roundtrip(tmp_path: Path) -> None:
    tone = _tone(0.5, 16000)
    path = tmp_path / "out.wav"
    save_wav(path, tone, 16000)
    back = load_audio(path, sample_rate=16000)
    assert back.shape == tone.shape
    assert np.abs(back - tone).max() < 1e-3


def test_speech_is_clipped_in_place_only_when_it_is_ours() -> None:
    from emoanim.pipeline import check_speech

    loud = (np.sin(np.arange(16000) / 5.0) * 1.5).astype(np.float32)  # peaks at 1.5
    theirs = loud.copy()
    out = check_speech(theirs, "the speech", 60.0)
    assert out.max() <= 1.0 and theirs.max() > 1.4  # a caller's array is left as it was
    ours = loud.copy()
    out = check_speech(ours, "the speech", 60.0, own=True)
    assert out is ours and ours.max() <= 1.0  # decoded from a file: no second copy of a long clip
    bad = loud.copy()
    bad[12345] = np.nan
    with pytest.raises(EmoAnimError, match="NaN"):
        check_speech(bad, "the speech", 60.0)
