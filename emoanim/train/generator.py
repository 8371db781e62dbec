"""Training the generator: the diffusion model or the regression baseline on the same backbone.

    python -m emoanim train generator --corpus data/syn --out checkpoints/generator --seed 0
    python -m emoanim train generator --corpus data/syn --out checkpoints/regression --kind regression --seed 0

The corpus is read through ``emoanim.data.generator_set.prepare``; the emotion space and the
lip-sync expert (``train/sync.py``) are frozen judges.

Loss (Eq. 9): L = w_diff * MSE(out, target) + w_sync * L_sync(x0_hat) + w_emo * ||E_emo(x0_hat) - z_s||^2,
where each model class says what its denoiser sees and should output (``PREDICTIONS``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.generator_set import GeneratorData, crop_batch, param_stats, prepare
from emoanim.diffusion import GENERATORS, GeneratorConfig, MotionGenerator, RegressionConfig, RegressionGenerator
from emoanim.diffusion.denoiser import DenoiserConfig
from emoanim.diffusion.generator import GeneratorBase
from emoanim.diffusion.scheduler import SchedulerConfig
from emoanim.diffusion.sync_expert import LipSyncExpert
from emoanim.errors import EmoAnimError
from emoanim.rigs import params_in_groups
from emoanim.train import distributed
from emoanim.train.behaviour import BehaviourTrainConfig, fit_behaviour
from emoanim.vocabulary import CONTENT_ENCODER_DIR, EMOTION_SPACE_DIR, LIP_SYNC_DIR


@dataclass
class GeneratorTrainConfig:
    corpus: str  # the corpus folder
    out: str  # where the generator is saved
    kind: str = "diffusion"  # or "regression" (the deterministic baseline)
    prediction: str = "sample"  # the denoiser predicts x0 ("sample"), the noise ("epsilon") or "v"; diffusion only
    route: str = "exact"  # content route of an aligned content encoder (generator_set.ROUTES): the corpus's
    #                       exact phone timings fused with the posteriors, as recognise-then-align gives
    unguided_groups: list[str] = field(default_factory=list)  # rig param groups the saved generator samples
    #                       without guidance (GeneratorConfig.unguided_groups), e.g. ["blink", "gaze"]
    channel_weights: dict[str, float] = field(default_factory=dict)  # rig param group -> weight of its
    #                       channels in the diffusion loss (others 1), e.g. {"blink": 4.0}
    content: str = f"checkpoints/{CONTENT_ENCODER_DIR}"
    space: str = f"checkpoints/{EMOTION_SPACE_DIR}"
    sync: str = f"checkpoints/{LIP_SYNC_DIR}"
    seed: int = 0
    steps: int = 6000
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 300  # linear warm-up steps, then cosine decay
    ema: float = 0.999  # the saved weights are this exponential moving average
    cond_drop: float = 0.1  # classifier-free guidance: audio and style dropped together
    label_style: float = 0.5  # share of items whose style is the label prototype (else the clip's motion)
    w_diff: float = 1.0
    w_sync: float = 0.01
    w_emo: float = 0.01
    aux_batch: int = 8  # items per step that the lip-sync and emotion losses read (they cost a forward each)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    behaviour: BehaviourTrainConfig | None = field(default_factory=BehaviourTrainConfig)  # the blink, gaze and
    #                       head stream trained after the denoiser (diffusion only; None: the denoiser's own)
    window: int = 100  # training crop = the generator's window
    threads: int = 2  # CPU threads for torch
    limit: int | None = None  # clips (None: all)
    log: Callable[[str], None] = field(default=print, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in GENERATORS:
            raise EmoAnimError(f"generator kind must be one of {', '.join(GENERATORS)}, got '{self.kind}'")


# ---- what each model class is trained to do ---------------------------------------------------------


@dataclass
class Prediction:
    out: torch.Tensor  # [B, T, D] the denoiser's output
    target: torch.Tensor  # [B, T, D] what it should have been
    x0: torch.Tensor  # [B, T, D] its clean-sequence estimate (normalised), read by the sync and emotion losses
    aux: torch.Tensor  # [B] bool: items whose x0 estimate those losses may read


def diffusion_prediction(gen: MotionGenerator, x0, content, styles, mask, config: GeneratorTrainConfig,
                         rng) -> Prediction:
    """Noise x0 to a random level, drop the conditions of some items (guidance), predict."""
    sch = gen.scheduler
    B = x0.shape[0]
    t = torch.from_numpy(rng.integers(0, sch.num_train_steps, B)).to(x0.device)
    noise = torch.randn_like(x0)
    x_t = sch.add_noise(x0, noise, t)
    drop = torch.from_numpy(rng.random(B) < config.cond_drop).to(x0.device)
    out = gen.denoiser(x_t, t, content, styles, mask, drop)
    # From an eps prediction x0_hat is meaningful only at moderate noise: the auxiliary losses read
    # the items below half the schedule then.
    aux = ~drop if sch.prediction != "epsilon" else ~drop & (t < sch.num_train_steps // 2)
    return Prediction(out, sch.target(x0, noise, t), sch.to_x0(out, x_t, t), aux)


def regression_prediction(gen: RegressionGenerator, x0, content, styles, mask, config: GeneratorTrainConfig,
                          rng) -> Prediction:
    """The clean sequence straight from the conditions (x_t = 0, t = 0, nothing dropped)."""
    out = gen.predict(content, styles, mask)
    return Prediction(out, x0, out, torch.ones(x0.shape[0], dtype=torch.bool, device=x0.device))


PREDICTIONS: dict[type, Callable[..., Prediction]] = {MotionGenerator: diffusion_prediction,
                                                      RegressionGenerator: regression_prediction}


def channel_weights(rig: str, names: list[str], weights: dict[str, float]) -> torch.Tensor:
    """[D] loss weight per parameter: ``weights[group]`` for the channels of each named rig param
    group, 1 elsewhere, scaled to mean 1 so the loss keeps its size."""
    w = torch.ones(len(names))
    for group, value in weights.items():
        if value <= 0:
            raise EmoAnimError(f"the weight of '{group}' must be positive, got {value}")
        w[torch.from_numpy(params_in_groups(rig, names, [group]))] = float(value)
    return w / w.mean()


def generator_losses(gen: GeneratorBase, space: EmotionSpace, expert: LipSyncExpert, batch, styles,
                     config: GeneratorTrainConfig, rng, weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``weight`` [D]: per-channel weights of the diffusion loss (``channel_weights``; None: all 1)."""
    params, content, mask = batch
    B = params.shape[0]
    x0 = gen.normalize(params)
    p = PREDICTIONS[type(gen)](gen, x0, content, styles, mask, config, rng)
    m = mask[..., None].float()
    err = (p.out - p.target).square() * (m if weight is None else m * weight)
    losses = {"diff": err.sum() / (m.sum() * x0.shape[-1])}
    keep = p.aux & (torch.cumsum(p.aux.long(), 0) <= config.aux_batch)
    pred = gen.denormalize(p.x0)
    if config.w_sync and keep.any():
        lengths = mask.sum(1)
        W = expert.config.window
        room = (lengths - W + 1).clamp(min=1).cpu().numpy()
        starts = torch.from_numpy((rng.random(B) * room).astype(np.int64)).to(params.device)
        losses["sync"] = expert.sync_loss(pred[keep], content[keep], starts[keep])
    if config.w_emo and keep.any():
        z = space.embed_motion(pred[keep], mask[keep])
        losses["emo"] = (z - styles[keep]).square().sum(-1).mean()
    return losses


