"""Training the lip-sync expert (paper Eq. 7), the frozen judge the generator's training and evaluation read.

    python -m emoanim train sync --corpus data/syn --out checkpoints/lip_sync --seed 0

Contrastive: a window of mouth motion should match its own audio window more than the audio windows
of other clips and of the same clip shifted by 3-12 frames (the hard negatives).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from emoanim.data.generator_set import K, GeneratorData, mouth_names, param_stats, prepare
from emoanim.diffusion.sync_expert import LipSyncExpert, SyncExpertConfig
from emoanim.vocabulary import CONTENT_ENCODER_DIR, EMOTION_SPACE_DIR


@dataclass
class SyncTrainConfig:
    corpus: str  # the corpus folder
    out: str  # where the expert is saved
    content: str = f"checkpoints/{CONTENT_ENCODER_DIR}"
    space: str = f"checkpoints/{EMOTION_SPACE_DIR}"
    route: str = "exact"  # content route of an aligned content encoder (as the generator's: train/generator.py)
    seed: int = 0
    steps: int = 3000
    batch_size: int = 256
    lr: float = 1e-3
    threads: int = 2  # CPU threads for torch
    limit: int | None = None  # clips per split (None: all)
    log: Callable[[str], None] = field(default=print, repr=False)


def sync_batch(data: GeneratorData, expert: LipSyncExpert, rng, batch_size: int):
    """Aligned windows plus, per item, one audio window of the same clip shifted 3-12 frames (hard negative)."""
    W = expert.config.window
    m, a, a_shift = [], [], []
    for i in rng.integers(0, len(data), batch_size):
        n = len(data.params[i])
        s = int(rng.integers(0, n - W + 1))
        m.append(data.params[i][s : s + W])
        a.append(data.content[i][K * s : K * (s + W)])
        off = int(rng.integers(3, 13)) * (1 if rng.random() < 0.5 else -1)
        s2 = int(np.clip(s + off, 0, n - W))
        if s2 == s:  # at the clip's edge: shift the other way
            s2 = int(np.clip(s - off, 0, n - W))
        a_shift.append(data.content[i][K * s2 : K * (s2 + W)])
    return (torch.from_numpy(np.stack(m)), torch.from_numpy(np.stack(a)), torch.from_numpy(np.stack(a_shift)))


def sync_logits(expert: LipSyncExpert, m, a, a_shift) -> torch.Tensor:
    zm = expert.embed_motion(m)
    za = expert.embed_audio(torch.cat([a, a_shift]))
    return zm @ za.T * expert.log_scale.exp()  # [B, 2B]: column b is the positive of row b


@torch.no_grad()
def sync_metrics(expert: LipSyncExpert, data: GeneratorData, clips: int = 200) -> dict:
    """Window retrieval accuracy among 256 candidates and, per clip, the offset of the best match."""
    expert.eval()
    rng = np.random.default_rng(1)
    acc = []
    for _ in range(8):
        logits = sync_logits(expert, *sync_batch(data, expert, rng, 256))
        acc.append(float((logits.argmax(1) == torch.arange(len(logits))).float().mean()))
    offsets = []
    for i in range(min(clips, len(data))):
        p = torch.from_numpy(data.params[i])[None]
        c = torch.from_numpy(data.content[i])[None]
        if p.shape[1] < 40:
            continue
        sims = expert.offset_similarity(p, c, 10)[0]
        offsets.append(int(sims.nan_to_num(-2).argmax()) - 10)
    offsets = np.array(offsets)
    return {"window_accuracy_256": float(np.mean(acc)), "best_offset_zero": float(np.mean(offsets == 0)),
            "best_offset_within_1": float(np.mean(np.abs(offsets) <= 1))}


def train_sync(config: SyncTrainConfig) -> LipSyncExpert:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    train = prepare(config.corpus, "train", config.content, config.space, config.limit, config.log, config.route)
    test = prepare(config.corpus, "test", config.content, config.space, config.limit, config.log, config.route)
    expert = LipSyncExpert(SyncExpertConfig(param_names=train.names, mouth_names=mouth_names(train.rig, train.names),
                                            content_dim=train.content[0].shape[1]))
    expert.set_normalization(*param_stats(train))
    opt = torch.optim.AdamW(expert.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.steps, pct_start=0.05)
    t0 = time.time()
    for step in range(1, config.steps + 1):
        expert.train()
        logits = sync_logits(expert, *sync_batch(train, expert, rng, config.batch_size))
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(logits)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == config.steps:
            config.log(f"sync step {step}/{config.steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    training = {"test": sync_metrics(expert, test), "train_seconds": round(time.time() - t0, 1),
                "command": f"python -m emoanim train sync --corpus {config.corpus} --out {config.out} "
                           f"--content-route {config.route} --seed {config.seed}"}
    config.log(f"lip-sync expert on test: {training['test']}")
    expert.save_pretrained(config.out, training=training)
    return expert.eval()
