"""A folder of speech (emoanim.batch, `generate --audio-dir`): every file animated, bad files reported
without stopping the others, reruns resume, shards of a job array split the work."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emoanim.batch import outputs_for, parse_shard, run_batch, shard_from_env, speech_files
from emoanim.errors import EmoAnimError
from emoanim.motion import load_motion
from tools.probe import probe_media

from test_pipeline import ASSETS, STEPS, run_cli, tiny_animator  # noqa: F401  (run_cli: the CLI in-process)


@pytest.fixture
def folder(tmp_path) -> Path:
    speech = tmp_path / "speech"
    (speech / "day 2").mkdir(parents=True)
    shutil.copy(ASSETS / "happy.ogg", speech / "a.ogg")
    shutil.copy(ASSETS / "angry.wav", speech / "day 2" / "b.wav")
    (speech / "c.wav").write_bytes((ASSETS / "angry.wav").read_bytes()[:3000])  # cut short: too little speech
    (speech / "notes.txt").write_text("not speech")
    (speech / ".hidden").mkdir()
    shutil.copy(ASSETS / "sad.mp3", speech / ".hidden" / "d.mp3")  # hidden folders are not searched
    return speech


def test_speech_files_and_shards(folder):
    files = speech_files(folder)
    assert [f.relative_to(folder).as_posix() for f in files] == ["a.ogg", "c.wav", "day 2/b.wav"]
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "-1/2", "x", "1/0"):
        with pytest.raises(EmoAnimError, match="--shard"):
            parse_shard(bad)
    assert shard_from_env({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "3"}) == (2, 4)
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "2"}) == (1, 2)  # torchrun's
    assert shard_from_env({}) == (0, 1)
    with pytest.raises(EmoAnimError, match="not found"):
        speech_files(folder / "missing")


@pytest.mark.slow
def test_folder_run_reports_failures_resumes_and_shards(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["generate", "--audio-dir", folder, "--out-dir", out, "--emotion", "happy", "--steps", STEPS,
            "--size", 64, "--device", "cpu", "--jobs", 2]
    code, stdout, _ = run_cli(capsys, *args)
    assert code == 1  # one file failed; the others were animated
    assert "2 animated, 0 already done, 1 failed" in stdout and "c.wav: the speech is too short" in stdout
    for name in ("a", "day 2/b"):
        video, motion = out / f"{name}.mp4", out / f"{name}.npz"
        assert load_motion(motion).num_frames - probe_media(video).num_video_frames in (0, 1)
    assert not (out / "c.mp4").exists() and not list(out.rglob(".*"))  # nothing half-written is left
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    # An interrupted run: one take's video written, its motion not yet, a temporary left behind.
    (out / "day 2" / "b.npz").unlink()
    (out / "day 2" / ".b.1234abcd.partial.mp4").write_bytes(b"half a video")
    (out / "day 2" / ".b.npz.x7k2.tmp").write_bytes(b"half a motion")
    code, stdout, _ = run_cli(capsys, *args)
    assert "1 animated, 1 already done, 1 failed" in stdout
    assert (out / "a.mp4").stat().st_mtime_ns == stamps[out / "a.mp4"]  # finished work is not redone
    assert (out / "day 2" / "b.npz").exists() and not list(out.rglob(".*"))

    # Two shards of a job array: disjoint, and together everything.
    shutil.rmtree(out)
    code, stdout, _ = run_cli(capsys, *args[:-2], "--shard", "1/2")  # files 1, 3, ...: c.wav alone
    assert code == 1 and "0 animated, 0 already done, 1 failed" in stdout
    code, stdout, _ = run_cli(capsys, *args[:-2], "--shard", "0/2")  # files 0, 2, ...
    assert code == 0 and {p.relative_to(out).as_posix() for p in out.rglob("*.mp4")} == {"a.mp4", "day 2/b.mp4"}


def test_python_api_and_bad_arguments(folder, tmp_path, capsys):
    from emoanim.pipeline import EmotionSource

    report = run_batch(tiny_animator(), folder, tmp_path / "api", EmotionSource.label("sad", 2), shard=(0, 3),
                       steps=STEPS, size=64)  # files 0, 3, 6, ... of the sorted three: a.ogg
    assert report.done == [folder / "a.ogg"] and not report.failed and not report.skipped
    assert (tmp_path / "api" / "a.mp4").exists() and (tmp_path / "api" / "a.npz").exists()
    report = run_batch(tiny_animator(), folder, tmp_path / "api", EmotionSource.label("sad", 2), shard=(1, 3),
                       steps=STEPS, size=64)
    assert report.failed and report.failed[0][0] == folder / "c.wav" and "too short" in report.failed[0][1]
    assert outputs_for(folder / "day 2" / "b.wav", folder, tmp_path) == (tmp_path / "day 2" / "b.mp4",
                                                                       tmp_path / "day 2" / "b.npz")
    for extra, message in ((["--audio", ASSETS / "happy.ogg"], "either --audio and --out"),
                           ([], "needs both --audio-dir DIR and --out-dir OUT"),
                           (["--out-dir", tmp_path / "o", "--motion-out", tmp_path / "m.npz"], "are for one clip"),
                           (["--out-dir", tmp_path / "o", "--jobs", 0], "--jobs must be 1 or more")):
        code, _, err = run_cli(capsys, "generate", "--audio-dir", folder, *extra, "--emotion", "happy")
        assert code == 2 and message in err, err
    code, _, err = run_cli(capsys, "generate", "--emotion", "happy")
    assert code == 2 and "--audio SPEECH --out VIDEO.mp4" in err


def test_a_rerun_removes_only_its_own_temporaries(tmp_path):
    from emoanim.batch import _remove_temporaries

    mine = [tmp_path / ".a.0123abcd.partial.mp4", tmp_path / ".a.npz.q1w2e3.tmp"]
    others = [tmp_path / ".a.b.0123abcd.partial.mp4", tmp_path / ".a.b.npz.q1w2e3.tmp", tmp_path / "a.npz"]
    for path in mine + others:
        path.write_bytes(b"x")
    _remove_temporaries(tmp_path / "a.mp4")  # (a.b's may be being written by another thread)
    assert not any(p.exists() for p in mine) and all(p.exists() for p in others)
