"""A corpus split in memory for the emotion space (``ClipSet``), its batches, and the measures that
training (model selection) and evaluation share.

    corpus --load_split--> ClipSet (motion [T, D], int16 speech, labels, descriptions per clip)
        --motion_batch / audio_batch--> padded model inputs
        --frozen_features--> per-clip feature sequences of the frozen motion and audio encoders
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from emoanim.binding.motion_encoder import augment_motion
from emoanim.binding.space import EmotionSpace
from emoanim.data.corpus import Corpus
from emoanim.data.descriptions import descriptions
from emoanim.vocabulary import EMOTIONS, NUM_CLASSES, SAMPLE_RATE, class_label, label_class

INT16_SCALE = 32767.0  # speech is kept as int16 (half the memory of float32)
CLASS_EMOTION = np.array([EMOTIONS.index(class_label(c)[0]) for c in range(NUM_CLASSES)])  # class -> emotion index
CLASS_INTENSITY = np.array([class_label(c)[1] - 1 for c in range(NUM_CLASSES)])  # class -> intensity 0..2


@dataclass
class ClipSet:
    """A split held in memory: what every stage trains or evaluates on."""

    params: list[np.ndarray]  # [T, D] each
    audio: list[np.ndarray]  # int16 [N] each, 16 kHz
    emotion: np.ndarray  # [C] emotion index
    intensity: np.ndarray  # [C] 0..2
    label: np.ndarray  # [C] emotion x intensity class
    descriptions: list[list[str]]  # the phrasings of each clip's emotion
    fps: float  # motion frame rate
    frames: list[np.ndarray] | None = None  # a frozen speech backbone's frames [T_i, H] at ``fps``, when cached

    def __len__(self) -> int:
        return len(self.params)


DESCRIPTIONS_PER_IMPORTED_CLIP = 3


def load_split(corpus: Corpus, split: str, limit: int | None = None) -> ClipSet:
    """The first ``limit`` clips (all when None) of a corpus split."""
    params, audio, emotion, intensity, label, texts = [], [], [], [], [], []
    for clip in (corpus.load(info.id) for info in corpus.clips(split)[:limit]):
        params.append(clip.params.astype(np.float32))
        audio.append(np.round(clip.audio * INT16_SCALE).astype(np.int16))
        emotion.append(EMOTIONS.index(clip.info.emotion))
        intensity.append(clip.info.intensity - 1)
        label.append(label_class(clip.info.emotion, clip.info.intensity))
        # Imported recordings (MEAD, captures) come without written descriptions: phrasings of their
        # label stand in, from the clip's own split's pool and seeded by its id, as the corpus builder draws them.
        texts.append(list(clip.info.descriptions) or descriptions(
            clip.info.emotion, clip.info.intensity, zlib.crc32(clip.info.id.encode()), DESCRIPTIONS_PER_IMPORTED_CLIP,
            split="heldout" if split == "test" else "train"))
    return ClipSet(params, audio, np.array(emotion), np.array(intensity), np.array(label), texts, corpus.meta.fps)


# ---- batching -----------------------------------------------------------------------------------


def pad(sequences: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of [L_i, ...] -> padded [B, L, ...] and mask [B, L] (True = valid)."""
    length = max(len(s) for s in sequences)
    out = np.zeros((len(sequences), length) + sequences[0].shape[1:], np.float32)
    mask = np.zeros((len(sequences), length), bool)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
        mask[i, : len(s)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def random_crop(x: np.ndarray, rate: float, seconds: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """A random span of ``seconds`` (uniform in the range) of a sequence at ``rate`` steps per second;
    a sequence shorter than the span is kept whole."""
    length = int(rng.uniform(*seconds) * rate)
    if len(x) <= length:
        return x
    start = int(rng.integers(0, len(x) - length + 1))
    return x[start : start + length]


def motion_batch(data: ClipSet, idx: np.ndarray, rng, crop) -> tuple[torch.Tensor, torch.Tensor]:
    """params [B, T, D], mask [B, T]. Training views (``crop`` seconds given) are time-stretched random
    crops (``augment_motion``); evaluation (``crop=None``) sees whole clips."""
    return pad([augment_motion(data.params[i], data.fps, rng, crop) if crop else data.params[i] for i in idx])


def audio_batch(data: ClipSet, idx: np.ndarray, rng, crop) -> tuple[torch.Tensor, torch.Tensor]:
    """wave [B, N] float, lengths [B]: random crops of ``crop`` seconds, or whole clips (``crop=None``)."""
    waves = [random_crop(data.audio[i], SAMPLE_RATE, crop, rng) if crop else data.audio[i] for i in idx]
    wave, mask = pad([w.astype(np.float32) / INT16_SCALE for w in waves])
    return wave, mask.sum(1)


def batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Indices 0..n-1 in order, split into ceil(n / batch_size) near-equal batches."""
    return np.array_split(np.arange(n), math.ceil(n / batch_size))


# ---- what training and evaluation both measure ---------------------------------------------------


def encoder_features(encoder: nn.Module, inputs: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, mask) of an emotion encoder whatever its input signature (motion returns features
    only and takes the mask; audio takes lengths and returns its mask)."""
    out = encoder(*inputs)
    return out if isinstance(out, tuple) else (out, inputs[1])


@torch.no_grad()
def evaluate_classifier(encoder: nn.Module, make_batch: Callable, data: ClipSet, batch_size: int = 64,
                        features: Callable = encoder_features) -> dict:
    """Emotion and intensity accuracy of an encoder's own classification heads on whole clips
    (``features(encoder, inputs) -> (features, mask)``)."""
    encoder.eval()
    emotion_pred, intensity_pred = [], []
    for idx in batches(len(data), batch_size):
        emotion_logits, intensity_logits = encoder.classify(*features(encoder, make_batch(data, idx, None, None)))
        emotion_pred.append(emotion_logits.argmax(1).numpy())
        intensity_pred.append(intensity_logits.argmax(1).numpy())
    emotion_pred, intensity_pred = np.concatenate(emotion_pred), np.concatenate(intensity_pred)
    return {
        "emotion_acc": float((emotion_pred == data.emotion).mean()),
        "intensity_acc": float((intensity_pred == data.intensity).mean()),
    }


@torch.no_grad()
def frozen_features(space: EmotionSpace, data: ClipSet, batch_size: int = 32,
                    modalities: tuple[str, ...] = ("motion", "audio")) -> dict[str, list[torch.Tensor]]:
    """Per-clip feature sequences [T_i, F] of the frozen motion and audio encoders (whole clips)."""
    space.eval()
    out: dict[str, list[torch.Tensor]] = {m: [] for m in modalities}
    for idx in batches(len(data), batch_size):
        if "motion" in modalities:
            params, mask = motion_batch(data, idx, None, None)
            features = space.motion_encoder(params, mask)
            out["motion"] += [features[i, : int(mask[i].sum())] for i in range(len(idx))]
        if "audio" in modalities:
            wave, lengths = audio_batch(data, idx, None, None)
            features, mask = space.audio_encoder(wave, lengths)
            out["audio"] += [features[i, : int(mask[i].sum())] for i in range(len(idx))]
    return out


def embed_frozen(space: EmotionSpace, modality: str, features: list[torch.Tensor]) -> torch.Tensor:
    """Per-clip frozen features (``frozen_features``) -> emotion vectors [C, E] of whole clips."""
    return space.embed_features(modality, *pad([f.numpy() for f in features]))


def nearest_emotion(space: EmotionSpace, vectors: torch.Tensor) -> np.ndarray:
    """Emotion vectors [N, E] -> the emotion index of each one's nearest (emotion, intensity) prototype."""
    return CLASS_EMOTION[space.nearest_classes(vectors)]
