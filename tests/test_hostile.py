"""Hostile input, through the command line and the Python API: every case gets one line that says what
is wrong (exit code 2), nothing is written, nothing is unpickled, and memory is not blown by bombs.
Unusual but valid input (8 kHz, 192 kHz, 8 channels, odd file names) simply works.
The app's share of the matrix is in test_app.py (test_app_refuses_hostile_input)."""

from __future__ import annotations

import resource
import shutil
from pathlib import Path

import numpy as np
import pytest

import hostile as H
from emoanim.errors import EmoAnimError
from test_pipeline import ASSETS, STEPS, run_cli, tiny_animator

SPEECH = [  # (maker, what the message says)
    (H.truncated_wav, "too short"), (H.cut_mp3, "too short"), (H.random_wav, "unreadable or corrupt"),
    (H.random_mp3, "unreadable or corrupt"), (H.png_as_wav, "no audio track"), (H.empty_file, "empty (0 bytes)"),
    (H.header_only_wav, "no samples"), (H.silent_wav, "silent"), (H.too_long_wav, "the limit is 60 s"),
    (H.flac_bomb, "the limit is 60 s"), (H.nan_float_wav, "NaN or infinite"),
]
MOTIONS = [
    (H.inf_motion, "must be finite"), (H.pickle_npz, "pickles are not accepted"),
    (H.raw_pickle_npz, "pickles are not accepted"), (H.zip_bomb_npz, "unpacks to 4.0 GiB"),
    (H.absurd_fps_motion, "fps must be"), (H.negative_fps_motion, "fps must be"),
    (H.csv_missing_columns, "lacks 51 blendshape columns"), (H.csv_extra_columns, "not in the Live Link Face"),
    (H.json_garbage, "not valid JSON"), (H.text_as_motion, "no frames"),
]
FACES = [(H.image_bomb, "too large an image"), (H.faceless_photo, "no face found"),
         (H.truncated_mp4, "cannot read"), (H.text_as_video, "cannot read")]
QUICK = ["--steps", STEPS, "--size", 64, "--device", "cpu"]


def refused(capsys, tmp_path: Path, argv: list, message: str) -> None:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        code, _, err = run_cli(capsys, *argv)
    except SystemExit as exc:  # argparse's own refusals: usage, then one error line
        code, err = exc.code, capsys.readouterr().err.splitlines()[-1] + "\n"
    assert code == 2, err
    assert err.startswith(("error: ", "python -m emoanim")) and err.count("\n") == 1, err
    assert message in err, err
    assert not list(out.iterdir())  # no output, not even a partial one
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside the inputs


@pytest.mark.slow  # (46 cases of a CLI run each: in the full suite, out of the fast subset)
@pytest.mark.parametrize("role", ["--audio", "--emotion-audio"])
@pytest.mark.parametrize("make, message", SPEECH, ids=[m.__name__ for m, _ in SPEECH])
def test_hostile_speech(tmp_path, capsys, make, message, role):
    bad = make(tmp_path)
    speech = bad if role == "--audio" else ASSETS / "happy.ogg"
    source = ["--emotion", "happy"] if role == "--audio" else ["--emotion-audio", bad]
    refused(capsys, tmp_path, ["generate", "--audio", speech, "--out", tmp_path / "out" / "t.mp4", *source, *QUICK],
            message)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "render"])
@pytest.mark.parametrize("make, message", MOTIONS, ids=[m.__name__ for m, _ in MOTIONS])
def test_hostile_motion_files(tmp_path, capsys, make, message, command):
    bad = make(tmp_path)
    out = tmp_path / "out" / "t.mp4"
    argv = (["generate", "--audio", ASSETS / "happy.ogg", "--out", out, "--reference-motion", bad, *QUICK]
            if command == "generate" else ["render", "--motion", bad, "--out", out, "--size", 64])
    refused(capsys, tmp_path, argv, message)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 3 * 2**20  # KiB: the bombs did not go off (< 3 GiB)


