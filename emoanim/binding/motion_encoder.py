"""The motion encoder: a rig's parameter curves -> per-frame emotion features (paper Sec. III-A).

The paper's FLAME encoder E_V is a transformer pre-trained on MEAD by emotion classification; here
it reads any rig's parameter sequences (ARKit weights + head angles, or FLAME coefficients). It is
the centre of the emotion space (every other modality is pulled onto its emotion vector) and later the
emotion JUDGE of generated motion, so it is trained to be robust: random crops of 1-6 s, time
stretch (``augment_motion``, in the data pipeline), and, inside ``forward`` in train mode, gaussian
noise and whole-channel dropout so that no single curve decides the emotion.

    params [B, T, D] --normalise--> [x, dx] [B, T, 2D] --Linear + PE--> pre-LN transformer
        --> features [B, T, F]   --(masked max ++ masked mean)--> MLP --> emotion [B, 8], intensity [B, 3]

Masks are True on valid frames; padded frames never influence valid ones, so a clip alone and the
same clip padded in a batch give the same features (eval mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoanim.binding.adapter import pre_ln_transformer
from emoanim.errors import EmoAnimError
from emoanim.nn import PooledHeads, positions, predict_probabilities, sinusoids
from emoanim.persistence import Pretrained
from emoanim.rigs import rig_param_groups

STD_FLOOR = 0.03  # a curve that barely moves in training must not explode when generated motion moves it
INPUT_CLIP = 8.0  # normalised inputs are clipped: out-of-distribution motion saturates instead of blowing up
VELOCITY_GAIN = 5.0  # frame-to-frame differences of normalised curves are small; bring them to ~unit scale

# Weight names before the heads became ``PooledHeads`` (EmoAnim 0.1): old prefix -> new prefix, for
# ``emoanim.persistence.upgrade_checkpoint``. The values are unchanged.
LEGACY_KEYS = {"head.": "heads.mlp.", "emotion_head.": "heads.emotion.", "intensity_head.": "heads.intensity."}


def head_channels(rig: str, names: list[str]) -> torch.Tensor:
    """[D] True where a parameter is head pose rather than facial expression (the rig's "head" group)."""
    head = set(rig_param_groups(rig)["head"])
    return torch.tensor([name in head for name in names], dtype=torch.bool)


@dataclass
class MotionEncoderConfig:
    param_names: list[str]  # the rig's parameters, in the order the encoder reads them
    rig: str  # the rig these parameters belong to (its "head" group weighs less)
    d_model: int = 128  # transformer width = feature dim F
    layers: int = 4  # transformer layers
    heads: int = 4  # attention heads
    ff: int = 256  # feed-forward width
    dropout: float = 0.1
    max_frames: int = 1024  # learned positions only; sinusoidal ones extend to any length
    num_emotions: int = 8
    num_intensities: int = 3
    fps: float = 25.0  # the frame rate it was trained at: resample other motion to it first
    positional: str = "sinusoidal"  # or "learned"
    velocity: bool = True  # also feed frame-to-frame differences (speed of the face is emotional)
    head_weight: float = 0.5  # head rotation carries less weight than the face
    channel_dropout: float = 0.1  # train mode: chance that a facial curve is hidden for a whole clip
    head_dropout: float = 0.5  # ... that a head-rotation curve is hidden
    noise_std: float = 0.05  # train mode: gaussian noise, in units of each curve's std


class MotionEncoder(Pretrained, nn.Module):
    config_class = MotionEncoderConfig
    what = "motion encoder"

    def __init__(self, config: MotionEncoderConfig) -> None:
        super().__init__()
        if config.positional not in ("sinusoidal", "learned"):
            raise EmoAnimError(f"positional encoding must be 'sinusoidal' or 'learned', got '{config.positional}'")
        if config.d_model % config.heads:
            raise EmoAnimError(f"d_model ({config.d_model}) must be divisible by heads ({config.heads})")
        self.config = config
        D, C = len(config.param_names), config.d_model

        # Normalisation from the training data (set_normalization); saved with the weights.
        self.register_buffer("param_mean", torch.zeros(D))
        self.register_buffer("param_std", torch.ones(D))
        # Derived from the rig's groups, so not saved: head rotation weighs less and is hidden more often.
        head = head_channels(config.rig, config.param_names)
        self.register_buffer("channel_weight", torch.where(head, config.head_weight, 1.0), persistent=False)
        self.register_buffer("channel_drop", torch.where(head, config.head_dropout, config.channel_dropout),
                             persistent=False)

        self.input = nn.Linear(2 * D if config.velocity else D, C)
        if config.positional == "learned":
            self.pos = nn.Parameter(torch.zeros(config.max_frames, C))
            nn.init.normal_(self.pos, std=0.02)
        else:
            self.register_buffer("pos", sinusoids(config.max_frames, C), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = pre_ln_transformer(C, config.heads, config.ff, config.dropout, config.layers)
        self.norm = nn.LayerNorm(C)  # pre-LN stacks end un-normalised; features should be tame

        # Classification heads on [max-pool ++ mean-pool] (max is the paper's Eq. 2, mean steadies it).
        self.heads = PooledHeads(C, C, config.num_emotions, config.num_intensities, config.dropout)

    # ---- shape and normalisation ----------------------------------------------------------

    @property
    def feature_dim(self) -> int:
        return self.config.d_model

    @property
    def num_params(self) -> int:
        return len(self.config.param_names)

    @torch.no_grad()
    def set_normalization(self, mean, std) -> None:
        """Per-parameter mean and std [D] of the training motion (std is floored at STD_FLOOR)."""
        mean = torch.as_tensor(np.asarray(mean, np.float32))
        std = torch.as_tensor(np.asarray(std, np.float32))
        if mean.shape != (self.num_params,) or std.shape != (self.num_params,):
            raise EmoAnimError(f"normalisation needs mean and std of shape [{self.num_params}], "
                               f"got {list(mean.shape)} and {list(std.shape)}")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
            raise EmoAnimError("normalisation statistics contain NaN or infinite values")
        self.param_mean.copy_(mean)
        self.param_std.copy_(std.clamp(min=STD_FLOOR))

    # ---- encoding -------------------------------------------------------------------------

    def forward(self, params: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """params [B, T, D] in the rig's parameter order, mask [B, T] (True = valid) -> features [B, T, F]."""
        B, T, D = params.shape
        if D != self.num_params:
            raise EmoAnimError(f"the motion encoder reads {self.num_params} '{self.config.rig}' parameters, got {D}")
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=params.device)
        mask = mask.bool()
        if not mask.any(1).all():
            raise EmoAnimError("every motion in the batch needs at least one valid frame")
        valid = mask[..., None]  # [B, T, 1]

        x = ((params - self.param_mean) / self.param_std).clamp(-INPUT_CLIP, INPUT_CLIP)  # [B, T, D]
        if self.training:
            x = x + self.config.noise_std * torch.randn_like(x)
            # Hide whole curves for a whole clip (0 = the training mean), so the judge uses all of them.
            keep = torch.rand(B, 1, D, device=x.device) >= self.channel_drop
            x = x * keep
        x = (x * self.channel_weight).masked_fill(~valid, 0.0)
        if self.config.velocity:
            dx = torch.zeros_like(x)
            dx[:, 1:] = (x[:, 1:] - x[:, :-1]) * (valid[:, 1:] & valid[:, :-1])  # only between valid frames
            x = torch.cat([x, VELOCITY_GAIN * dx], dim=-1)  # [B, T, 2D]

        # Sinusoidal positions extend to clips longer than ever trained; learned ones cannot.
        h = self.input(x) + positions(self.pos, T, extendable=self.config.positional != "learned")  # [B, T, C]
        h = self.encoder(self.drop(h), src_key_padding_mask=~mask)
        return self.norm(h).masked_fill(~valid, 0.0)  # [B, T, F]

    # ---- classification -------------------------------------------------------------------

    def classify(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, F] -> (emotion logits [B, num_emotions], intensity logits [B, num_intensities])."""
        return self.heads(features, mask)

    def predict(self, params: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The judge: params [B, T, D] -> (emotion probabilities [B, 8], intensity probabilities [B, 3])."""
        return predict_probabilities(self, params, mask)


# ---- training-time augmentation of one clip (numpy, for the data pipeline) -----------------


def augment_motion(
    params: np.ndarray,
    fps: float,
    rng: np.random.Generator,
    crop_seconds: tuple[float, float] = (2.0, 6.0),
    stretch: tuple[float, float] = (0.85, 1.2),
    short_crop: float = 0.15,
) -> np.ndarray:
    """A random view of one clip [T, D] -> [T', D]: time-stretched, then cropped.

    The stretch (log-uniform factor; > 1 = slower) is a linear resampling over time. The crop lasts
    ``crop_seconds`` (uniform), or, with probability ``short_crop``, 1-2 s so that short clips are
    judged well too; a clip shorter than the crop is kept whole.
    """
    params = np.asarray(params, np.float32)
    factor = math.exp(rng.uniform(math.log(stretch[0]), math.log(stretch[1])))
    frames = max(1, int(round(len(params) * factor)))
    if frames != len(params) and len(params) > 1:
        position = np.linspace(0.0, len(params) - 1, frames)  # in source frames
        lo = np.floor(position).astype(np.int64)
        hi = np.minimum(lo + 1, len(params) - 1)
        w = (position - lo)[:, None].astype(np.float32)
        params = (1.0 - w) * params[lo] + w * params[hi]
    seconds = rng.uniform(1.0, 2.0) if rng.random() < short_crop else rng.uniform(*crop_seconds)
    length = max(1, int(round(seconds * fps)))
    if len(params) <= length:
        return params
    start = int(rng.integers(0, len(params) - length + 1))
    return params[start : start + length]
