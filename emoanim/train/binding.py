"""Training the emotion space, all in one place (``python -m emoanim train binding``).

Three stages, as in the paper's Sec. III-A:
1. the motion encoder learns emotion and intensity classification (it is also the judge later);
2. the compact audio emotion encoder learns the same from speech;
3. both are frozen, and the adapters (motion, audio, text, label) plus the label embedding and
   temperature are trained with InfoNCE, every modality pulled onto the motion emotion vectors.
Everything is seeded; the result is saved with ``EmotionSpace.save_pretrained`` (the run's facts
and validation scores in ``training.json`` beside it).

``python -m emoanim train text-adapter`` retrains the text adapter alone on a trained space (its
other weights stay bit for bit as they are), optionally on another text backbone (``--text-encoder``):
it reads the backbone's sentence embedding, sees feature dropout, learns the training pool's
phrasings, their denials ('not angry at all' -> neutral) and text with no emotion (-> neutral), is
pulled by InfoNCE onto the label prototypes (which stage 3 bound to the motion vectors), and keeps
the epoch that best classifies the 'dev' pool — phrasings that share no word with the training pool
nor with the test split's held-out pool.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from emoanim.binding.adapter import Adapter, embed_sequence, info_nce
from emoanim.binding.audio_encoder import AudioEncoderConfig
from emoanim.binding.motion_encoder import MotionEncoderConfig
from emoanim.binding.space import EmotionSpace, EmotionSpaceConfig
from emoanim.data.clip_set import (
    CLASS_EMOTION,
    ClipSet,
    audio_batch,
    embed_frozen,
    encoder_features,
    evaluate_classifier,
    frozen_features,
    load_split,
    motion_batch,
    nearest_emotion,
    pad,
    random_crop,
)
from emoanim.data.corpus import Corpus
from emoanim.data.descriptions import description_pool, emotionless_texts, idiom_pool, phrasing_pool
from emoanim.persistence import read_training
from emoanim.text.encoder import TextEncoder
from emoanim.vocabulary import VALID_CLASSES, class_label, label_class


@dataclass
class BindingTrainConfig:
    corpus: Path
    out: Path
    seed: int = 0
    motion_epochs: int = 25
    audio_epochs: int = 25
    bind_epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    crop_seconds: tuple[float, float] = (2.0, 5.0)
    descriptions_from_pool: float = 0.5  # share of text samples drawn fresh from the training phrasings
    threads: int = 2
    limit: int | None = None  # at most this many clips per split (quick runs and tests)
    log: Callable[[str], None] = field(default=print, repr=False)


# --- stages 1 and 2: classification pre-training ---------------------------------------------
def train_classifier(
    name: str,
    encoder: torch.nn.Module,
    make_batch: Callable,  # (data, idx, rng, crop) -> model inputs (tuple)
    train: ClipSet,
    val: ClipSet,
    config: BindingTrainConfig,
    epochs: int,
    features: Callable = encoder_features,  # (encoder, inputs) -> (features, mask)
) -> dict:
    """Emotion + intensity cross-entropy; keeps the weights of the best validation epoch."""
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=config.lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps, pct_start=0.1)
    best = {"emotion_acc": -1.0}
    best_state = None
    for epoch in range(epochs):
        encoder.train()
        started, losses = time.time(), []
        for idx in np.array_split(rng.permutation(len(train)), math.ceil(len(train) / config.batch_size)):
            inputs = make_batch(train, idx, rng, config.crop_seconds)
            emotion_logits, intensity_logits = encoder.classify(*features(encoder, inputs))
            loss = F.cross_entropy(emotion_logits, torch.from_numpy(train.emotion[idx])) + 0.5 * F.cross_entropy(
                intensity_logits, torch.from_numpy(train.intensity[idx])
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        metrics = evaluate_classifier(encoder, make_batch, val, features=features)
        config.log(f"[{name}] epoch {epoch + 1}/{epochs} loss {np.mean(losses):.3f} val emotion "
                   f"{metrics['emotion_acc']:.3f} intensity {metrics['intensity_acc']:.3f} ({time.time() - started:.0f} s)")
        if metrics["emotion_acc"] + 0.5 * metrics["intensity_acc"] > best["emotion_acc"] + 0.5 * best.get("intensity_acc", 0):
            best, best_state = metrics, {k: v.clone() for k, v in encoder.state_dict().items()}
    encoder.load_state_dict(best_state)
    return best


# --- stage 3: binding -------------------------------------------------------------------------
def bind(space: EmotionSpace, train: ClipSet, val: ClipSet, config: BindingTrainConfig) -> dict:
    """Stage 3: train adapters, label embedding and temperature with InfoNCE onto motion."""
    rng = np.random.default_rng(config.seed + 3)
    torch.manual_seed(config.seed + 3)
    features = {"train": frozen_features(space, train), "val": frozen_features(space, val)}
    pools = _description_pools(train.label, "train")
    text = space.text_encoder  # frozen; its cache holds every phrasing after this first pass
    text.encode(sorted({t for p in pools.values() for t in p} | {t for d in train.descriptions + val.descriptions for t in d}))
    trainable = [*space.adapters.parameters(), *space.label_embedding.parameters(), space.log_scale]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.01)
    steps = config.bind_epochs * math.ceil(len(train) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps, pct_start=0.1)
    crop_frames = (int(config.crop_seconds[0] * train.fps), int(config.crop_seconds[1] * train.fps))
    best, best_state = {"mean_acc": -1.0}, None
    for epoch in range(config.bind_epochs):
        space.adapters.train()
        losses = []
        for idx in np.array_split(rng.permutation(len(train)), math.ceil(len(train) / config.batch_size)):
            labels = torch.from_numpy(train.label[idx])
            motion = _crop_features([features["train"]["motion"][i] for i in idx], crop_frames, rng)
            audio = _crop_features([features["train"]["audio"][i] for i in idx], crop_frames, rng)  # also 25 fps
            texts = sample_texts(train, idx, pools, config.descriptions_from_pool, rng)
            anchors = space.embed_features("motion", *motion)  # [B, E]: every modality is pulled onto motion
            loss = (
                info_nce(space.embed_features("audio", *audio), anchors, labels, space.log_scale)
                + info_nce(space.embed_features("text", *text.encode(texts)), anchors, labels, space.log_scale)
                + info_nce(space.embed_labels(labels), anchors, labels, space.log_scale)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        metrics = binding_accuracy(space, features["val"], val)
        config.log(f"[binding] epoch {epoch + 1}/{config.bind_epochs} loss {np.mean(losses):.3f} val "
                   + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if metrics["mean_acc"] > best["mean_acc"]:
            best, best_state = metrics, {k: v.clone() for k, v in space.state_dict().items()}
    space.load_state_dict(best_state)
    return best


def sample_texts(data: ClipSet, idx: np.ndarray, pools: dict, from_pool: float, rng) -> list[str]:
    """One description per clip: with probability ``from_pool`` any phrasing of its class, else one of its own."""
    return [
        pools[data.label[i]][int(rng.integers(len(pools[data.label[i]])))]
        if rng.random() < from_pool
        else data.descriptions[i][int(rng.integers(len(data.descriptions[i])))]
        for i in idx
    ]


def _description_pools(labels: np.ndarray, split: str, negations: bool = False) -> dict[int, tuple[str, ...]]:
    """Every phrasing of each (emotion, intensity) class in ``labels``, from one description pool
    (with ``negations``: also the denials that read as the class, ``phrasing_pool``)."""
    pool = phrasing_pool if negations else description_pool
    return {int(c): pool(*class_label(int(c)), split) for c in np.unique(labels)}


def _crop_features(seqs: list[torch.Tensor], frames: tuple[int, int], rng) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops of per-clip frozen features (``frames`` range, in feature frames) -> padded batch and mask."""
    return pad([random_crop(s.numpy(), 1.0, frames, rng) for s in seqs])


