"""Training under torchrun: two CPU processes (gloo) on a tiny corpus, one log and one checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emoanim.data.synth import SynthConfig, build_corpus
from emoanim.data.tts import list_voices
from emoanim.train.distributed import Processes, batches

ROOT = Path(__file__).resolve().parents[1]


def test_batches_split_every_epoch_between_the_processes():
    ranks = [batches(10, 4, Processes(r, 2), seed=0) for r in (0, 1)]
    shards = [[i for _ in range(2) for i in next(it)] for it in ranks]  # two batches of 2 per process
    assert all(len(s) == 4 for s in shards) and not set(shards[0]) & set(shards[1])  # disjoint shards
    solo = batches(10, 4, Processes(), seed=0)
    seen = [i for _ in range(5) for i in next(solo)]  # 20 items: two epochs, each every item once
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # a new shuffle every epoch


@pytest.mark.slow
@pytest.mark.skipif(not {"espeak", "flite", "festival"} <= {v.engine for v in list_voices()},
                    reason="needs espeak-ng, flite and festival (make setup)")
def test_torchrun_two_cpu_processes_train_one_generator(tmp_path):
    corpus = tmp_path / "corpus"
    build_corpus(SynthConfig(out=corpus, hours=0.01, seed=3, workers=1), log=lambda *_: None)
    out = tmp_path / "gen"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "emoanim", "train", "generator", "--corpus",
           str(corpus), "--out", str(out), "--steps", "3", "--behaviour-steps", "2", "--threads", "1", "--seed", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("diffusion step 3/3") == 1  # rank 0 logs, rank 1 is quiet
    assert done.stdout.count("behaviour step 2/2") == 1  # and trains the behaviour stream alone
    training = json.loads((out / "training.json").read_text())
    assert training["processes"] == 2 and training["command"].startswith("torchrun --nproc_per_node 2")
    from emoanim.diffusion import load_generator

    gen = load_generator(out)
    take = gen.sample(np.zeros((100, gen.config.denoiser.content_dim), np.float32),
                      np.eye(gen.config.denoiser.style_dim, dtype=np.float32)[0], 50, steps=2)
    assert take.shape == (50, len(gen.param_names)) and np.isfinite(take).all() and gen.behaviour is not None
    # `train behaviour` retrains the stream alone into it: the denoiser stays bit for bit.
    from emoanim.train.behaviour import BehaviourRetrainConfig, BehaviourTrainConfig, retrain_behaviour

    again = retrain_behaviour(BehaviourRetrainConfig(
        generator=out, corpus=corpus, out=tmp_path / "gen2", content=ROOT / "checkpoints" / "content_encoder",
        space=ROOT / "checkpoints" / "emotion_space", behaviour=BehaviourTrainConfig(steps=3, seed=1),
        threads=1, log=lambda *_: None))
    before, after = gen.state_dict(), again.state_dict()
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before if not k.startswith("behaviour."))
    assert any(not np.array_equal(before[k].numpy(), after[k].numpy()) for k in before if k.startswith("behaviour."))
    record = json.loads((tmp_path / "gen2" / "training.json").read_text())
    assert record["behaviour"]["steps"] == 3 and record["behaviour"]["command"].startswith("python -m emoanim train behaviour")
