"""Rebuilding the audio side of a trained emotion space (``python -m emoanim train audio-side``).

The motion, label and text sides stay bit for bit as they are (so the generator, which reads motion
and label vectors, needs no retraining); only the frozen audio encoder and the audio adapter change:

1. every clip's speech goes once through the frozen Whisper encoder; its frames are cached next to
   the corpus (``derived/whisper-<model hash>-<split>-<clips>.npz``), because that is the slow part;
2. the small model over those frames (``WhisperEmotionEncoder``) learns emotion and intensity
   classification on random crops, keeping the best validation epoch (as stage 2 of ``train binding``);
3. it is frozen and the audio adapter learns InfoNCE onto the motion emotion vectors of the same
   clips' crops (as stage 3), plus cross-entropy onto the frozen label prototypes (what the product
   reads a voice by), keeping the epoch that best classifies the validation voices.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emoanim.binding.adapter import Adapter, embed_sequence, info_nce
from emoanim.binding.audio_encoder import WhisperEmotionConfig, WhisperEmotionEncoder
from emoanim.binding.space import EmotionSpace
from emoanim.data.clip_set import (INT16_SCALE, ClipSet, batches, embed_frozen, frozen_features, load_split,
                                  nearest_emotion, pad, random_crop)
from emoanim.data.corpus import Corpus
from emoanim.fileio import atomic_write
from emoanim.persistence import read_training
from emoanim.train.binding import BindingTrainConfig, PrototypeLoss, _run_facts, train_classifier


@dataclass
class AudioSideTrainConfig:
    space: Path  # a trained emotion space: everything but its audio encoder and audio adapter is kept exactly
    corpus: Path
    out: Path
    encoder: WhisperEmotionConfig = field(default_factory=WhisperEmotionConfig)  # the new audio encoder
    seed: int = 0
    classifier_epochs: int = 15  # step 2: emotion/intensity classification on cached frames
    adapter_epochs: int = 10  # step 3: the audio adapter
    batch_size: int = 64
    lr: float = 1e-3
    crop_seconds: tuple[float, float] = (2.0, 5.0)  # random crops in training, as in ``train binding``
    prototype_weight: float = 1.0  # weight of cross-entropy onto the label prototypes in step 3 (InfoNCE has 1)
    threads: int = 2
    limit: int | None = None  # at most this many clips per split (quick runs and tests)
    log: Callable[[str], None] = field(default=print, repr=False)


def cached_frames(corpus: Corpus, split: str, data: ClipSet, encoder: WhisperEmotionEncoder, digest: str,
                  log: Callable[[str], None] = print, batch: int = 8) -> list[np.ndarray]:
    """The frozen backbone's frames [T_i, H] (float16) of every clip of ``data`` (a split of ``corpus``),
    from the cache beside the corpus when it is there (``digest``: the backbone's weights' sha256)."""
    cache = corpus.root / "derived" / f"whisper-{digest[:12]}-{split}-{len(data)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return np.split(z["frames"], np.cumsum(z["lengths"])[:-1])
    started, frames = time.time(), []
    for b in range(0, len(data), batch):
        waves = [a.astype(np.float32) / INT16_SCALE for a in data.audio[b : b + batch]]
        frames += [f.astype(np.float16) for f in encoder.backbone_frames(waves)]
        if (b // batch) % 50 == 0:
            log(f"[audio side] Whisper frames of {split}: {len(frames)}/{len(data)} clips ({time.time() - started:.0f} s)")
    cache.parent.mkdir(exist_ok=True)
    atomic_write(cache, lambda f: np.savez(f, frames=np.concatenate(frames),
                                           lengths=np.array([len(x) for x in frames])), binary=True)
    log(f"[audio side] cached {split} frames in {time.time() - started:.0f} s -> {cache}")
    return frames


def frame_batch(data: ClipSet, idx: np.ndarray, rng, crop) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``make_batch`` over a split's cached backbone frames (``data.frames``): frames [B, T, H], mask [B, T];
    random crops of ``crop`` seconds in training, whole clips for evaluation (``crop=None``)."""
    seqs = [random_crop(data.frames[i], data.fps, crop, rng) if crop else data.frames[i] for i in idx]
    return pad([s.astype(np.float32) for s in seqs])


