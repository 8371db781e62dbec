"""A catalogue of hostile files for the hostile-input tests: each maker writes one into a folder and
says (part of) the message a user must get. Built by real writers (wave, numpy, zipfile, PIL, ffmpeg
via save_wav), not by mocks; the bombs are small on disk and huge when unpacked.
"""

from __future__ import annotations

import io
import pickle
import struct
import wave
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from emoanim.audio import save_wav
from emoanim.rigs import rig_param_names

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
Maker = Callable[[Path], Path]


def _wav_header(path: Path, frames: int, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels), w.setsampwidth(width), w.setframerate(rate)
        w.writeframes(b"\0" * (frames * channels * width))
    return path.read_bytes()


def truncated_wav(d: Path) -> Path:
    path = d / "truncated.wav"
    data = _wav_header(path, 16000)
    path.write_bytes(data[:60])  # the header promises a second; 16 bytes of it arrive
    return path


def cut_mp3(d: Path) -> Path:
    path = d / "cut.mp3"
    path.write_bytes((ASSETS / "sad.mp3").read_bytes()[:700])  # the first frames only: far too short
    return path


def random_wav(d: Path) -> Path:
    path = d / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    return path


def random_mp3(d: Path) -> Path:
    path = d / "noise.mp3"
    path.write_bytes(b"ID3\x03\x00" + np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    return path


def png_as_wav(d: Path) -> Path:
    from PIL import Image

    path = d / "picture.wav"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def empty_file(d: Path, name: str = "empty.wav") -> Path:
    path = d / name
    path.write_bytes(b"")
    return path


def header_only_wav(d: Path) -> Path:
    path = d / "header.wav"
    _wav_header(path, 0)
    return path


def silent_wav(d: Path) -> Path:
    path = d / "silent.wav"
    save_wav(path, np.zeros(32000, np.float32), 16000)
    return path


def too_long_wav(d: Path) -> Path:
    """An hour of speech by its header (a sparse file: nothing is really stored)."""
    path = d / "hour.wav"
    frames = 3600 * 16000
    header = _wav_header(d / "h.wav", 0)
    (d / "h.wav").unlink()
    header = header[:4] + struct.pack("<I", 36 + 2 * frames) + header[8:40] + struct.pack("<I", 2 * frames)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + 2 * frames)
    return path


def flac_bomb(d: Path) -> Path:
    """Hours of silence that FLAC packs into a few kilobytes: decoding it all would take gigabytes."""
    import soundfile as sf

    path = d / "bomb.flac"
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, format="FLAC") as f:
        block = np.zeros(16000 * 60, np.float32)
        block[::997] = 1e-4  # (not all zero: still a speech-free hiss)
        for _ in range(90):  # 90 minutes
            f.write(block)
    return path


def nan_float_wav(d: Path) -> Path:
    import soundfile as sf

    path = d / "nan.wav"
    data = np.sin(np.arange(32000) / 5).astype(np.float32) * 0.3
    data[1000:2000] = np.nan
    sf.write(str(path), data, 16000, subtype="FLOAT")
    return path


def speech_at(d: Path, rate: int, channels: int, name: str) -> Path:
    """A real speech clip at another rate and channel count (not hostile: it must simply work)."""
    from emoanim.audio import load_audio

    wave_ = load_audio(ASSETS / "happy.ogg", rate)
    path = d / name
    import soundfile as sf

    sf.write(str(path), np.repeat(wave_[:, None], channels, 1) * np.linspace(1, 0.5, channels), rate)
    return path


# ---- motion files ------------------------------------------------------------------------------


def _arkit_npz(path: Path, params: np.ndarray, **extra) -> Path:
    names = rig_param_names("arkit")
    np.savez(path, **{"params": params, "names": np.array(names), "fps": 25.0, "rig": "arkit", **extra})
    return path


def inf_motion(d: Path) -> Path:
    params = np.zeros((50, len(rig_param_names("arkit"))), np.float32)
    params[10, 0] = np.inf
    return _arkit_npz(d / "inf.npz", params)


