"""The lip-sync expert (paper Eq. 7, SyncNet-style): does this short window of mouth motion match
this window of audio content?

Two small towers map a 0.2 s window of mouth parameters (5 frames at 25 fps, with their velocities)
and the aligned window of content features (10 frames at 50 fps) to unit vectors; matching windows
should have the highest cosine among windows of other clips and of the same clip shifted in time.
It is trained first, frozen, then (1) scores generated motion inside the generator's loss and
(2) gives the LSE-C / LSE-D-like metrics of the evaluation (confidence and best offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from emoanim.persistence import Pretrained


@dataclass
class SyncExpertConfig:
    param_names: list[str] = field(default_factory=list)  # the rig's parameters, in order
    mouth_names: list[str] = field(default_factory=list)  # the ones the expert reads (the rig's "mouth" group)
    content_dim: int = 41  # C: content features per audio frame
    window: int = 5  # motion frames (0.2 s at 25 fps)
    content_per_frame: int = 2  # audio frames per motion frame
    hidden: int = 256  # width of both towers
    embed_dim: int = 64  # the shared embedding space


def _tower(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, out_dim))


class LipSyncExpert(nn.Module, Pretrained):
    config_class = SyncExpertConfig
    what = "lip-sync expert"

    def __init__(self, config: SyncExpertConfig) -> None:
        super().__init__()
        self.config = c = config
        index = [c.param_names.index(n) for n in c.mouth_names]
        self.register_buffer("mouth_index", torch.tensor(index, dtype=torch.long))
        self.register_buffer("mean", torch.zeros(len(index)))
        self.register_buffer("std", torch.ones(len(index)))
        self.motion_tower = _tower(2 * c.window * len(index), c.hidden, c.embed_dim)
        self.audio_tower = _tower(c.window * c.content_per_frame * c.content_dim, c.hidden, c.embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # 1 / temperature ~ 10

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-parameter statistics of the full rig vector (only the mouth entries are kept)."""
        self.mean.copy_(mean[self.mouth_index])
        self.std.copy_(std[self.mouth_index].clamp(min=0.02))

    def embed_motion(self, params: torch.Tensor) -> torch.Tensor:
        """params [..., W, D] (rig units) -> [..., E] unit vectors."""
        m = (params[..., self.mouth_index] - self.mean) / self.std  # [..., W, Dm]
        vel = torch.diff(m, dim=-2, prepend=m[..., :1, :]) * 4.0
        return F.normalize(self.motion_tower(torch.cat([m, vel], -1).flatten(-2)), dim=-1)

    def embed_audio(self, content: torch.Tensor) -> torch.Tensor:
        """content [..., W * per_frame, C] -> [..., E] unit vectors."""
        return F.normalize(self.audio_tower(content.flatten(-2)), dim=-1)

    # ---- windows of whole sequences ---------------------------------------------------------
    def motion_windows(self, params: torch.Tensor) -> torch.Tensor:
        """params [B, T, D] -> embeddings of every window start [B, T - W + 1, E]."""
        W = self.config.window
        return self.embed_motion(params.unfold(1, W, 1).transpose(-1, -2))  # [B, n, W, D]

    def audio_windows(self, content: torch.Tensor) -> torch.Tensor:
        """content [B, per_frame * T, C] -> embeddings of every motion-frame start [B, T - W + 1, E]."""
        W, k = self.config.window, self.config.content_per_frame
        return self.embed_audio(content.unfold(1, W * k, k).transpose(-1, -2))

    def offset_similarity(self, params: torch.Tensor, content: torch.Tensor, max_offset: int = 15) -> torch.Tensor:
        """Mean cosine between motion windows and audio windows shifted by -max..max frames
        (motion later than audio for positive offsets): [B, 2 * max_offset + 1]."""
        zm, za = self.motion_windows(params), self.audio_windows(content)  # [B, n, E]
        n = zm.shape[1]
        sims = []
        for off in range(-max_offset, max_offset + 1):
            lo, hi = max(0, off), min(n, n + off)  # motion window i pairs with audio window i - off
            sims.append((zm[:, lo:hi] * za[:, lo - off : hi - off]).sum(-1).mean(1) if hi > lo
                        else zm.new_full((zm.shape[0],), float("nan")))
        return torch.stack(sims, 1)

    def sync_loss(self, params: torch.Tensor, content: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """Eq. 7 for one window per item: params [B, T, D], content [B, kT, C], starts [B] window starts;
        the audio windows of the other items are the negatives."""
        W, k = self.config.window, self.config.content_per_frame
        frames = starts[:, None] + torch.arange(W, device=params.device)[None]  # [B, W]
        m = params.gather(1, frames[..., None].expand(-1, -1, params.shape[-1]))
        afr = k * starts[:, None] + torch.arange(W * k, device=params.device)[None]
        a = content.gather(1, afr[..., None].expand(-1, -1, content.shape[-1]))
        logits = self.embed_motion(m) @ self.embed_audio(a).T * self.log_scale.exp()
        return F.cross_entropy(logits, torch.arange(len(starts), device=params.device))