# ---- the loop ------------------------------------------------------------------------------------


def new_generator(train: GeneratorData, style_dim: int, config: GeneratorTrainConfig) -> GeneratorBase:
    """An untrained generator of ``config.kind`` sized for the data, normalised by its statistics."""
    denoiser = copy.deepcopy(config.denoiser)
    denoiser.num_params = len(train.names)
    denoiser.content_dim = train.content[0].shape[1]
    denoiser.style_dim = style_dim
    common = dict(rig=train.rig, param_names=train.names, fps=train.fps, denoiser=denoiser, window=config.window)
    if config.kind == "regression":
        model_config = RegressionConfig(**common)
    else:
        model_config = GeneratorConfig(**common, scheduler=SchedulerConfig(prediction=config.prediction),
                                       unguided_groups=list(config.unguided_groups))
    gen = GENERATORS[config.kind](model_config)
    gen.set_normalization(*param_stats(train))
    return gen


def train_generator(config: GeneratorTrainConfig) -> GeneratorBase:
    """Train and save (rank 0) one generator; under ``torchrun`` on every process of the group."""
    processes = distributed.start()
    try:
        torch.manual_seed(config.seed + processes.rank)
        torch.set_num_threads(config.threads)
        log = processes.log(config.log)
        train = prepare(config.corpus, "train", config.content, config.space, config.limit, log, config.route)
        space = EmotionSpace.from_pretrained(config.space)
        expert = LipSyncExpert.from_pretrained(config.sync)
        gen, training = fit_generator(train, space, expert, config, processes)
        if config.kind == "diffusion" and config.behaviour is None:
            training["command"] += " --behaviour-steps 0"
        elif config.kind == "diffusion" and processes.main:  # (a small model: one process trains it)
            with torch.no_grad():
                prototypes = space.prototypes()
            training["behaviour"] = fit_behaviour(gen, train, prototypes, config.behaviour, log)
            training["command"] += f" --behaviour-steps {config.behaviour.steps}"
        if processes.main:
            gen.save_pretrained(config.out, training=training)
    finally:
        distributed.stop(processes)
    return gen