def pickle_npz(d: Path) -> Path:
    """An .npz whose params are a pickled object array: loading it would run the pickle."""
    names = rig_param_names("arkit")
    params = np.empty(1, object)
    params[0] = {"rm -rf": "/"}
    np.savez(d / "pickle.npz", params=params, names=np.array(names), fps=25.0, rig="arkit")
    return d / "pickle.npz"


def raw_pickle_npz(d: Path) -> Path:
    path = d / "raw.npz"
    path.write_bytes(pickle.dumps({"params": [1, 2, 3]}))
    return path


def zip_bomb_npz(d: Path) -> Path:
    """A zip named .npz with one member that inflates from kilobytes to 4 GB."""
    path = d / "bomb.npz"
    names = rig_param_names("arkit")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key, value in (("names", np.array(names)), ("fps", np.array(25.0)), ("rig", np.array("arkit"))):
            buffer = io.BytesIO()
            np.save(buffer, value)
            z.writestr(f"{key}.npy", buffer.getvalue())
        with z.open("params.npy", "w", force_zip64=True) as member:
            header = b"\x93NUMPY\x01\x00" + b"{'descr': '<f4', 'fortran_order': False, 'shape': (19000000, 55), }".ljust(118) + b"\n"
            member.write(header)
            chunk = b"\0" * (1 << 24)
            for _ in range(256):
                member.write(chunk)
    return path


def absurd_fps_motion(d: Path) -> Path:
    return _arkit_npz(d / "fps.npz", np.zeros((50, len(rig_param_names("arkit"))), np.float32), fps=1e9)


def negative_fps_motion(d: Path) -> Path:
    return _arkit_npz(d / "negfps.npz", np.zeros((50, len(rig_param_names("arkit"))), np.float32), fps=-25.0)


def csv_missing_columns(d: Path) -> Path:
    path = d / "missing.csv"
    path.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,1,0.5\n00:00:00:01.000,1,0.4\n")
    return path


def csv_extra_columns(d: Path) -> Path:
    from emoanim.motion import LLF_HEADER

    path = d / "extra.csv"
    header = ",".join(list(LLF_HEADER) + ["Tail"])
    row = ",".join(["00:00:00:00.000", "61"] + ["0"] * (len(LLF_HEADER) - 2) + ["9"])
    path.write_text(header + "\n" + row + "\n" + row.replace("00.000", "01.000") + "\n")
    return path


def json_garbage(d: Path) -> Path:
    path = d / "garbage.json"
    path.write_text('{"fps": 25, "curves": {"jawOpen": "lots"}')
    return path


def text_as_motion(d: Path) -> Path:
    path = d / "notes.csv"
    path.write_bytes("\u202e\x00\x01 hello".encode("utf-8") * 100)
    return path


# ---- faces -------------------------------------------------------------------------------------


def image_bomb(d: Path) -> Path:
    """A PNG of 40000 x 40000 pixels (1.6 gigapixels) that compresses to a few hundred kilobytes."""
    import zlib

    path = d / "bomb.png"
    width = height = 40000
    raw_row = b"\0" + b"\0" * width  # filter byte + a grey row
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def faceless_photo(d: Path) -> Path:
    from PIL import Image

    path = d / "wall.jpg"
    Image.new("RGB", (320, 240), (120, 140, 160)).save(path)
    return path


def truncated_mp4(d: Path) -> Path:
    path = d / "cut.mp4"
    from emoanim.render.video import VideoWriter

    full = d / "full.mp4"
    with VideoWriter(full, 64, 64, 25) as w:
        for i in range(25):
            w.write(np.full((64, 64, 3), i * 8, np.uint8))
    path.write_bytes(full.read_bytes()[:500])
    full.unlink()
    return path


def text_as_video(d: Path) -> Path:
    path = d / "notes.mp4"
    path.write_text("this is a shopping list, not a video\n" * 50)
    return path