def _encode_frames(encoder: WhisperEmotionEncoder, inputs: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    return encoder.encode_frames(*inputs)


@torch.no_grad()
def _features(encoder: WhisperEmotionEncoder, data: ClipSet, batch_size: int = 64) -> list[torch.Tensor]:
    """The frozen encoder's features [T_i, F] of a split's whole clips (from its cached frames)."""
    encoder.eval()
    out = []
    for idx in batches(len(data), batch_size):
        features, mask = encoder.encode_frames(*frame_batch(data, idx, None, None))
        out += [f[: int(m.sum())] for f, m in zip(features, mask)]
    return out


def audio_accuracy(space: EmotionSpace, features: list[torch.Tensor], data: ClipSet) -> float:
    """Emotion accuracy of whole clips' audio vectors by their nearest label prototype."""
    with torch.no_grad():
        return float((nearest_emotion(space, embed_frozen(space, "audio", features)) == data.emotion).mean())


def fit_audio_adapter(space: EmotionSpace, train: ClipSet, val: ClipSet, features: dict, config: AudioSideTrainConfig) -> dict:
    """Train ``space.adapters['audio']`` from scratch: InfoNCE onto the motion vectors of crops of the same
    clips (the paper's binding) + ``prototype_weight`` x cross-entropy onto the frozen label prototypes."""
    rng = np.random.default_rng(config.seed + 7)
    torch.manual_seed(config.seed + 7)
    adapter = space.adapters["audio"]
    motion = frozen_features(space, train, modalities=("motion",))["motion"]
    log_scale = space.log_scale.detach()
    to_prototypes = PrototypeLoss(space)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.lr, weight_decay=0.01)
    batches = math.ceil(len(train) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.adapter_epochs * batches,
                                                   pct_start=0.1)
    crop = (int(config.crop_seconds[0] * train.fps), int(config.crop_seconds[1] * train.fps))
    best, best_state = {"val_audio_acc": -1.0}, None
    for epoch in range(config.adapter_epochs):
        started, losses = time.time(), []
        space.eval()
        adapter.train()
        for idx in np.array_split(rng.permutation(len(train)), batches):
            labels = torch.from_numpy(train.label[idx])
            with torch.no_grad():
                anchors = space.embed_features("motion", *pad([random_crop(motion[i].numpy(), 1.0, crop, rng) for i in idx]))
            audio = embed_sequence(adapter, *pad([random_crop(features["train"][i].numpy(), 1.0, crop, rng) for i in idx]))
            loss = info_nce(audio, anchors, labels, log_scale)
            if config.prototype_weight:
                loss = loss + config.prototype_weight * to_prototypes(audio, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        metrics = {"val_audio_acc": audio_accuracy(space, features["val"], val), "epoch": epoch + 1}
        config.log(f"[audio adapter] epoch {epoch + 1}/{config.adapter_epochs} loss {np.mean(losses):.3f} "
                   f"val audio {metrics['val_audio_acc']:.3f} ({time.time() - started:.0f} s)")
        if metrics["val_audio_acc"] > best["val_audio_acc"]:
            best, best_state = metrics, {k: v.clone() for k, v in adapter.state_dict().items()}
    adapter.load_state_dict(best_state)
    space.eval()
    return best


def train_audio_side(config: AudioSideTrainConfig) -> EmotionSpace:
    """A saved space with a new audio encoder and audio adapter; its other weights are checked unchanged."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    space = EmotionSpace.from_pretrained(config.space)
    space.requires_grad_(False)
    kept = {k: v.clone() for k, v in space.state_dict().items()
            if not k.startswith(("audio_encoder.", "adapters.audio."))}
    corpus = Corpus(config.corpus)
    train, val = load_split(corpus, "train", config.limit), load_split(corpus, "val", config.limit)
    config.log(f"corpus {config.corpus}: {len(train)} train / {len(val)} val clips; audio side of {config.space}")
    encoder = WhisperEmotionEncoder(config.encoder)
    digest = encoder.backbone_digest()
    for name, data in (("train", train), ("val", val)):
        data.frames = cached_frames(corpus, name, data, encoder, digest, config.log)

    classifier = BindingTrainConfig(corpus=config.corpus, out=config.out, seed=config.seed, batch_size=config.batch_size,
                                    lr=config.lr, crop_seconds=config.crop_seconds, log=config.log)
    head = train_classifier("audio", encoder, frame_batch, train, val, classifier, config.classifier_epochs,
                            features=_encode_frames)
    encoder.requires_grad_(False)
    space.audio_encoder, space.config.audio_encoder = encoder, encoder.config
    space.adapters["audio"] = Adapter(encoder.feature_dim, space.config.embed_dim, space.config.adapter_hidden)
    features = {name: _features(encoder, data) for name, data in (("train", train), ("val", val))}
    adapter = fit_audio_adapter(space, train, val, features, config)

    after = space.state_dict()
    changed = [k for k, v in kept.items() if not torch.equal(v, after[k])]
    if changed:
        raise RuntimeError(f"rebuilding the audio side changed other weights: {changed[:5]}")
    facts = _run_facts(replace(config, encoder=None)) | {"encoder": str(config.encoder)}
    training = {**read_training(config.space), "audio_side": {"audio_encoder": head, "audio_adapter": adapter,
                                                              "train_config": facts}}
    space.save_pretrained(config.out, training=training)
    config.log(f"saved {config.out} (val: audio encoder head {head['emotion_acc']:.3f}, "
               f"audio vectors {adapter['val_audio_acc']:.3f})")
    return space
