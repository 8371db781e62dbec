"""Training the behaviour stream (``diffusion/behaviour.py``): blinks, gaze and head motion by maximum
likelihood, teacher-forced on the corpus's own curves. ``train generator`` runs it after the denoiser
and saves both in one checkpoint; it reads the generator's normalisation, so the stream draws in the
space the generator writes.

    loss = -log p(x_t - x_{t-1} | x_{<t} + drift, content, style)   per channel and frame, normalised units
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.generator_set import GeneratorData, crop_batch, prepare
from emoanim.diffusion import load_generator
from emoanim.diffusion.behaviour import BehaviourConfig, BehaviourStream
from emoanim.diffusion.generator import MotionGenerator
from emoanim.errors import EmoAnimError
from emoanim.persistence import read_training
from emoanim.rigs import params_in_groups, rig_param_groups


@dataclass
class BehaviourTrainConfig:
    groups: list[str] = field(default_factory=lambda: ["blink", "gaze", "head"])  # rig groups it draws
    steps: int = 3000  # ~12 min on 2 CPU cores
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 200  # linear warm-up steps, then cosine decay
    window: int = 200  # training crop (frames): 8 s, longer than every corpus clip, so the stream learns blink
    #                    timing over whole takes (100-frame crops: sad takes blinked +121 %, others -19..-39 %)
    label_style: float = 0.5  # share of items whose style is the label prototype (else the clip's motion)
    drift: float = 0.01  # per-frame step (normalised units) of the random-walk offset added to the history
    #                       the stream sees in training (BehaviourStream.nll): it learns to steer back
    seed: int = 0
    stream: BehaviourConfig = field(default_factory=BehaviourConfig)  # its size (channels set from the rig)


def stream_groups(rig: str, groups: list[str]) -> list[str]:
    """The ``groups`` that have parameters on ``rig`` (FLAME, for one, has no blink parameter)."""
    params_in_groups(rig, [], groups)  # (an unknown group name is an error)
    known = rig_param_groups(rig, num_expressions=100)
    return [g for g in groups if known[g]]


def fit_behaviour(gen: MotionGenerator, train: GeneratorData, prototypes: torch.Tensor,
                  config: BehaviourTrainConfig, log: Callable[[str], None] = print) -> dict:
    """Train a behaviour stream on ``train`` in ``gen``'s normalised space and attach it to ``gen``;
    returns the run's record. ``prototypes`` [classes, E]: the emotion space's label styles."""
    groups = stream_groups(train.rig, config.groups)
    cols = torch.from_numpy(np.where(params_in_groups(train.rig, train.names, groups))[0])
    if not len(cols):
        raise EmoAnimError(f"the '{train.rig}' rig has no parameters in {', '.join(config.groups)}")
    stream_config = dataclasses.replace(config.stream, groups=groups, num_channels=len(cols),
                                        content_dim=train.content[0].shape[1], style_dim=prototypes.shape[1],
                                        content_per_frame=gen.config.denoiser.content_per_frame)
    torch.manual_seed(config.seed)
    stream = BehaviourStream(stream_config)
    noise = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng([config.seed, 7])
    opt = torch.optim.AdamW(stream.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / config.warmup)
                                              * 0.5 * (1 + np.cos(np.pi * min(1.0, s / config.steps))))
    motion_style = torch.from_numpy(train.motion_style)
    t0, running = time.time(), None
    stream.train()
    for step in range(1, config.steps + 1):
        idx = rng.integers(0, len(train), config.batch_size)
        params, content, mask = crop_batch(train, idx, config.window, rng)
        use_label = torch.from_numpy(rng.random(len(idx)) < config.label_style)[:, None]
        styles = torch.where(use_label, prototypes[train.label[idx]], motion_style[idx])
        with torch.no_grad():
            x = gen.normalize(params)[..., cols]
        drift = torch.cumsum(torch.randn(x.shape, generator=noise) * config.drift, 1) if config.drift else None
        loss = stream.nll(x, content, styles, mask, drift)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(stream.parameters(), 1.0)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 200 == 0 or step == config.steps:
            log(f"behaviour step {step}/{config.steps} nll {running:.4f} ({time.time() - t0:.0f} s)")
    gen.attach_behaviour(stream.eval())
    return {"groups": groups, "steps": config.steps, "seed": config.seed, "train_seconds": round(time.time() - t0, 1),
            "final_nll": round(running, 4)}




# ---- retraining the stream alone ------------------------------------------------------------------
@dataclass
class BehaviourRetrainConfig:
    generator: Path  # a trained diffusion generator: its denoiser is kept exactly
    corpus: Path
    out: Path
    content: Path  # the content encoder and emotion space the generator was trained with
    space: Path
    route: str = "exact"  # the content route it was trained on (its training record says)
    behaviour: BehaviourTrainConfig = field(default_factory=BehaviourTrainConfig)
    threads: int = 2
    log: Callable[[str], None] = field(default=print, repr=False)


def retrain_behaviour(config: BehaviourRetrainConfig) -> MotionGenerator:
    """Train a new behaviour stream into a saved generator, as ``train generator`` does after its
    denoiser (same data, same seed gives the same stream); every other weight is checked unchanged."""
    torch.set_num_threads(config.threads)
    gen = load_generator(config.generator)
    if not isinstance(gen, MotionGenerator):
        raise EmoAnimError(f"{config.generator} holds a {type(gen).__name__}; only a diffusion generator has a "
                           "behaviour stream")
    kept = {k: v.clone() for k, v in gen.state_dict().items() if not k.startswith("behaviour.")}
    train = prepare(config.corpus, "train", config.content, config.space, None, config.log, config.route)
    with torch.no_grad():
        prototypes = EmotionSpace.from_pretrained(config.space).prototypes()
    record = fit_behaviour(gen, train, prototypes, config.behaviour, config.log)
    after = gen.state_dict()
    changed = [k for k, v in kept.items() if not torch.equal(v, after[k])]
    if changed:
        raise RuntimeError(f"retraining the behaviour stream changed other weights: {changed[:5]}")
    training = read_training(config.generator)
    command = str(training.get("command", ""))
    training["behaviour"] = {**record, "command": f"python -m emoanim train behaviour --corpus {config.corpus} "
                                                  f"--out {config.out} --threads {config.threads}"}
    training["command"] = re.sub(r"--behaviour-steps \d+", f"--behaviour-steps {config.behaviour.steps}", command)
    gen.save_pretrained(config.out, training=training)
    config.log(f"saved {config.out} (behaviour nll {record['final_nll']:.4f})")
    return gen


__all__ = ["BehaviourRetrainConfig", "BehaviourTrainConfig", "fit_behaviour", "retrain_behaviour", "stream_groups"]