def fit_generator(train: GeneratorData, space: EmotionSpace, expert: LipSyncExpert, config: GeneratorTrainConfig,
                  processes: distributed.Processes | None = None) -> tuple[GeneratorBase, dict]:
    """The training loop: (the EMA weights, the run's record for training.json). ``processes``: this
    process's place in a torchrun group (None: a single process on the CPU)."""
    procs = processes or distributed.Processes()
    device, log = procs.device, procs.log(config.log)
    rng = np.random.default_rng([config.seed, procs.rank])  # crops, noise levels, dropout: per process
    space.eval().requires_grad_(False).to(device)
    expert.eval().requires_grad_(False).to(device)
    with torch.no_grad():
        prototypes = space.prototypes()  # [classes, E]
    gen = new_generator(train, prototypes.shape[1], config).to(device)
    ema = copy.deepcopy(gen).requires_grad_(False)
    opt = torch.optim.AdamW(gen.denoiser.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / config.warmup)
                                              * 0.5 * (1 + np.cos(np.pi * min(1.0, s / config.steps))))
    weights = {"diff": config.w_diff, "sync": config.w_sync, "emo": config.w_emo}
    per_channel = (channel_weights(train.rig, train.names, config.channel_weights).to(device)
                   if config.channel_weights else None)
    motion_style = torch.from_numpy(train.motion_style).to(device)
    # Several processes: gradients averaged by DDP (the null condition vectors go unused by the regression).
    gen.denoiser = distributed.wrap(gen.denoiser, procs, find_unused=config.kind == "regression")
    order = distributed.batches(len(train), config.batch_size, procs, config.seed)
    t0 = time.time()
    running: dict[str, float] = {}
    try:
        for step in range(1, config.steps + 1):
            gen.train()
            idx = np.array(next(order))
            use_label = torch.from_numpy(rng.random(len(idx)) < config.label_style).to(device)[:, None]
            styles = torch.where(use_label, prototypes[train.label[idx]], motion_style[idx])
            batch = tuple(x.to(device) for x in crop_batch(train, idx, config.window, rng))
            losses = generator_losses(gen, space, expert, batch, styles, config, rng, per_channel)
            loss = sum(weights[k] * v for k, v in losses.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, p in zip(ema.denoiser.parameters(), gen.denoiser.parameters()):
                    pe.lerp_(p, 1 - config.ema)
            for k, v in losses.items():
                running[k] = 0.98 * running.get(k, v.item()) + 0.02 * v.item()
            if step % 200 == 0 or step == config.steps:
                losses_text = " ".join(f"{k} {v:.4f}" for k, v in running.items())
                log(f"{config.kind} step {step}/{config.steps} {losses_text} ({time.time() - t0:.0f} s)")
    finally:
        gen.denoiser = getattr(gen.denoiser, "module", gen.denoiser)  # unwrapped again
    launcher = f"torchrun --nproc_per_node {procs.world} -m emoanim" if procs.world > 1 else "python -m emoanim"
    training = {"train_seconds": round(time.time() - t0, 1), "steps": config.steps, "processes": procs.world,
                "final_losses": {k: round(v, 4) for k, v in running.items()},
                "command": f"{launcher} train generator --corpus {config.corpus} --out {config.out} "
                           f"--kind {config.kind} --prediction {config.prediction} --content-route {config.route} "
                           + "".join(f"--channel-weight {g}={w:g} " for g, w in config.channel_weights.items())
                           + "".join(f"--unguided {g} " for g in config.unguided_groups)
                           + f"--seed {config.seed} --steps {config.steps}"}
    return ema.eval().cpu(), training