@pytest.mark.slow
@pytest.mark.parametrize("make, message", FACES, ids=[m.__name__ for m, _ in FACES])
def test_hostile_faces(tmp_path, capsys, make, message):
    bad = make(tmp_path)
    refused(capsys, tmp_path, ["generate", "--audio", ASSETS / "happy.ogg", "--out", tmp_path / "out" / "t.mp4",
                               "--emotion-video", bad, *QUICK], message)


@pytest.mark.parametrize("argv, message", [
    (["--text", "x" * 100_000], "100000 characters long"),
    (["--text", "\x00\x01\x02\x7f"], "only control characters"),
    (["--text", " \t\n "], "emotion text is empty"),
    (["--emotion", "happy", "--guidance", "1e9"], "guidance weight must be between 0 and 10"),
    (["--emotion", "happy", "--guidance", "nan"], "guidance weight must be between 0 and 10"),
    (["--emotion", "happy", "--steps", "1000000"], "from 1 to 400"),
    (["--emotion", "happy", "--seed", "-3"], "seed must be a whole number"),
    (["--emotion", "happy", "--size", "100000"], "from 16 to 2048"),
    (["--emotion", "happy", "--intensity", "9"], "invalid choice: 9"),
    (["--emotion", "elated"], "elated"),
], ids=["100kB-text", "control-text", "blank-text", "huge-guidance", "nan-guidance", "million-steps", "negative-seed",
        "huge-size", "intensity-9", "unknown-emotion"])
def test_hostile_settings(tmp_path, capsys, argv, message):
    refused(capsys, tmp_path, ["generate", "--audio", ASSETS / "happy.ogg", "--out", tmp_path / "out" / "t.mp4",
                               "--device", "cpu", *argv], message)


@pytest.mark.parametrize("audio, settings, message", [
    (np.full(32000, np.nan, np.float32), {}, "NaN or infinite"),
    (np.zeros((32000, 2), np.float32), {}, "mono 16 kHz array"),
    ([0.1] * 100, {}, "too short"),
    (None, {}, "no audio given"),
    (ASSETS / "happy.ogg", {"guidance": -1.0}, "guidance weight"),
    (ASSETS / "happy.ogg", {"steps": 0}, "sampling steps"),
    (ASSETS / "happy.ogg", {"seed": 2**40}, "seed must be"),
    (ASSETS / "happy.ogg", {"sampler": "euler"}, "unknown sampler"),
    (ASSETS / "happy.ogg", {"size": 7}, "even numbers of pixels"),
], ids=["nan", "stereo-array", "list", "none", "guidance", "steps", "seed", "sampler", "size"])
def test_hostile_python_api(tmp_path, audio, settings, message):
    from emoanim.pipeline import EmotionSource

    with pytest.raises(EmoAnimError, match=message):
        tiny_animator().generate(audio, EmotionSource.label("happy"), tmp_path / "t.mp4", **{"steps": STEPS, **settings})
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("rate, channels", [(8000, 1), (192000, 2), (44100, 8)])
def test_unusual_audio_just_works(tmp_path, capsys, rate, channels):
    speech = H.speech_at(tmp_path, rate, channels, f"speech {rate}\x01\u202e.wav")  # (an odd name too)
    code, _, err = run_cli(capsys, "generate", "--audio", speech, "--out", tmp_path / "t.mp4", "--emotion", "happy",
                           *QUICK)
    assert code == 0, err
    from tools.probe import probe_media

    info = probe_media(tmp_path / "t.mp4")
    assert info.has_audio and abs(info.audio_duration - 2.646) < 0.1


def test_control_characters_in_output_names_stay_in_their_folder(tmp_path, capsys):
    out = tmp_path / "out" / "take\x01\u202e.mp4"
    out.parent.mkdir()
    code, _, err = run_cli(capsys, "generate", "--audio", ASSETS / "happy.ogg", "--out", out, "--emotion", "happy",
                           *QUICK)
    assert code == 0, err
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    shutil.rmtree(out.parent)
