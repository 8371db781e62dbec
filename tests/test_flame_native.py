"""The native FLAME road: FLAME fits (MEAD layout) -> corpus -> emotion space, lip-sync expert and
generator trained in FLAME parameter space by the same commands -> a take sampled and rendered on a
FLAME model. A tiny generated corpus and a few training steps: this checks that the road runs end to
end and its outputs are well formed, not what such a short training learns."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flame_corpus  # noqa: E402
import flame_fixture  # noqa: E402

from emoanim.cli import main  # noqa: E402
from emoanim.motion import load_motion  # noqa: E402
from emoanim.motion.flame_sequence import FlameSequence  # noqa: E402
from emoanim.rigs.flame import flame_param_names  # noqa: E402
from tools.probe import probe_media  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(*args) -> None:
    assert main([str(a) for a in args]) == 0, args


@pytest.mark.slow
def test_flame_data_trains_and_samples_a_flame_take(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOANIM_CACHE", str(tmp_path / "cache"))
    mead, corpus, ckpt = tmp_path / "MEAD", tmp_path / "corpus", tmp_path / "checkpoints"
    flame_corpus.write_mead_flame(mead)
    run("data", "import-mead", mead, corpus, "--test-speakers", "W011")
    run("train", "binding", "--corpus", corpus, "--out", ckpt / "emotion_space", "--motion-epochs", 1,
        "--audio-epochs", 1, "--bind-epochs", 1)
    run("train", "sync", "--corpus", corpus, "--out", ckpt / "lip_sync", "--space", ckpt / "emotion_space",
        "--content-route", "posteriors", "--steps", 5, "--threads", 1)
    run("train", "generator", "--corpus", corpus, "--out", ckpt / "generator", "--space", ckpt / "emotion_space",
        "--sync", ckpt / "lip_sync", "--content-route", "posteriors", "--steps", 4, "--behaviour-steps", 4,
        "--threads", 1)
    os.symlink(ROOT / "checkpoints" / "content_encoder", ckpt / "content_encoder")  # the shipped one: speech only

    model = flame_fixture.write_npz(tmp_path / "flame.npz", flame_fixture.make_fixture(50))
    out, seq, motion = tmp_path / "take.mp4", tmp_path / "take_flame.npz", tmp_path / "take.npz"
    run("generate", "--audio", ROOT / "assets" / "happy.ogg", "--out", out, "--emotion", "happy", "--checkpoints",
        ckpt, "--rig", "flame", "--flame-model", model, "--flame-out", seq, "--motion-out", motion, "--size", 128,
        "--steps", 2, "--device", "cpu")
    take = load_motion(motion)
    assert take.rig == "flame" and take.names == flame_param_names(50)  # sampled in FLAME space, not retargeted
    flame = FlameSequence.load(seq)
    assert flame.num_frames == take.num_frames and np.isfinite(flame.params()).all()
    np.testing.assert_allclose(flame.params(), take.params, atol=1e-6)
    assert not list(tmp_path.glob("flame.emoanim-arkit-*.npz"))  # no ARKit map was needed
    info = probe_media(out)
    assert info.width == 128 and info.has_audio and abs(info.num_video_frames - take.num_frames) <= 1
