"""``EmotionSpace``: one emotion vector for motion, audio, text and labels, and their blends.

An **emotion vector** is a unit vector [E] (E = 256): the generator reads it as its style input.
Frozen encoders (motion, audio, text) plus a learnable label embedding feed per-modality adapters;
every modality lands on the unit sphere of the motion emotion vectors (the paper's FLAME-centred
binding, centred here on the rig's motion parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoanim.audio.io import is_silent, load_audio
from emoanim.binding.adapter import Adapter, embed_sequence, with_mean_token
from emoanim.binding.audio_encoder import AudioEmotionEncoder, AudioEncoderConfig, WhisperEmotionConfig, WhisperEmotionEncoder
from emoanim.binding.motion_encoder import LEGACY_KEYS as MOTION_LEGACY_KEYS
from emoanim.binding.motion_encoder import MotionEncoder, MotionEncoderConfig
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion
from emoanim.persistence import Pretrained
from emoanim.text.backbones import DEFAULT_BACKBONE
from emoanim.text.encoder import TextEncoder
from emoanim.vocabulary import EMOTIONS, NUM_CLASSES, SAMPLE_RATE, VALID_CLASSES, class_label, label_class

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


# Free text: clauses split at these words and marks ("happy but nervous"). Below these confidences (the
# space's probability of the emotion it read) a reading falls back to neutral: typed words rarely mislead,
# a voice's mood often does (real speech is unlike the synthetic voices the audio side learned from).
CLAUSE_BREAK = re.compile(r"\s*(?:[,;]|\bbut\b|\byet\b|\band\b|\bwhile\b|\bthough\b)\s*", re.IGNORECASE)
MIN_TEXT_CONFIDENCE = 0.35
MAX_EMOTION_TEXT_CHARS = 500  # an emotion described, not a document (the text encoder reads 384 tokens)
# Audio: 0.5 keeps 91 % of real calm read speech neutral or mild (67 clips of unseen speakers) at
# synthetic accuracy 0.27; 0.7 gives 98.5 % at 0.21 (issue-13 note).
MIN_AUDIO_CONFIDENCE = 0.5


@dataclass
class Reading:
    """What an emotion source was read as (``EmotionSpace.read_text`` / ``read_audio``)."""

    text: str  # what was read: the words, or a name for the voice ("the input speech")
    vector: np.ndarray  # [E] the emotion vector used
    emotion: str  # the nearest label prototype's emotion and intensity
    intensity: int
    confidence: float  # the space's probability of that emotion (0-1)
    parts: list[tuple[str, str, float]]  # a mixture's clauses: (clause, emotion, confidence); [] for one reading
    fallback: bool  # too unsure: neutral was used instead
    guess: str = ""  # with a fallback: the emotion it would have been

    def describe(self) -> str:
        """One line for the user, e.g. "'livid' read as angry 3 (confidence 0.93)"."""
        if self.fallback:
            return (f"{self.text} carries no clear emotion (best guess {self.guess}, confidence {self.confidence:.2f}): "
                    "read as neutral; name an emotion to change it")
        if self.parts:
            mix = " + ".join(f"{e} ('{p}', {c:.2f})" for p, e, c in self.parts)
            return f"{self.text} read as a blend: {mix}; nearest {self.emotion} {self.intensity}"
        return f"{self.text} read as {self.emotion} {self.intensity} (confidence {self.confidence:.2f})"


@dataclass
class EmotionSpaceConfig:
    motion_encoder: MotionEncoderConfig  # the frozen motion encoder (also the emotion judge)
    # The frozen audio encoder: the compact log-mel one, or a small model over frozen Whisper frames.
    audio_encoder: AudioEncoderConfig | WhisperEmotionConfig = field(default_factory=AudioEncoderConfig)
    text_encoder: str = DEFAULT_BACKBONE  # the frozen text backbone: a name in text/backbones.py or a model folder
    text_dim: int = 384  # width of its token features (384: all-MiniLM-L6-v2, 768: all-mpnet-base-v2)
    label_dim: int = 128  # width of the learnable (emotion, intensity) label embedding
    embed_dim: int = 256  # E: the emotion vector's dimension
    adapter_hidden: int = 256  # hidden width of every adapter
    # The text adapter also sees the mean of the token features (the sentence embedding) as one
    # more step; off for spaces trained before ``train text-adapter`` existed.
    text_sentence_token: bool = False
    # False: the text adapter reads only the sentence step (the mean token feature, normalised as
    # sentence-transformers does), not the tokens: what a sentence encoder was trained to make meaningful.
    text_tokens: bool = True


class EmotionSpace(Pretrained, nn.Module):
    config_class = EmotionSpaceConfig
    what = "emotion space"

    def __init__(self, config: EmotionSpaceConfig, text_encoder: TextEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.motion_encoder = MotionEncoder(config.motion_encoder)
        self.audio_encoder = (WhisperEmotionEncoder if config.audio_encoder.kind == "whisper"
                              else AudioEmotionEncoder)(config.audio_encoder)
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
            self._text_encoder = TextEncoder(self.config.text_encoder)
        if self._text_encoder.dim != self.config.text_dim:
            raise EmoAnimError(f"this emotion space reads {self.config.text_dim}-d text features "
                               f"({self.config.text_encoder}), but its text encoder gives {self._text_encoder.dim}-d")
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
        if not self.config.text_tokens:  # the sentence step alone: [B, 1, H]
            return self.text_encoder.sentence(texts)[:, None], torch.ones(len(texts), 1, dtype=torch.bool)
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
            return self.read_text(text).vector
        elif audio is not None:
            return self.read_audio(audio).vector
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
    def emotion_probabilities(self, vectors: torch.Tensor) -> torch.Tensor:
        """Emotion vectors [N, E] -> [N, emotions]: the space's own softmax over the label prototypes
        (its InfoNCE temperature), summed over each emotion's intensities."""
        self.eval()
        logits = self.log_scale.exp() * vectors @ self.prototypes()[VALID_CLASSES].T
        per_class = logits.softmax(-1)
        out = torch.zeros(len(vectors), len(EMOTIONS))
        return out.index_add_(1, torch.tensor([EMOTIONS.index(class_label(c)[0]) for c in VALID_CLASSES]), per_class)

    @torch.no_grad()
    def read_text(self, text: str, min_confidence: float = MIN_TEXT_CONFIDENCE) -> Reading:
        """Free text -> its emotion vector and what it was read as. A text whose clauses ("happy but
        nervous") read as different emotions gets the blend of its clauses; a reading less sure than
        ``min_confidence`` falls back to neutral, and says so."""
        if not isinstance(text, str) or not text.strip():
            raise EmoAnimError("the emotion text is empty: describe the emotion, e.g. 'quietly furious'")
        if len(text) > MAX_EMOTION_TEXT_CHARS:
            raise EmoAnimError(f"the emotion text is {len(text)} characters long; describe the emotion in at most "
                               f"{MAX_EMOTION_TEXT_CHARS} (a few words do best, e.g. 'quietly furious')")
        text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())  # (control characters out)
        if not text:
            raise EmoAnimError("the emotion text has only control characters: describe the emotion in words")
        clauses = [c for c in CLAUSE_BREAK.split(text) if c and any(ch.isalpha() for ch in c)]
        pieces = [text] + (clauses if len(clauses) > 1 else [])
        vectors = self.embed_texts(pieces)  # [1 + clauses, E]
        probs = self.emotion_probabilities(vectors)
        best = probs.argmax(1).tolist()
        read = [(p, EMOTIONS[b], float(probs[i, b])) for i, (p, b) in enumerate(zip(pieces, best))]
        # Clauses that carry an emotion (a neutral "ugh" or "wait" next to one does not make a mixture).
        felt = [i for i, (_, e, _) in enumerate(read) if i > 0 and e != "neutral"]
        if len({read[i][1] for i in felt}) > 1:  # different emotions: a mixture, blended equally
            vector = F.normalize(vectors[felt].mean(0), dim=0)
            parts = [read[i] for i in felt]
        elif felt and read[0][1] == "neutral":  # one emotional clause in otherwise neutral words: that one
            vector, parts = vectors[felt[0]], [read[felt[0]]]
        else:
            vector, parts = vectors[0], [read[0]]
        return self._reading(f"'{text}'", vector, min_confidence,
                             [(p, e, round(c, 3)) for p, e, c in parts] if len(parts) > 1 else [])

    @torch.no_grad()
    def read_audio(self, audio: np.ndarray | str | Path, what: str = "the voice clip",
                   min_confidence: float = MIN_AUDIO_CONFIDENCE) -> Reading:
        """Speech (16 kHz array or a file) -> its emotion vector and what it was read as; a reading less sure
        than ``min_confidence`` falls back to neutral, and says so."""
        self.eval()
        return self._reading(what, self.embed_audio(torch.from_numpy(self._speech(audio))[None])[0], min_confidence)

    def _reading(self, what: str, vector: torch.Tensor, min_confidence: float,
                 parts: list | None = None) -> Reading:
        emotion, intensity, _ = self.classify(vector.numpy())
        confidence = float(self.emotion_probabilities(vector[None])[0, EMOTIONS.index(emotion)])
        fallback = confidence < min_confidence and not parts
        guess = f"{emotion} {intensity}"
        if fallback:
            vector = self.embed_labels(torch.tensor([label_class("neutral", 1)]))[0]
            emotion, intensity = "neutral", 1
        return Reading(what, vector.numpy().astype(np.float32), emotion, intensity, confidence, parts or [], fallback,
                       guess if fallback else "")

    @torch.no_grad()
    def classify(self, vector: np.ndarray) -> tuple[str, int, float]:
        """Nearest (emotion, intensity) prototype of an emotion vector [E], with its cosine similarity."""
        self.eval()
        sims = self.prototypes()[VALID_CLASSES] @ torch.as_tensor(vector, dtype=torch.float32)
        best = int(sims.argmax())
        emotion, intensity = class_label(VALID_CLASSES[best])
        return emotion, intensity, float(sims[best])
