"""Neural building blocks shared by every model: positions, masks, masked pooling, classification
heads, and configs rebuilt from plain dicts (as read from ``config.json``).

Shapes: B batch, T time steps, F features. Masks are boolean, True on valid steps.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

import torch
from torch import nn

from emoanim.errors import EmoAnimError

C = TypeVar("C")


# ---- positions -----------------------------------------------------------------------------------


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """[length, dim] fixed sine/cosine positions (Vaswani et al. 2017)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def positions(table: torch.Tensor, length: int, extendable: bool = True) -> torch.Tensor:
    """The first ``length`` rows of a positional ``table`` [L, d]; a sinusoidal table is extended when
    the input is longer than it (``extendable``), a learned one cannot be."""
    if length <= table.shape[0]:
        return table[:length]
    if not extendable:
        raise EmoAnimError(f"this model reads at most {table.shape[0]} frames, got {length}; "
                           "split the input into windows")
    return sinusoids(length, table.shape[1]).to(table)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Integer timesteps [B] -> [B, dim] sin/cos features (a diffusion step's positional code)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], -1)


# ---- masks and pooling ---------------------------------------------------------------------------


def lengths_to_mask(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """Valid lengths [B] -> mask [B, length] (True on the first ``lengths[b]`` steps)."""
    return torch.arange(length, device=lengths.device)[None] < lengths[:, None]


def masked_max_pool(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """[B, T, F] with mask [B, T] -> [B, F]: the maximum over valid steps (the paper's Eq. 2)."""
    if mask is None:
        return x.max(dim=1).values
    return x.masked_fill(~mask[..., None], float("-inf")).max(dim=1).values


def masked_mean_pool(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """[B, T, F] with mask [B, T] -> [B, F]: the mean over valid steps."""
    if mask is None:
        return x.mean(dim=1)
    valid = mask[..., None].to(x.dtype)
    return (x * valid).sum(1) / valid.sum(1).clamp(min=1.0)


def max_mean_pool(features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """features [B, T, F] -> [B, 2F]: masked max-pool ++ masked mean-pool (max is Eq. 2, mean steadies it)."""
    if mask is not None:
        mask = mask.bool()
        if not mask.any(1).all():
            raise EmoAnimError("every item in the batch needs at least one valid frame")
    return torch.cat([masked_max_pool(features, mask), masked_mean_pool(features, mask)], -1)


class PooledHeads(nn.Module):
    """Emotion and intensity logits from [max ++ mean]-pooled per-frame features [B, T, F]."""

    def __init__(self, dim: int, hidden: int, num_emotions: int, num_intensities: int, dropout: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(2 * dim), nn.Linear(2 * dim, hidden), nn.GELU(), nn.Dropout(dropout))
        self.emotion = nn.Linear(hidden, num_emotions)
        self.intensity = nn.Linear(hidden, num_intensities)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.mlp(max_mean_pool(features, mask))  # [B, hidden]
        return self.emotion(h), self.intensity(h)


@torch.no_grad()
def predict_probabilities(model: nn.Module, *inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """An emotion encoder's ``classify(*model(*inputs))`` as probabilities, in eval mode (the mode it
    had is restored): (emotion [B, 8], intensity [B, 3])."""
    was_training = model.training
    model.eval()
    try:
        out = model(*inputs)
        emotion, intensity = model.classify(*out) if isinstance(out, tuple) else model.classify(out, inputs[1])
    finally:
        model.train(was_training)
    return emotion.softmax(-1), intensity.softmax(-1)


# ---- configs from plain data -----------------------------------------------------------------------


def _kind_default(cls: type) -> Any:
    """The default of a config dataclass's ``kind`` field (which model it builds), or None."""
    field = next((f for f in dataclasses.fields(cls) if f.name == "kind"), None)
    return None if field is None else field.default


def config_from_dict(cls: type[C], data: dict[str, Any] | C, what: str, ignore: tuple[str, ...] = ()) -> C:
    """A config dataclass from a dict (as read from JSON), nested dataclass fields included, with
    one clear error for unknown or missing settings. ``ignore`` names keys that are not settings."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise EmoAnimError(f"the {what} config must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known) - set(ignore))
    if unknown:
        raise EmoAnimError(f"unknown {what} settings: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        if key not in known:
            continue
        kind = hints.get(key)
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # an optional part (X | None) or a choice
            options = [a for a in typing.get_args(kind) if dataclasses.is_dataclass(a)]  # of configs (X | Y) by "kind"
            chosen = [a for a in options if isinstance(value, dict) and _kind_default(a) == value.get("kind")]
            kind = (chosen or options or [None])[0]
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            value = config_from_dict(kind, value, f"{what} {key}")
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise EmoAnimError(f"incomplete {what} config ({exc})") from None
