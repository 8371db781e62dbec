"""The per-modality adapter (three fully connected layers), masked max-pooling and InfoNCE.

These are the trainable parts of the paper's multimodal emotion binding (Sec. III-A): each frozen
encoder's feature sequence goes through its adapter, is max-pooled over time (Eq. 2) and
normalised; InfoNCE (Eq. 3) pulls every modality onto the motion embedding of the same emotion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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


def masked_max_pool(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """[B, L, F] with mask [B, L] (True = valid) -> [B, F]: the maximum over valid steps."""
    if mask is None:
        return x.max(dim=1).values
    return x.masked_fill(~mask[..., None], float("-inf")).max(dim=1).values


def with_mean_token(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append the mean of the valid steps as one more step: [B, L, F], [B, L] -> [B, L + 1, F], [B, L + 1].

    For text this is the sentence encoder's own pooled embedding (before its normalisation); one
    summary step next to the token steps keeps the max-pool of Eq. 2 from hanging on single tokens.
    """
    valid = mask[..., None].to(tokens.dtype)
    mean = (tokens * valid).sum(1, keepdim=True) / valid.sum(1, keepdim=True).clamp(min=1.0)
    return torch.cat([tokens, mean], 1), torch.cat([mask, torch.ones_like(mask[:, :1])], 1)


def embed_sequence(adapter: Adapter, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Encoder features [B, L, F] -> unit embeddings [B, E] (adapter, max-pool, L2 norm)."""
    return F.normalize(masked_max_pool(adapter(features), mask), dim=-1)


def info_nce(queries: torch.Tensor, anchors: torch.Tensor, labels: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Eq. 3 with several positives: every anchor with the query's label is a positive.

    queries [B, E] (one modality), anchors [B, E] (motion), labels [B] (emotion x intensity class);
    symmetric, so the motion embeddings also move towards their modality partners.
    """
    logits = queries @ anchors.T * log_scale.exp().clamp(max=100.0)  # cos / tau
    positive = labels[:, None] == labels[None, :]

    def loss(lg: torch.Tensor) -> torch.Tensor:
        return -(torch.logsumexp(lg.masked_fill(~positive, float("-inf")), 1) - torch.logsumexp(lg, 1)).mean()

    return 0.5 * (loss(logits) + loss(logits.T))
