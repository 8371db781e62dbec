"""Building blocks of the emotion space: the per-modality adapter (three fully connected layers),
the encoders' transformer stack, the sentence step, and InfoNCE.

The adapters are the trainable parts of the paper's multimodal emotion binding (Sec. III-A): each frozen
encoder's feature sequence goes through its adapter, is max-pooled over time (Eq. 2) and
normalised to an emotion vector; InfoNCE (Eq. 3) pulls every modality onto the motion emotion
vector of the same emotion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emoanim.nn import masked_max_pool, masked_mean_pool


class Adapter(nn.Module):
    """Three fully connected layers applied to every time step: [B, L, in] -> [B, L, out]."""

    def __init__(self, in_dim: int, out_dim: int = 256, hidden: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def pre_ln_transformer(width: int, heads: int, ff: int, dropout: float, layers: int) -> nn.TransformerEncoder:
    """The motion and audio encoders' stack: ``layers`` pre-LN transformer layers (GELU, batch first),
    [B, T, width] -> [B, T, width]. Pre-LN stacks end un-normalised: follow with a LayerNorm."""
    layer = nn.TransformerEncoderLayer(width, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def with_mean_token(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append the mean of the valid steps as one more step: [B, L, F], [B, L] -> [B, L + 1, F], [B, L + 1].

    For text this is the sentence encoder's own pooled embedding (before its normalisation); one
    summary step next to the token steps keeps the max-pool of Eq. 2 from hanging on single tokens.
    """
    mean = masked_mean_pool(tokens, mask)[:, None]  # [B, 1, F]
    return torch.cat([tokens, mean], 1), torch.cat([mask, torch.ones_like(mask[:, :1])], 1)


def embed_sequence(adapter: Adapter, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Encoder features [B, L, F] -> emotion vectors [B, E] (adapter, max-pool, L2 norm)."""
    return F.normalize(masked_max_pool(adapter(features), mask), dim=-1)


def info_nce(queries: torch.Tensor, anchors: torch.Tensor, labels: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Eq. 3 with several positives: every anchor with the query's label is a positive.

    queries [B, E] (one modality), anchors [B, E] (motion), labels [B] (emotion x intensity class);
    symmetric, so the motion emotion vectors also move towards their modality partners.
    """
    logits = queries @ anchors.T * log_scale.exp().clamp(max=100.0)  # cos / tau
    positive = labels[:, None] == labels[None, :]

    def loss(lg: torch.Tensor) -> torch.Tensor:
        return -(torch.logsumexp(lg.masked_fill(~positive, float("-inf")), 1) - torch.logsumexp(lg, 1)).mean()

    return 0.5 * (loss(logits) + loss(logits.T))
