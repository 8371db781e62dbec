"""The command line: a real render end to end, and one-line errors that leave nothing behind."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from emoanim.audio import save_wav
from emoanim.cli import main
from emoanim.motion import Motion
from tools.probe import probe_media
from emoanim.rigs import rig_param_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def motion_file(tmp_path):
    names = rig_param_names("arkit")
    params = np.zeros((30, len(names)), np.float32)
    params[:, names.index("jawOpen")] = np.linspace(0, 1, 30)
    return Motion(params, names, 25.0, "arkit").save(tmp_path / "m.npz")


@pytest.fixture()
def speech(tmp_path):
    sr = 44100
    t = np.arange(int(sr * 1.0)) / sr
    path = tmp_path / "a.wav"
    save_wav(path, (0.2 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), sr)
    return path


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_render_command_end_to_end(tmp_path, motion_file, speech):
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "emoanim", "render", "--motion", motion_file, "--audio", speech, "--out", out, "--size", "96"]
    done = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = probe_media(out)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert abs(info.video_duration - 1.0) <= 0.04 and info.num_video_frames == 25


def test_stills_and_avatars(tmp_path, capsys):
    code, err = run_cli(capsys, "stills", "--out", tmp_path / "s.png", "--size", "64")
    assert code == 0, err
    from PIL import Image

    assert Image.open(tmp_path / "s.png").size == (64 * 5, 64)
    assert main(["avatars"]) == 0 and "alex" in capsys.readouterr().out


def corrupt(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    return path


def nan_motion(path: Path) -> Path:
    names = rig_param_names("arkit")
    params = np.zeros((5, len(names)), np.float32)
    params[2, 3] = np.nan
    np.savez(path, params=params, names=np.array(names), fps=25.0, rig="arkit")
    return path


def wrong_dims(path: Path) -> Path:
    np.savez(path, params=np.zeros((5, 4, 2), np.float32), names=np.array(["a", "b", "c", "d"]), fps=25.0, rig="arkit")
    return path


def unknown_names(path: Path) -> Path:
    names = list(rig_param_names("arkit"))
    names[0] = "browDownLeftt"
    np.savez(path, params=np.zeros((5, len(names)), np.float32), names=np.array(names), fps=25.0, rig="arkit")
    return path


def empty_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    return path


@pytest.mark.parametrize(
    "make_motion, extra, message",
    [
        (lambda d: d / "missing.npz", [], "not found"),
        (lambda d: corrupt(d / "bad.npz"), [], ""),
        (lambda d: nan_motion(d / "nan.npz"), [], "frame 2"),
        (lambda d: wrong_dims(d / "dims.npz"), [], "2-D"),
        (lambda d: unknown_names(d / "names.npz"), [], "browDownLeftt"),
        (None, ["--rig", "smpl"], "unknown rig"),
        (None, ["--avatar", "nobody"], "unknown avatar"),
        (None, ["--audio", "EMPTY"], "audio"),
        (None, ["--audio", "MISSING"], "not found"),
        (None, ["--size", "101"], "even"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, capsys, motion_file, make_motion, extra, message):
    motion = make_motion(tmp_path) if make_motion else motion_file
    extra = [str(empty_wav(tmp_path / "e.wav")) if a == "EMPTY" else str(tmp_path / "nope.wav") if a == "MISSING" else a for a in extra]
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "render", "--motion", motion, "--out", out, "--size", "64", *extra)
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.lower() in err.lower()
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".mp4" or "partial" in p.name]


def test_unwritable_output(tmp_path, capsys, motion_file):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_cli(capsys, "render", "--motion", motion_file, "--out", blocker / "out.mp4", "--size", "64")
    assert code != 0 and err.startswith("error: ") and "folder" in err