@torch.no_grad()
def binding_accuracy(space: EmotionSpace, features: dict, data: ClipSet) -> dict:
    """Emotion accuracy of each modality by its nearest label prototype."""
    space.eval()
    out = {}
    for modality in ("motion", "audio", "text"):
        if modality == "text":
            vectors = space.embed_texts([texts[0] for texts in data.descriptions])
        else:
            vectors = embed_frozen(space, modality, features[modality])
        out[f"{modality}_acc"] = float((nearest_emotion(space, vectors) == data.emotion).mean())
    out["mean_acc"] = float(np.mean(list(out.values())))
    return out


def _run_facts(config) -> dict[str, str]:
    """A training config as plain strings (its log function aside), for ``training.json``."""
    return {k: str(v) for k, v in asdict(config).items() if k != "log"}


# --- the whole recipe --------------------------------------------------------------------------
def train_binding(config: BindingTrainConfig) -> EmotionSpace:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    corpus = Corpus(config.corpus)
    train, val = load_split(corpus, "train", config.limit), load_split(corpus, "val", config.limit)
    config.log(f"corpus {config.corpus}: {len(train)} train / {len(val)} val clips")
    space = EmotionSpace(
        EmotionSpaceConfig(
            motion_encoder=MotionEncoderConfig(param_names=list(corpus.meta.names), rig=corpus.meta.rig),
            audio_encoder=AudioEncoderConfig(),
        )
    )
    stacked = np.concatenate(train.params)
    space.motion_encoder.set_normalization(stacked.mean(0), stacked.std(0))
    metrics = {"motion_encoder": train_classifier("motion", space.motion_encoder, motion_batch, train, val, config,
                                                  config.motion_epochs)}
    metrics["audio_encoder"] = train_classifier("audio", space.audio_encoder, audio_batch, train, val, config,
                                                config.audio_epochs)
    for module in (space.motion_encoder, space.audio_encoder):
        module.requires_grad_(False)
    metrics["binding_val"] = bind(space, train, val, config)
    space.save_pretrained(config.out, training={"val": metrics, "train_config": _run_facts(config)})
    config.log(f"saved {config.out}")
    return space


