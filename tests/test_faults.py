"""Faults an operator meets: a server killed mid-render and started again, a batch killed mid-file and
run again, and a full disk (a tiny tmpfs, mounted in a private mount namespace by ``unshare``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from emoanim.audio import load_audio, save_wav
from tools.browser import free_port
from tools.load_test import wait_for_stage
from tools.probe import probe_media

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
SIZE = 64  # video pixels: these tests are about files, not faces

pytestmark = pytest.mark.slow


def _speech(path: Path, seconds: float) -> Path:
    """``seconds`` of real speech (the bundled clip, repeated)."""
    clip = load_audio(ASSETS / "happy.ogg", 16000)
    save_wav(path, np.tile(clip, int(np.ceil(seconds * 16000 / clip.size)))[: int(seconds * 16000)], 16000)
    return path


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "EMOANIM_SIZE": str(SIZE), "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def _start_app(env: dict, log: Path, prefix: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """``python app.py`` on a free port; returns the process and its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([*prefix, sys.executable, str(ROOT / "app.py")], cwd=ROOT,
                            env={**env, "GRADIO_SERVER_PORT": str(port)},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/config", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError(f"the app did not start:\n{log.read_text()[-3000:]}")


def _submit(url: str, speech: Path, downloads: Path, **overrides):
    from gradio_client import Client

    from tools.load_test import generate_arguments

    client = Client(url, verbose=False, download_files=str(downloads))
    return client, client.submit(**generate_arguments(speech, **{"steps": 1, **overrides}), api_name="/generate")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_server_killed_mid_render_restarts_cleanly_and_its_partial_files_are_gone(tmp_path):
    results = tmp_path / "results"
    env, log = _env(EMOANIM_RESULTS_DIR=str(results)), tmp_path / "app.log"
    first, url = _start_app(env, log)
    try:
        _, job = _submit(url, _speech(tmp_path / "long.wav", 30.0), tmp_path / "downloads")
        wait_for_stage(job, "rendering frame")
    finally:
        first.send_signal(signal.SIGKILL)  # no atexit, no cleanup: what a crash or an OOM kill leaves
        first.wait()
    [killed] = list(results.glob("run-*"))
    left = _files(killed)
    assert any(".partial." in p.name for p in left), left  # the video being written, and the upload
    assert any("uploads" in p.parts for p in left), left

    second, url = _start_app(env, log)
    try:
        assert not killed.exists()  # the next start deleted what the killed server left
        [alive] = list(results.glob("run-*"))
        _, job = _submit(url, ASSETS / "happy.ogg", tmp_path / "downloads")
        video = job.result(timeout=120)[0]
        video = Path(video["video"] if isinstance(video, dict) else video)
        assert probe_media(video).has_audio and probe_media(video).width == SIZE
        assert list(alive.glob("req_*/emoanim.mp4"))
    finally:
        second.send_signal(signal.SIGTERM)  # a normal stop (containers, Spaces): it cleans up itself
        assert second.wait(timeout=60) == 0
    assert not alive.exists() and not list(results.iterdir())


def test_a_batch_killed_mid_file_resumes_without_redoing_or_leaving_corrupt_files(tmp_path):
    speech = tmp_path / "in"
    speech.mkdir()
    for i in range(4):
        _speech(speech / f"take{i}.wav", 3.0 + i)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "emoanim", "generate", "--audio-dir", str(speech), "--out-dir", str(out),
           "--emotion", "calm", "--steps", "1", "--size", str(SIZE), "--jobs", "1"]
    log = tmp_path / "first.log"

    def takes() -> list[Path]:  # (pathlib's "*" also matches the hidden temporaries)
        return [p for p in out.glob("*.mp4") if not p.name.startswith(".")]

    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not takes():  # the first take is finished
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    while time.monotonic() < deadline and not list(out.glob(".*.partial.mp4")):  # the second is being written
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in takes()}
    assert 1 <= len(finished) < 4 and list(out.glob(".*.partial.mp4")), _files(out)
    for video in takes():  # whatever has its final name is whole
        assert probe_media(video).num_video_frames > 0
    before = {p.name: p.stat().st_mtime_ns for p in takes()}

    again = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    said = again.stdout + again.stderr
    assert f"{4 - len(finished)} animated, {len(finished)} already done, 0 failed" in said, said
    assert {p.stem for p in takes()} == {f"take{i}" for i in range(4)}
    for name, mtime in before.items():  # finished takes were not redone
        assert (out / name).stat().st_mtime_ns == mtime
    assert not [p for p in _files(out) if p.name.startswith(".")]  # no temporaries left


