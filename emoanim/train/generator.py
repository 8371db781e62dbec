"""Training the lip-sync expert and the generator (diffusion or the regression baseline), in one place.

    python -m emoanim train sync      --corpus data/syn --out checkpoints/lip_sync --seed 0
    python -m emoanim train generator --corpus data/syn --out checkpoints/generator --seed 0
    python -m emoanim train generator --corpus data/syn --out checkpoints/regression --kind regression --seed 0

Both read the corpus through ``prepare``: every clip's rig parameters, its content features from the
frozen content encoder, and its emotion targets from the frozen emotion space (the motion embedding
of the clip and the label prototype of its class). The result is cached next to the corpus, keyed by
the two checkpoints, because encoding 6 hours of audio is the slowest part of a short run.

Loss (Eq. 9): L = w_diff * MSE(x0_hat, x0) + w_sync * L_sync(x0_hat) + w_emo * ||E_emo(x0_hat) - z_s||^2.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.vocabulary import label_class
from emoanim.data.corpus import Corpus
from emoanim.diffusion.denoiser import DenoiserConfig, align_content
from emoanim.diffusion.generator import GeneratorConfig, MotionGenerator
from emoanim.diffusion.sync_expert import LipSyncExpert, SyncExpertConfig, mouth_param_names
from emoanim.fileio import atomic_write

K = 2  # content frames per motion frame


@dataclass
class GeneratorData:
    """One split in memory: rig params [T, D], content [2T, C], emotion targets."""

    params: list[np.ndarray]
    content: list[np.ndarray]
    label: np.ndarray  # [N] emotion x intensity class
    emotion: np.ndarray  # [N] emotion index
    motion_style: np.ndarray  # [N, E] the emotion space's embedding of each clip's motion
    names: list[str]
    rig: str
    fps: float

    def __len__(self) -> int:
        return len(self.params)


def _digest(folder: str | Path) -> str:
    h = hashlib.sha1()
    for name in ("model.safetensors", "config.json"):
        p = Path(folder) / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def prepare(corpus_dir: str | Path, split: str, content_dir: str | Path, space_dir: str | Path,
            limit: int | None = None, log: Callable[[str], None] = print) -> GeneratorData:
    from emoanim.audio.content import load_content_encoder

    corpus = Corpus(corpus_dir)
    infos = corpus.clips(split)[:limit]
    cache = Path(corpus_dir) / "derived" / f"gen-{split}-{len(infos)}-{_digest(content_dir)}-{_digest(space_dir)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            lengths = z["lengths"]
            cut = np.cumsum(lengths)[:-1]
            params = np.split(z["params"], cut)
            content = np.split(z["content"], K * cut)
            return GeneratorData(params, content, z["label"], z["emotion"], z["motion_style"],
                                 list(corpus.meta.names), corpus.meta.rig, corpus.meta.fps)
    t0 = time.time()
    encoder = load_content_encoder(content_dir)
    space = EmotionSpace.from_pretrained(space_dir)
    params, content, label, emotion, styles = [], [], [], [], []
    batch = 32
    for b in range(0, len(infos), batch):
        clips = [corpus.load(info.id) for info in infos[b : b + batch]]
        waves = [torch.from_numpy(c.audio) for c in clips]
        lengths = torch.tensor([len(w) for w in waves])
        wave = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
        feats, mask = encoder(wave, lengths)
        for c, f, m in zip(clips, feats, mask):
            T = len(c.params)
            params.append(c.params.astype(np.float32))
            content.append(align_content(f[: int(m.sum())], T, K).numpy())
            label.append(label_class(c.info.emotion, c.info.intensity))
            emotion.append(label[-1] // 3)
        p = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(c.params) for c in clips], batch_first=True)
        pm = torch.arange(p.shape[1])[None] < torch.tensor([len(c.params) for c in clips])[:, None]
        styles.append(space.embed_motion(p.float(), pm).numpy())
    data = GeneratorData(params, content, np.array(label), np.array(emotion), np.concatenate(styles),
                         list(corpus.meta.names), corpus.meta.rig, corpus.meta.fps)
    cache.parent.mkdir(exist_ok=True)
    atomic_write(cache, lambda f: np.savez(f, params=np.concatenate(params), content=np.concatenate(content),
             lengths=np.array([len(p) for p in params]), label=data.label, emotion=data.emotion,
             motion_style=data.motion_style), binary=True)  # concurrent runs may share the cache
    log(f"prepared {split}: {len(infos)} clips in {time.time() - t0:.0f} s -> {cache}")
    return data


def param_stats(data: GeneratorData) -> tuple[torch.Tensor, torch.Tensor]:
    allp = np.concatenate(data.params)
    return torch.from_numpy(allp.mean(0)), torch.from_numpy(allp.std(0))


def crop_batch(data: GeneratorData, idx, window: int, rng: np.random.Generator):
    """Random crops of at most ``window`` frames: params [B, T, D], content [B, 2T, C], mask [B, T]."""
    crops = []
    for i in idx:
        n = len(data.params[i])
        s = int(rng.integers(0, n - window + 1)) if n > window else 0
        e = min(n, s + window)
        crops.append((data.params[i][s:e], data.content[i][K * s : K * e]))
    T = max(len(p) for p, _ in crops)
    D, C = crops[0][0].shape[1], crops[0][1].shape[1]
    params = torch.zeros(len(idx), T, D)
    content = torch.zeros(len(idx), K * T, C)
    mask = torch.zeros(len(idx), T, dtype=torch.bool)
    for b, (p, c) in enumerate(crops):
        params[b, : len(p)] = torch.from_numpy(p)
        params[b, len(p) :] = torch.from_numpy(p[-1:])  # hold the last pose on padding (masked anyway)
        content[b] = align_content(torch.from_numpy(c), T, K)
        mask[b, : len(p)] = True
    return params, content, mask


# ---- the lip-sync expert ------------------------------------------------------------------------


@dataclass
class SyncTrainConfig:
    corpus: str
    out: str
    content: str = "checkpoints/content_encoder"
    space: str = "checkpoints/emotion_space"
    seed: int = 0
    steps: int = 3000
    batch_size: int = 256
    lr: float = 1e-3
    threads: int = 2
    limit: int | None = None
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
    train = prepare(config.corpus, "train", config.content, config.space, config.limit, config.log)
    test = prepare(config.corpus, "test", config.content, config.space, config.limit, config.log)
    expert = LipSyncExpert(SyncExpertConfig(param_names=train.names, mouth_names=mouth_param_names(train.names),
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
    metrics = {"test": sync_metrics(expert, test), "train_seconds": round(time.time() - t0, 1),
               "command": f"python -m emoanim train sync --corpus {config.corpus} --out {config.out} --seed {config.seed}"}
    config.log(f"lip-sync expert on test: {metrics['test']}")
    expert.save_pretrained(config.out, metrics)
    return expert.eval()


# ---- the generator ------------------------------------------------------------------------------


@dataclass
class GeneratorTrainConfig:
    corpus: str
    out: str
    kind: str = "diffusion"  # or "regression"
    prediction: str = "sample"  # the denoiser predicts x0 ("sample") or the noise ("epsilon")
    content: str = "checkpoints/content_encoder"
    space: str = "checkpoints/emotion_space"
    sync: str = "checkpoints/lip_sync"
    seed: int = 0
    steps: int = 6000
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 300
    ema: float = 0.999
    cond_drop: float = 0.1  # classifier-free guidance: audio and style dropped together
    label_style: float = 0.5  # share of items whose style is the label prototype (else the clip's motion)
    w_diff: float = 1.0
    w_sync: float = 0.01
    w_emo: float = 0.01
    aux_batch: int = 8  # items per step that the lip-sync and emotion losses read (they cost a forward each)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    window: int = 100
    threads: int = 2
    limit: int | None = None
    log: Callable[[str], None] = field(default=print, repr=False)


def generator_losses(gen: MotionGenerator, space: EmotionSpace, expert: LipSyncExpert, batch, styles,
                     config: GeneratorTrainConfig, rng) -> dict[str, torch.Tensor]:
    params, content, mask = batch
    B, T, _ = params.shape
    x0 = gen.normalize(params)
    if config.kind == "regression":
        t = torch.zeros(B, dtype=torch.long)
        x_t = torch.zeros_like(x0)
        drop = torch.zeros(B, dtype=torch.bool)
    else:
        t = torch.from_numpy(rng.integers(0, gen.scheduler.num_train_steps, B))
        noise = torch.randn_like(x0)
        x_t = gen.scheduler.add_noise(x0, noise, t)
        drop = torch.from_numpy(rng.random(B) < config.cond_drop)
    out = gen.denoiser(x_t, t, content, styles, mask, drop)
    target = noise if config.kind == "diffusion" and gen.config.prediction == "epsilon" else x0
    m = mask[..., None].float()
    losses = {"diff": ((out - target).square() * m).sum() / (m.sum() * x0.shape[-1])}
    x0_hat = gen.to_x0(out, x_t, t) if config.kind == "diffusion" else out
    # The sync and emotion losses read x0_hat; from an eps prediction it is meaningful only at
    # moderate noise, so they are applied to items with t below half the schedule.
    usable = ~drop if gen.config.prediction == "sample" else ~drop & (t < gen.scheduler.num_train_steps // 2)
    keep = usable & (torch.cumsum(usable.long(), 0) <= config.aux_batch)
    pred = gen.denormalize(x0_hat)
    if config.w_sync and keep.any():
        lengths = mask.sum(1)
        W = expert.config.window
        starts = torch.from_numpy((rng.random(B) * (lengths - W + 1).clamp(min=1).numpy()).astype(np.int64))
        losses["sync"] = expert.sync_loss(pred[keep], content[keep], starts[keep])
    if config.w_emo and keep.any():
        z = space.embed_motion(pred[keep], mask[keep])
        losses["emo"] = (z - styles[keep]).square().sum(-1).mean()
    return losses


def train_generator(config: GeneratorTrainConfig) -> MotionGenerator:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    train = prepare(config.corpus, "train", config.content, config.space, config.limit, config.log)
    space = EmotionSpace.from_pretrained(config.space)
    expert = LipSyncExpert.from_pretrained(config.sync)
    gen = fit_generator(train, space, expert, config)
    gen.save_pretrained(config.out)
    return gen


def fit_generator(train: GeneratorData, space: EmotionSpace, expert: LipSyncExpert,
                  config: GeneratorTrainConfig) -> MotionGenerator:
    """The training loop: returns the EMA weights, with the run's facts in ``config.metrics``."""
    rng = np.random.default_rng(config.seed)
    space.eval().requires_grad_(False)
    expert.eval().requires_grad_(False)
    with torch.no_grad():
        prototypes = space.prototypes()  # [classes, E]
    denoiser = copy.deepcopy(config.denoiser)
    denoiser.num_params = len(train.names)
    denoiser.content_dim = train.content[0].shape[1]
    denoiser.style_dim = prototypes.shape[1]
    gen = MotionGenerator(GeneratorConfig(rig=train.rig, param_names=train.names, fps=train.fps, kind=config.kind,
                                          prediction=config.prediction, denoiser=denoiser, window=config.window))
    gen.set_normalization(*param_stats(train))
    ema = copy.deepcopy(gen).requires_grad_(False)
    opt = torch.optim.AdamW(gen.denoiser.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / config.warmup)
                                              * 0.5 * (1 + np.cos(np.pi * min(1.0, s / config.steps))))
    weights = {"diff": config.w_diff, "sync": config.w_sync, "emo": config.w_emo}
    t0 = time.time()
    running: dict[str, float] = {}
    for step in range(1, config.steps + 1):
        gen.train()
        idx = rng.integers(0, len(train), config.batch_size)
        use_label = torch.from_numpy(rng.random(len(idx)) < config.label_style)[:, None]
        styles = torch.where(use_label, prototypes[train.label[idx]], torch.from_numpy(train.motion_style[idx]))
        losses = generator_losses(gen, space, expert, crop_batch(train, idx, config.window, rng), styles, config, rng)
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
            config.log(f"{config.kind} step {step}/{config.steps} " + " ".join(f"{k} {v:.4f}" for k, v in running.items())
                       + f" ({time.time() - t0:.0f} s)")
    ema.config.metrics = {"train_seconds": round(time.time() - t0, 1), "steps": config.steps,
                          "final_losses": {k: round(v, 4) for k, v in running.items()},
                          "command": f"python -m emoanim train generator --corpus {config.corpus} --out {config.out} "
                                     f"--kind {config.kind} --prediction {config.prediction} --seed {config.seed} --steps {config.steps}"}
    return ema.eval()