# --- retraining the text adapter alone ---------------------------------------------------------
@dataclass
class TextAdapterTrainConfig:
    space: Path  # a trained emotion space: everything but its text adapter is kept exactly
    corpus: Path
    out: Path
    text_encoder: str | None = None  # a text backbone (text/backbones.py) or model folder; None = the space's own
    seed: int = 0
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    feature_dropout: float = 0.5  # dropout on the frozen text encoder's features (training only)
    sentence_token: bool = True  # the adapter also reads the mean token feature (``text_sentence_token``)
    tokens: bool = False  # False: it reads the sentence step alone (``text_tokens``); token features read
    #                      held-out phrasings worse (issue-13 note)
    crop_seconds: tuple[float, float] = (2.0, 5.0)  # motion anchors: random crops, as in ``bind``
    descriptions_from_pool: float = 0.5
    motion_weight: float = 0.0  # weight of InfoNCE onto the motion emotion vectors of the clips' crops (noisy
    #                              anchors: measured worse on held-out phrasings than the prototypes alone)
    prototype_weight: float = 1.0  # weight of a second InfoNCE onto the (frozen) label prototypes: every text
    #                                  pulled onto its class's prototype, pushed from the other classes'
    emotionless: float = 0.3  # share of neutral clips whose text is one that carries no emotion ("the table")
    idioms: float = 0.0  # share of texts that are an idiom or exclamation of the clip's class ("on cloud nine");
    #                      0.15 read probes and idioms better but denials and contempt worse (issue-13 note)
    dev_per_class: int = 60  # model selection: this many 'dev' pool phrasings per class (fewer if the pool is smaller)
    threads: int = 2
    limit: int | None = None
    log: Callable[[str], None] = field(default=print, repr=False)


EMOTIONLESS_TEXTS = 3000  # emotionless training texts drawn (sentences, things, keyboard mashing)


def dev_descriptions(per_class: int, seed: int) -> tuple[list[str], np.ndarray]:
    """A seeded sample of the 'dev' description pool (never the test split's 'heldout' pool) and
    the emotion index of each phrasing."""
    rng = np.random.default_rng(seed)
    texts, emotions = [], []
    for label, pool in _description_pools(np.array(VALID_CLASSES), "dev", negations=True).items():
        chosen = rng.permutation(len(pool))[:per_class]
        texts += [pool[i] for i in sorted(chosen)]
        emotions += [CLASS_EMOTION[label]] * len(chosen)
    return texts, np.array(emotions)


@torch.no_grad()
def text_accuracy(space: EmotionSpace, texts: list[str], emotions: np.ndarray, batch_size: int = 512) -> float:
    """Emotion accuracy of texts by their nearest label prototype."""
    space.eval()
    vectors = torch.cat([space.embed_texts(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)])
    return float((nearest_emotion(space, vectors) == emotions).mean())


