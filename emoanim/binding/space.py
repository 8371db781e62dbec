"""``EmotionSpace``: one emotion vector for motion, audio, text and labels, and their blends.

An **emotion vector** is a unit vector [E] (E = 256): the generator reads it as its style input.
Frozen encoders (motion, audio, text) plus a learnable label embedding feed per-modality adapters;
every modality lands on the unit sphere of the motion emotion vectors (the paper's FLAME-centred
binding, centred here on the rig's motion parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from emoanim.audio.io import is_silent, load_audio
from emoanim.binding.adapter import Adapter, embed_sequence, with_mean_token
from emoanim.binding.audio_encoder import AudioEmotionEncoder, AudioEncoderConfig
from emoanim.binding.motion_encoder import LEGACY_KEYS as MOTION_LEGACY_KEYS
from emoanim.binding.motion_encoder import MotionEncoder, MotionEncoderConfig
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion
from emoanim.persistence import Pretrained
from emoanim.text.encoder import TextEncoder
from emoanim.vocabulary import NUM_CLASSES, SAMPLE_RATE, VALID_CLASSES, class_label, label_class

MIN_SPEECH_SECONDS = 0.5  # an emotion reference clip needs this much speech
MIN_MOTION_FRAMES = 10  # ... and a reference motion this many frames (0.4 s at 25 fps)

# Weight names of EmoAnim 0.1 spaces (old prefix -> new prefix), for ``upgrade_checkpoint``.
LEGACY_KEYS = {f"motion_encoder.{old}": f"motion_encoder.{new}" for old, new in MOTION_LEGACY_KEYS.items()}
# Settings of EmoAnim 0.1 space configs that are gone (``text_backend`` was never read).
LEGACY_SETTINGS = ("text_backend",)


def upgrade_config(config: dict) -> dict:
    """An emotion space config as written by EmoAnim 0.1 -> today's (a copy): settings that were never
    read are dropped. Applied once by ``python -m emoanim checkpoints upgrade``."""
    return {k: v for k, v in config.items() if k not in LEGACY_SETTINGS}


@dataclass
class EmotionSpaceConfig:
    motion_encoder: MotionEncoderConfig  # the frozen motion encoder (also the emotion judge)
    audio_encoder: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)  # the frozen audio encoder
    text_dim: int = 384  # width of the text encoder's token features (all-MiniLM-L6-v2)
    label_dim: int = 128  # width of the learnable (emotion, intensity) label embedding
    embed_dim: int = 256  # E: the emotion vector's dimension
    adapter_hidden: int = 256  # hidden width of every adapter
    # The text adapter also sees the mean of the token features (the sentence embedding) as one
    # more step; off for spaces trained before ``train text-adapter`` existed.
    text_sentence_token: bool = False


class EmotionSpace(Pretrained, nn.Module):
    config_class = EmotionSpaceConfig
    what = "emotion space"

    def __init__(self, config: EmotionSpaceConfig, text_encoder: TextEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.motion_encoder = MotionEncoder(config.motion_encoder)
        self.audio_encoder = AudioEmotionEncoder(config.audio_encoder)
        self._text_encoder = text_encoder  # loaded lazily: most uses never need it
        self.label_embedding = nn.Embedding(NUM_CLASSES, config.label_dim)
        dims = {
            "motion": self.motion_encoder.feature_dim,
            "audio": self.audio_encoder.feature_dim,
            "text": config.text_dim,
            "label": config.label_dim,
        }
        self.adapters = nn.ModuleDict(
            {name: Adapter(dim, config.embed_dim, config.adapter_hidden) for name, dim in dims.items()}
        )
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))  # learnable 1/temperature

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu",
                        text_encoder: TextEncoder | None = None) -> EmotionSpace:
        """A space saved by ``save_pretrained``; ``text_encoder`` (optional) is shared, not reloaded."""
        space = super().from_pretrained(folder, device)
        space._text_encoder = text_encoder
        return space

    # --- the rig this space reads motion of ------------------------------------------------
    @property
    def rig(self) -> str:
        return self.motion_encoder.config.rig

    @property
    def param_names(self) -> list[str]:
        return list(self.motion_encoder.config.param_names)

    @property
    def text_encoder(self) -> TextEncoder:
        if self._text_encoder is None:
            self._text_encoder = TextEncoder()
        return self._text_encoder

    # --- batched emotion vectors (tensors), used by training and evaluation -------------------
    def embed_features(self, modality: str, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """A frozen encoder's features [B, L, F] (mask [B, L]) through ``modality``'s adapter -> [B, E]."""
        return embed_sequence(self.adapters[modality], features, mask)

    def embed_motion(self, params: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """params [B, T, D] -> [B, E]."""
        return self.embed_features("motion", self.motion_encoder(params, mask), mask)

    def embed_audio(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """16 kHz wave [B, N] -> [B, E]."""
        return self.embed_features("audio", *self.audio_encoder(wave, lengths))

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """texts [B] -> [B, E]."""
        return self.embed_features("text", *self.text_input(list(texts)))

    def text_input(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the text adapter reads: token features [B, L, H] and mask (+ the sentence step if configured)."""
        tokens, mask = self.text_encoder.encode(texts)
        return with_mean_token(tokens, mask) if self.config.text_sentence_token else (tokens, mask)

    def embed_labels(self, classes: torch.Tensor) -> torch.Tensor:
        """class indices [B] -> [B, E] (a label is a sequence of length one)."""
        return self.embed_features("label", self.label_embedding(classes)[:, None], None)

    def prototypes(self) -> torch.Tensor:
        """[NUM_CLASSES, E]: the emotion vector of every (emotion, intensity) label."""
        return self.embed_labels(torch.arange(NUM_CLASSES))

    @torch.no_grad()
    def nearest_classes(self, vectors: torch.Tensor) -> np.ndarray:
        """Emotion vectors [N, E] -> [N]: the (emotion, intensity) class of each one's nearest prototype."""
        self.eval()
        nearest = (vectors @ self.prototypes()[VALID_CLASSES].T).argmax(1).numpy()
        return np.array(VALID_CLASSES)[nearest]

    # --- the user-facing API (NumPy in, unit vector out) --------------------------------------
    @torch.no_grad()
    def embed(
        self,
        *,
        emotion: str | None = None,
        intensity: int = 2,
        text: str | None = None,
        audio: np.ndarray | str | Path | None = None,
        motion=None,
    ) -> np.ndarray:
        """Exactly one of: an emotion label (+ intensity 1-3), free text, a speech clip (16 kHz
        array or a file), or a motion (``emoanim.motion.Motion`` or params [T, D] of this rig).
        Returns its emotion vector: a unit vector [E] float32."""
        given = [name for name, value in (("emotion", emotion), ("text", text), ("audio", audio), ("motion", motion))
                 if value is not None]
        if len(given) != 1:
            raise EmoAnimError(f"give exactly one emotion source (emotion, text, audio or motion), got {given or 'none'}")
        self.eval()
        if emotion is not None:
            vector = self.embed_labels(torch.tensor([label_class(emotion, intensity)]))
        elif text is not None:
            if not text.strip():
                raise EmoAnimError("the emotion text is empty: describe the emotion, e.g. 'quietly furious'")
            vector = self.embed_texts([text.strip()])
        elif audio is not None:
            vector = self.embed_audio(torch.from_numpy(self._speech(audio))[None])
        else:
            vector = self.embed_motion(torch.from_numpy(self._motion_params(motion))[None])
        return vector[0].numpy().astype(np.float32)

    @staticmethod
    def _speech(audio) -> np.ndarray:
        wave = load_audio(audio, SAMPLE_RATE) if isinstance(audio, (str, Path)) else np.asarray(audio, np.float32)
        if wave.ndim != 1 or len(wave) < MIN_SPEECH_SECONDS * SAMPLE_RATE:
            raise EmoAnimError(f"the emotion reference audio must be mono speech of at least {MIN_SPEECH_SECONDS:g} s")
        if not np.isfinite(wave).all():
            raise EmoAnimError("the emotion reference audio contains NaN or infinite samples")
        if is_silent(wave):
            raise EmoAnimError("the emotion reference audio is silent: record or upload speech")
        return wave

    def _motion_params(self, motion) -> np.ndarray:
        if isinstance(motion, Motion):
            if motion.rig != self.rig:
                raise EmoAnimError(
                    f"the reference motion is for the '{motion.rig}' rig, but this emotion space reads "
                    f"'{self.rig}' motion; give a motion made for '{self.rig}'"
                )
            # The encoder reads motion at the frame rate it was trained at.
            motion = motion.resample(self.motion_encoder.config.fps).for_rig().params
        params = np.asarray(motion, np.float32)
        if params.ndim != 2 or params.shape[1] != len(self.param_names):
            raise EmoAnimError(f"a reference motion must be [frames, {len(self.param_names)}], got {list(params.shape)}")
        if not np.isfinite(params).all():
            raise EmoAnimError("the reference motion contains NaN or infinite values")
        if len(params) < MIN_MOTION_FRAMES:
            raise EmoAnimError(f"the reference motion is too short: give at least {MIN_MOTION_FRAMES} frames (0.4 s)")
        return params

    @staticmethod
    def blend(parts: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
        """Weighted sum of emotion vectors, renormalised: e.g. 0.7 * happy + 0.3 * surprised."""
        if not parts:
            raise EmoAnimError("nothing to blend")
        weights = np.array([w for _, w in parts], np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise EmoAnimError("blend weights must be non-negative and not all zero")
        mixed = sum(w * np.asarray(vector, np.float64) for (vector, _), w in zip(parts, weights))
        norm = np.linalg.norm(mixed)
        if norm < 1e-6:
            raise EmoAnimError("these emotions cancel out; change the weights")
        return (mixed / norm).astype(np.float32)

    @torch.no_grad()
    def classify(self, vector: np.ndarray) -> tuple[str, int, float]:
        """Nearest (emotion, intensity) prototype of an emotion vector [E], with its cosine similarity."""
        self.eval()
        sims = self.prototypes()[VALID_CLASSES] @ torch.as_tensor(vector, dtype=torch.float32)
        best = int(sims.argmax())
        emotion, intensity = class_label(VALID_CLASSES[best])
        return emotion, intensity, float(sims[best])
