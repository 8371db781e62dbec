"""The denoiser (paper Sec. III-B): a transformer over a noisy facial-parameter sequence.

    x_t [B, T, D] (normalised rig parameters) --Linear + sinusoids--> h [B, T, d]
    n blocks, each:
        h += SelfAttn(mod(LN(h)))                          frames see each other (padding masked)
        h += CrossAttn(mod(LN(h)), content, M)             Eq. 5: frame i sees only its own audio frames
        h += FF(mod(LN(h)))
      with mod(y) = FiLM_t(AdaIN_s(y)):  y * (1 + g_s) + b_s  (emotion: 3-layer MLP on the style vector)
                                         then * (1 + g_t) + b_t (timestep: MLP on sinusoids)
    LN --Linear--> x0 [B, T, D] (the clean sequence; see scheduler.py for why x0)

Classifier-free guidance: ``drop`` [B] replaces the audio content and the style of those items by
learned null values (both together, as in the paper). The same network, fed x_t = 0 and t = 0
without dropout, is the deterministic regression baseline (``regression.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from emoanim.errors import EmoAnimError
from emoanim.nn import positions, sinusoids, timestep_embedding


@dataclass
class DenoiserConfig:
    num_params: int = 55  # D: the rig's parameters (ARKit 52 + 3 head angles by default)
    content_dim: int = 41  # C: content features per audio frame
    style_dim: int = 256  # E: the emotion space
    d_model: int = 128  # sized for CPU: trains in ~30 min on 2 cores, samples 10 s in ~1 s
    layers: int = 4
    heads: int = 4
    ff: int = 256
    dropout: float = 0.1
    content_per_frame: int = 2  # audio frames per motion frame (50 fps content, 25 fps motion)
    align_halfwidth: int = 1  # audio frames either side of a motion frame's own that it may attend to
    max_frames: int = 512  # sinusoid table (windows are much shorter; longer inputs extend it)


def alignment_mask(num_frames: int, num_audio: int, per_frame: int, halfwidth: int, device=None) -> torch.Tensor:
    """Eq. 5's M as a boolean [T, Ta]: True where motion frame i may attend to audio frame j, i.e.
    |j - per_frame * i| <= halfwidth (frame i's own audio frame is j = per_frame * i: same time)."""
    i = torch.arange(num_frames, device=device)[:, None]
    j = torch.arange(num_audio, device=device)[None]
    return (j - per_frame * i).abs() <= halfwidth


def modulate(y: torch.Tensor, scale_shift: torch.Tensor) -> torch.Tensor:
    """y [B, T, d] * (1 + scale) + shift, scale_shift [B, 2, d] (one per item) or [B, T, 2, d] (per frame)."""
    if scale_shift.ndim == 3:
        scale_shift = scale_shift[:, None]
    return y * (1 + scale_shift[:, :, 0]) + scale_shift[:, :, 1]


class Block(nn.Module):
    def __init__(self, c: DenoiserConfig) -> None:
        super().__init__()
        d = c.d_model
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d, elementwise_affine=False) for _ in range(3))
        self.self_attn = nn.MultiheadAttention(d, c.heads, dropout=c.dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, c.heads, dropout=c.dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, c.ff), nn.GELU(), nn.Dropout(c.dropout), nn.Linear(c.ff, d))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, h, content, align_blocked, pad, style_mod, time_mod):
        """h [B, T, d], content [B, Ta, d], align_blocked [T, Ta] (True = masked), pad [B, T] (True = padding)."""
        mod = lambda y: modulate(modulate(y, style_mod), time_mod)  # AdaIN (emotion), then FiLM (timestep)
        y = mod(self.norm1(h))
        h = h + self.drop(self.self_attn(y, y, y, key_padding_mask=pad, need_weights=False)[0])
        y = mod(self.norm2(h))
        h = h + self.drop(self.cross_attn(y, content, content, attn_mask=align_blocked, need_weights=False)[0])
        return h + self.drop(self.ff(mod(self.norm3(h))))