class PrototypeLoss:
    """Cross-entropy of emotion vectors [B, E] against the space's frozen label prototypes, at its InfoNCE
    temperature: each vector pulled onto its class's prototype and pushed from the other classes'."""

    def __init__(self, space: EmotionSpace) -> None:
        self.log_scale = space.log_scale.detach()
        with torch.no_grad():
            self.prototypes = space.prototypes()[VALID_CLASSES]  # [classes, E]
        self.index = torch.full((max(VALID_CLASSES) + 1,), -1, dtype=torch.long)  # class -> row of prototypes
        self.index[torch.tensor(VALID_CLASSES)] = torch.arange(len(VALID_CLASSES))

    def __call__(self, vectors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(vectors @ self.prototypes.T * self.log_scale.exp(), self.index[labels])


def fit_text_adapter(space: EmotionSpace, train: ClipSet, config: TextAdapterTrainConfig) -> dict:
    """Train ``space.adapters['text']`` from scratch with InfoNCE onto the frozen label prototypes and/or the
    motion emotion vectors of random crops (as in ``bind``), by the config's weights; keep the epoch with
    the best 'dev' pool accuracy."""
    rng = np.random.default_rng(config.seed + 5)
    torch.manual_seed(config.seed + 5)
    adapter = space.adapters["text"]
    for layer in adapter.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.reset_parameters()
    motion = frozen_features(space, train, modalities=("motion",))["motion"]
    pools = _description_pools(train.label, "train", negations=True)
    plain = emotionless_texts("train", EMOTIONLESS_TEXTS, config.seed)
    idioms = {int(c): idiom_pool(*class_label(int(c)), "train") for c in np.unique(train.label)}
    neutral = label_class("neutral", 1)
    dev_texts, dev_emotions = dev_descriptions(config.dev_per_class, config.seed)
    text = space.text_encoder  # frozen; encode every phrasing once, the cache serves the rest
    phrasings = ({t for p in pools.values() for t in p} | {t for d in train.descriptions for t in d} | set(dev_texts)
                 | set(plain))
    text.cache_size = max(text.cache_size, len(phrasings))
    text.encode(sorted(phrasings))
    log_scale = space.log_scale.detach()
    to_prototypes = PrototypeLoss(space)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.lr, weight_decay=0.01)
    batches = math.ceil(len(train) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.epochs * batches,
                                                   pct_start=0.1)
    crop_frames = (int(config.crop_seconds[0] * train.fps), int(config.crop_seconds[1] * train.fps))
    best, best_state = {"dev_text_acc": -1.0}, None
    for epoch in range(config.epochs):
        started, losses = time.time(), []
        space.eval()  # the frozen parts stay in eval mode (no dropout in the motion adapter) ...
        adapter.train()  # ... only the text adapter trains
        for idx in np.array_split(rng.permutation(len(train)), batches):
            with torch.no_grad():
                anchors = space.embed_features("motion", *_crop_features([motion[i] for i in idx], crop_frames, rng))
            texts = sample_texts(train, idx, pools, config.descriptions_from_pool, rng)
            for j, i in enumerate(idx):  # neutral clips also anchor text with no emotion in it
                if train.label[i] == neutral and rng.random() < config.emotionless:
                    texts[j] = plain[int(rng.integers(len(plain)))]
                elif rng.random() < config.idioms:
                    options = idioms[train.label[i]]
                    texts[j] = options[int(rng.integers(len(options)))]
            tokens, mask = space.text_input(texts)
            text_vectors = embed_sequence(adapter, F.dropout(tokens, config.feature_dropout), mask)
            labels = torch.from_numpy(train.label[idx])
            loss = config.motion_weight * info_nce(text_vectors, anchors, labels, log_scale)
            if config.prototype_weight:
                loss = loss + config.prototype_weight * to_prototypes(text_vectors, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        metrics = {"dev_text_acc": text_accuracy(space, dev_texts, dev_emotions), "epoch": epoch + 1}
        config.log(f"[text adapter] epoch {epoch + 1}/{config.epochs} loss {np.mean(losses):.3f} "
                   f"dev text {metrics['dev_text_acc']:.3f} ({time.time() - started:.0f} s)")
        if metrics["dev_text_acc"] > best["dev_text_acc"]:
            best, best_state = metrics, {k: v.clone() for k, v in adapter.state_dict().items()}
    adapter.load_state_dict(best_state)
    space.eval()
    return best


def use_text_backbone(space: EmotionSpace, encoder: TextEncoder) -> None:
    """Give ``space`` another frozen text backbone and a fresh text adapter of its width (to be trained)."""
    space.config.text_encoder, space.config.text_dim = encoder.name, encoder.dim
    old = space.adapters["text"]
    space.adapters["text"] = Adapter(encoder.dim, space.config.embed_dim, space.config.adapter_hidden)
    space.adapters["text"].to(next(old.parameters()).device)
    space._text_encoder = encoder


def train_text_adapter(config: TextAdapterTrainConfig) -> EmotionSpace:
    """Retrain the text adapter of a saved space; its other weights are checked unchanged before saving."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    space = EmotionSpace.from_pretrained(config.space)
    space.requires_grad_(False)
    space.adapters["text"].requires_grad_(True)
    kept = {k: v.clone() for k, v in space.state_dict().items() if not k.startswith("adapters.text.")}
    space.config.text_sentence_token, space.config.text_tokens = config.sentence_token, config.tokens
    if config.text_encoder is not None and config.text_encoder != space.config.text_encoder:
        use_text_backbone(space, TextEncoder(config.text_encoder))
    train = load_split(Corpus(config.corpus), "train", config.limit)
    config.log(f"corpus {config.corpus}: {len(train)} train clips; text adapter of {config.space}")
    result = fit_text_adapter(space, train, config)
    after = space.state_dict()
    changed = [k for k, v in kept.items() if not torch.equal(v, after[k])]
    if changed:
        raise RuntimeError(f"retraining the text adapter changed other weights: {changed[:5]}")
    training = {**read_training(config.space), "text_adapter": {**result, "train_config": _run_facts(config)}}
    space.save_pretrained(config.out, training=training)
    config.log(f"saved {config.out} (dev text accuracy {result['dev_text_acc']:.3f}, epoch {result['epoch']})")
    return space
