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


def test_help_loads_no_heavy_library():
    code = ("import sys\nfrom emoanim.cli import build_parser\nbuild_parser().format_help()\n"
            "print(sorted(m for m in ('torch', 'pyrender', 'OpenGL', 'gradio', 'matplotlib', 'PIL', 'transformers')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def legacy_copy(folder: Path, to: Path, renames: dict[str, str]) -> Path:
    """A copy of checkpoint ``folder`` as EmoAnim 0.1 saved it: training results in config.json under
    ``metrics`` and the weights under their old names (``renames``: old prefix -> new prefix)."""
    import json

    from safetensors.numpy import load_file, save_file

    to.mkdir(parents=True)
    config = json.loads((folder / "config.json").read_text())
    config["metrics"] = {"test": {"accuracy": 0.5}, "command": "python -m emoanim train ..."}
    if "motion_encoder" in config:
        config["text_backend"] = "minilm"  # a setting 0.1 saved and never read
    (to / "config.json").write_text(json.dumps(config))
    old = {new: old for old, new in renames.items()}
    state = {next((old[p] + k[len(p):] for p in old if k.startswith(p)), k): v
             for k, v in load_file(str(folder / "model.safetensors")).items()}
    save_file(state, str(to / "model.safetensors"))
    return to


def test_checkpoints_upgrade(tmp_path, capsys):
    import json

    from safetensors.numpy import load_file

    from emoanim.binding.space import LEGACY_KEYS, EmotionSpace

    shipped = ROOT / "checkpoints"
    space = legacy_copy(shipped / "emotion_space", tmp_path / "ckpt" / "emotion_space", LEGACY_KEYS)
    legacy_copy(shipped / "lip_sync", tmp_path / "ckpt" / "lip_sync", {})
    (tmp_path / "ckpt" / "notes").mkdir()  # not a checkpoint: left alone
    assert main(["checkpoints", "upgrade", str(tmp_path / "ckpt")]) == 0
    out = capsys.readouterr().out
    assert (f"{space}: moved metrics from config.json to training.json; updated settings text_backend; "
            "renamed 8 weights") in out
    assert f"{tmp_path / 'ckpt' / 'lip_sync'}: moved metrics" in out and "notes" not in out
    assert json.loads((space / "config.json").read_text()) == json.loads(
        (shipped / "emotion_space" / "config.json").read_text())
    assert json.loads((space / "training.json").read_text())["test"] == {"accuracy": 0.5}
    upgraded, reference = load_file(str(space / "model.safetensors")), load_file(
        str(shipped / "emotion_space" / "model.safetensors"))
    assert upgraded.keys() == reference.keys()
    assert all(np.array_equal(upgraded[k], reference[k]) for k in reference)  # values untouched
    assert EmotionSpace.from_pretrained(space).rig == "arkit"
    assert main(["checkpoints", "upgrade", str(space)]) == 0  # once: a second run changes nothing
    assert capsys.readouterr().out.strip() == f"{space}: up to date"
    assert main(["checkpoints", "upgrade", str(tmp_path / "ckpt" / "notes")]) == 2
    assert "no checkpoint in" in capsys.readouterr().err


def test_bench_speech_without_assets(tmp_path, monkeypatch):
    from emoanim.audio.io import is_silent
    from emoanim.bench import speech_clips
    from emoanim.pipeline import check_speech

    monkeypatch.chdir(tmp_path)  # as an installed package sees it: no ./assets
    (clip,), what = speech_clips()
    assert what.startswith("synthetic")
    assert not is_silent(clip) and np.abs(clip).max() <= 1.0
    check_speech(clip, "the synthetic speech", 60.0)  # the pipeline accepts it
    save_wav(tmp_path / "mine.wav", clip[:8000], 16000)
    (mine,), what = speech_clips(tmp_path / "mine.wav")
    assert what.endswith("mine.wav") and len(mine) == 8000