class Denoiser(nn.Module):
    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.d_model % c.heads:
            raise EmoAnimError(f"d_model ({c.d_model}) must be divisible by heads ({c.heads})")
        d = c.d_model
        self.motion_in = nn.Linear(c.num_params, d)
        self.content_in = nn.Sequential(nn.Linear(c.content_dim, d), nn.GELU(), nn.Linear(d, d))
        self.register_buffer("pos", sinusoids(c.max_frames, d), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, c.layers * 2 * d))  # FiLM
        self.style_mlp = nn.Sequential(  # AdaIN parameters from the 3-layer MLP of the paper
            nn.Linear(c.style_dim, d), nn.SiLU(), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, c.layers * 2 * d))
        for mlp in (self.time_mlp, self.style_mlp):  # start as identity modulation
            nn.init.zeros_(mlp[-1].weight)
            nn.init.zeros_(mlp[-1].bias)
        self.null_content = nn.Parameter(torch.zeros(d))  # classifier-free guidance: "no audio"
        self.null_style = nn.Parameter(torch.zeros(c.style_dim))  # ... and "no emotion"
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm_out = nn.LayerNorm(d)
        self.out = nn.Linear(d, c.num_params)

    def forward(
        self,
        x_t: torch.Tensor,  # [B, T, D]
        t: torch.Tensor,  # [B] integer timesteps
        content: torch.Tensor,  # [B, per_frame * T, C], aligned: audio frame per_frame * i is motion frame i's time
        style: torch.Tensor,  # [B, E] unit vectors, or [B, T, E]: one per frame (an emotion that changes)
        mask: torch.Tensor | None = None,  # [B, T] True = valid frame
        drop: torch.Tensor | None = None,  # [B] True = unconditional (audio and style dropped)
    ) -> torch.Tensor:
        c = self.config
        B, T, _ = x_t.shape
        if content.shape[1] != c.content_per_frame * T:
            raise EmoAnimError(f"content must have {c.content_per_frame} frames per motion frame "
                               f"({c.content_per_frame * T}), got {content.shape[1]}")
        h = self.motion_in(x_t) + positions(self.pos, T)  # [B, T, d]
        ctx = self.content_in(content)  # [B, Ta, d]
        Ta = ctx.shape[1]
        ctx = ctx + positions(self.pos, Ta)
        per_frame = style.ndim == 3
        if per_frame and style.shape[1] != T:
            raise EmoAnimError(f"a per-frame style must have one vector per motion frame ({T}), got {style.shape[1]}")
        if drop is not None:
            ctx = torch.where(drop[:, None, None], self.null_content.expand_as(ctx), ctx)
            dropped = drop.view(B, *([1] * (style.ndim - 1)))
            style = torch.where(dropped, self.null_style.expand_as(style), style)
        t_emb = self.time_mlp(timestep_embedding(t, c.d_model)).view(B, c.layers, 2, c.d_model)
        s_emb = self.style_mlp(style)  # [B, (T,) layers * 2 * d]: AdaIN per item or per frame
        s_emb = s_emb.view(B, T, c.layers, 2, c.d_model).transpose(1, 2) if per_frame else \
            s_emb.view(B, c.layers, 2, c.d_model)
        blocked = ~alignment_mask(T, Ta, c.content_per_frame, c.align_halfwidth, x_t.device)  # [T, Ta]
        pad = None if mask is None else ~mask
        for k, block in enumerate(self.blocks):
            h = block(h, ctx, blocked, pad, s_emb[:, k], t_emb[:, k])
        return self.out(self.norm_out(h))


def align_content(content: torch.Tensor, num_frames: int, per_frame: int = 2) -> torch.Tensor:
    """Content [..., Ta, C] cut or edge-padded to exactly per_frame * num_frames frames."""
    n = per_frame * num_frames
    if content.shape[-2] >= n:
        return content[..., :n, :]
    pad = n - content.shape[-2]
    return torch.cat([content, content[..., -1:, :].expand(*content.shape[:-2], pad, content.shape[-1])], -2)

