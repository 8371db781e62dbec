"""``EmotionSpace``: one emotion embedding for motion, audio, text and labels, and their blends.

Frozen encoders (motion, audio, text) plus a learnable label embedding feed per-modality adapters;
everything lands on the unit sphere of the motion embedding (the paper's FLAME-centred binding,
centred here on the rig's motion parameters).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from emoanim.binding.adapter import Adapter, embed_sequence, with_mean_token
from emoanim.vocabulary import EMOTIONS, INTENSITIES, NUM_CLASSES, VALID_CLASSES, class_label, label_class
from emoanim.errors import EmoAnimError

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class EmotionSpaceConfig:
    motion_encoder: dict  # MotionEncoderConfig as a dict
    audio_encoder: dict  # AudioEncoderConfig as a dict
    text_backend: str = "minilm"  # the text encoder is a pip-installed model, not saved with the space
    text_dim: int = 384
    label_dim: int = 128
    embed_dim: int = 256
    adapter_hidden: int = 256
    # The text adapter also sees the mean of the token features (the sentence embedding) as one
    # more step; off for spaces trained before ``train text-adapter`` existed.
    text_sentence_token: bool = False
    metrics: dict = field(default_factory=dict)


class EmotionSpace(nn.Module):
    def __init__(self, config: EmotionSpaceConfig, text_encoder=None) -> None:
        from emoanim.binding.audio_encoder import AudioEmotionEncoder
        from emoanim.binding.motion_encoder import MotionEncoder

        super().__init__()
        self.config = config
        self.motion_encoder = MotionEncoder.from_config(config.motion_encoder)
        self.audio_encoder = AudioEmotionEncoder.from_config(config.audio_encoder)
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

    # --- the rig this space reads motion of ------------------------------------------------
    @property
    def rig(self) -> str:
        return self.motion_encoder.config.rig

    @property
    def param_names(self) -> list[str]:
        return list(self.motion_encoder.config.param_names)

    @property
    def text_encoder(self):
        if self._text_encoder is None:
            from emoanim.text.encoder import TextEncoder

            self._text_encoder = TextEncoder()
        return self._text_encoder

    # --- batched embeddings (tensors), used by training and evaluation -----------------------
    def embed_motion(self, params: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """params [B, T, D] -> [B, E]."""
        return embed_sequence(self.adapters["motion"], self.motion_encoder(params, mask), mask)

    def embed_audio(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """16 kHz wave [B, N] -> [B, E]."""
        features, mask = self.audio_encoder(wave, lengths)
        return embed_sequence(self.adapters["audio"], features, mask)

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return embed_sequence(self.adapters["text"], *self.text_input(list(texts)))

    def text_input(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the text adapter reads: token features [B, L, H] and mask (+ the sentence step if configured)."""
        tokens, mask = self.text_encoder.encode(texts)
        return with_mean_token(tokens, mask) if self.config.text_sentence_token else (tokens, mask)

    def embed_labels(self, classes: torch.Tensor) -> torch.Tensor:
        """class indices [B] -> [B, E] (a label is a sequence of length one)."""
        return embed_sequence(self.adapters["label"], self.label_embedding(classes)[:, None], None)

    def prototypes(self) -> torch.Tensor:
        """[NUM_CLASSES, E]: the label embedding of every (emotion, intensity)."""
        return self.embed_labels(torch.arange(NUM_CLASSES))

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
        Returns a unit vector [E] float32."""
        given = [name for name, value in (("emotion", emotion), ("text", text), ("audio", audio), ("motion", motion))
                 if value is not None]
        if len(given) != 1:
            raise EmoAnimError(f"give exactly one emotion source (emotion, text, audio or motion), got {given or 'none'}")
        self.eval()
        if emotion is not None:
            z = self.embed_labels(torch.tensor([label_class(emotion, intensity)]))
        elif text is not None:
            if not text.strip():
                raise EmoAnimError("the emotion text is empty: describe the emotion, e.g. 'quietly furious'")
            z = self.embed_texts([text.strip()])
        elif audio is not None:
            z = self.embed_audio(torch.from_numpy(self._speech(audio))[None])
        else:
            z = self.embed_motion(torch.from_numpy(self._motion_params(motion))[None])
        return z[0].numpy().astype(np.float32)

    @staticmethod
    def _speech(audio) -> np.ndarray:
        from emoanim.audio.io import is_silent, load_audio

        wave = load_audio(audio, 16000) if isinstance(audio, (str, Path)) else np.asarray(audio, np.float32)
        if wave.ndim != 1 or len(wave) < 8000:
            raise EmoAnimError("the emotion reference audio must be mono speech of at least 0.5 s")
        if not np.isfinite(wave).all():
            raise EmoAnimError("the emotion reference audio contains NaN or infinite samples")
        if is_silent(wave):
            raise EmoAnimError("the emotion reference audio is silent: record or upload speech")
        return wave

    def _motion_params(self, motion) -> np.ndarray:
        from emoanim.motion import Motion

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
        if len(params) < 10:
            raise EmoAnimError("the reference motion is too short: give at least 10 frames (0.4 s)")
        return params

    @staticmethod
    def blend(parts: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
        """Weighted sum of unit embeddings, renormalised: e.g. 0.7 * happy + 0.3 * surprised."""
        if not parts:
            raise EmoAnimError("nothing to blend")
        weights = np.array([w for _, w in parts], np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise EmoAnimError("blend weights must be non-negative and not all zero")
        mixed = sum(w * np.asarray(z, np.float64) for (z, _), w in zip(parts, weights))
        norm = np.linalg.norm(mixed)
        if norm < 1e-6:
            raise EmoAnimError("these emotions cancel out; change the weights")
        return (mixed / norm).astype(np.float32)

    @torch.no_grad()
    def classify(self, z: np.ndarray) -> tuple[str, int, float]:
        """Nearest (emotion, intensity) prototype of an embedding, with its cosine similarity."""
        self.eval()
        sims = self.prototypes()[VALID_CLASSES] @ torch.as_tensor(z, dtype=torch.float32)
        best = int(sims.argmax())
        emotion, intensity = class_label(VALID_CLASSES[best])
        return emotion, intensity, float(sims[best])

    # --- persistence (diffusers style: config + weights side by side) -----------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=1))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, text_encoder=None) -> "EmotionSpace":
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            config = EmotionSpaceConfig(**json.loads((folder / CONFIG_FILE).read_text()))
            state = load_file(str(folder / WEIGHTS_FILE))
        except FileNotFoundError:
            raise EmoAnimError(f"no emotion space in {folder} (needs {CONFIG_FILE} and {WEIGHTS_FILE})") from None
        except (json.JSONDecodeError, TypeError, OSError) as exc:
            raise EmoAnimError(f"the emotion space in {folder} is damaged ({exc})") from None
        space = cls(config, text_encoder)
        space.load_state_dict({k: v.float() for k, v in state.items()})
        return space.eval()