# ---- a full disk --------------------------------------------------------------------------------


def _on_tiny_disk(mount: Path, size: str, cmd: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``cmd`` with a ``size`` tmpfs mounted on ``mount`` (seen by it alone); also returns the names
    it left there (listed before the namespace, and the tmpfs with it, goes)."""
    script = (f'mount -t tmpfs -o size={size} tmpfs "{mount}" || exit 97; "$@"; rc=$?; '
              f'echo LEFT; ls -A "{mount}"; exit $rc')
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *cmd], capture_output=True, text=True,
                         **kwargs)
    out, _, left = run.stdout.rpartition("LEFT\n")
    return subprocess.CompletedProcess(run.args, run.returncode, out, run.stderr), left.split()


@pytest.fixture(scope="module")
def tiny_disks():
    """Skip where a user and mount namespace cannot be made (some containers forbid them)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a namespace here: {probe.stderr.decode().strip()}")


def test_a_full_disk_gives_one_line_and_leaves_nothing(tmp_path, tiny_disks):
    disk = tmp_path / "disk"
    disk.mkdir()
    speech = _speech(tmp_path / "speech.wav", 4.0)
    # The video does not fit into 40 kB.
    run, left = _on_tiny_disk(disk, "40k", [sys.executable, "-m", "emoanim", "generate", "--audio", str(speech),
                                            "--out", str(disk / "take.mp4"), "--motion-out", str(disk / "take.npz"),
                                            "--emotion", "calm", "--steps", "1", "--size", str(SIZE)],
                              cwd=ROOT, env=_env(), timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "the disk is full" in lines[0], run.stderr
    assert left == []  # no partial video, no temporaries


def test_a_full_disk_in_a_batch_is_a_failed_file_not_a_crash(tmp_path, tiny_disks):
    speech = tmp_path / "in"
    speech.mkdir()
    for i in range(2):
        _speech(speech / f"take{i}.wav", 3.0)
    disk = tmp_path / "disk"
    disk.mkdir()
    run, left = _on_tiny_disk(disk, "40k", [sys.executable, "-m", "emoanim", "generate", "--audio-dir", str(speech),
                                            "--out-dir", str(disk), "--emotion", "calm", "--steps", "1",
                                            "--size", str(SIZE)], cwd=ROOT, env=_env(), timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr  # the batch ran to its end and reports its failures
    said = run.stdout + run.stderr
    assert said.count("the disk is full") >= 2 and "Traceback" not in said, said  # each file, in one line
    assert not [name for name in left if name.endswith((".mp4", ".tmp", ".npz"))], left  # nothing partial


def test_a_full_disk_on_the_server_is_a_message_and_the_server_stays_up(tmp_path, tiny_disks):
    """The results folder on a 600 kB disk: the upload fits, the take's files do not. The visitor is
    told the server has no room; the server keeps serving and leaves nothing in the folder."""
    results = tmp_path / "results"
    results.mkdir()
    log = tmp_path / "app.log"
    script = (f'mount -t tmpfs -o size=600k tmpfs "{results}" || exit 97; '
              f'exec "{sys.executable}" "{ROOT / "app.py"}"')
    proc, url = _start_app(_env(EMOANIM_RESULTS_DIR=str(results)), log, prefix=("unshare", "-rm", "sh", "-c",
                                                                                   script, "sh"))
    try:
        for _ in range(2):  # twice: the first failure left the server able to answer
            _, job = _submit(url, ASSETS / "happy.ogg", tmp_path / "downloads")
            with pytest.raises(Exception) as caught:
                job.result(timeout=120)
            assert "has no room for a new take" in str(caught.value), str(caught.value)
            assert str(results) not in str(caught.value)  # (the server's paths are not the visitor's business)
            assert proc.poll() is None
        # The server's own view of its mounts: each failed request's folder was deleted.
        view = Path(f"/proc/{proc.pid}/root{results}")
        assert list(view.glob("run-*")) and not list(view.glob("run-*/req_*"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
