"""Audio content encoders: speech -> what is said, frame by frame, at 50 frames/s (paper Sec. III-B).

The paper reads content with HuBERT fine-tuned for ASR because it keeps *what* is said and drops
*who* says it. Hub weights cannot be fetched here, so the default is built and trained here with the
same goal: a **phonetic posteriorgram** (PPG). A small convolutional phone recogniser reads CMVN
log-mel (constant channel/speaker colouring removed) and is trained on the corpus's exact phone
timings with voice-changing augmentation (speed perturbation, vocal-tract warp, noise, SpecAugment).
Its output, a probability over 40 phones per 20 ms, is what the generator reads: phones are the same
whoever speaks, so the generator never sees timbre. One loudness channel (frame energy re the
clip's loudest frame) is appended because how wide the jaw opens follows how loud the syllable is.

    wave [B, N] 16 kHz --log-mel 64 (CMN), / clip std--> [B, T, 64] at 100 fps
        --Conv1d k3 s2--> 50 fps --6 x residual dilated Conv1d (d = 1 2 4 1 2 4) + LN--> phone logits [B, T/2, 40]
    content = [softmax(logits) | energy]  [B, T/2, 41]

``HubertContentEncoder`` keeps the paper's path: a ``transformers`` HuBERT (any local checkpoint,
e.g. one fine-tuned for ASR) whose last hidden states (also 50 frames/s) are the content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoanim.audio.features import AudioFeatureConfig, audio_features, augment_mel, check_wave
from emoanim.errors import EmoAnimError
from emoanim.nn import lengths_to_mask
from emoanim.persistence import CONFIG_FILE, Pretrained, load_transformers_model
from emoanim.vocabulary import CONTENT_RATE, PHONES

ENERGY_FLOOR_DB = 60.0  # the loudness channel spans this many dB under the clip's loudest frame


@dataclass
class ContentEncoderConfig:
    kind: str = "ppg"  # which encoder this config builds (``load_content_encoder`` reads it)
    features: AudioFeatureConfig = field(  # CMVN log-mel only: no prosody, the content is what is said
        default_factory=lambda: AudioFeatureConfig(n_mels=64, with_prosody=False, mel_norm="cmn"))
    hidden: int = 192  # convolution channels
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)  # receptive field ~ +-0.3 s: coarticulation context
    dropout: float = 0.1
    num_phones: int = len(PHONES)  # P: phone classes (ARPAbet + silence)
    # Train-mode augmentation (speed perturbation and noise are applied to the wave by the trainer):
    warp: float = 0.12
    freq_masks: int = 2
    freq_mask_width: int = 8
    time_masks: int = 2
    time_mask_frames: int = 10

    def __post_init__(self) -> None:
        if self.kind != ContentEncoder.kind:
            raise EmoAnimError(f"this config builds a '{self.kind}' content encoder, not a '{ContentEncoder.kind}' "
                               "one: load its folder with load_content_encoder")
        self.dilations = tuple(int(d) for d in self.dilations)  # JSON reads a list


class _ResidualConv(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.norm = nn.LayerNorm(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # h [B, C, T], mask [B, T]
        y = self.drop(F.gelu(self.norm(self.conv(h).transpose(1, 2)))).transpose(1, 2)
        return (h + y).masked_fill(~mask[:, None], 0.0)


class ContentEncoder(Pretrained, nn.Module):
    """The default content encoder: a phone recogniser whose posteriors (+ loudness) are the content."""

    config_class = ContentEncoderConfig
    what = "content encoder"
    kind = "ppg"

    def __init__(self, config: ContentEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ContentEncoderConfig()
        M, C = config.features.n_mels, config.hidden
        self.front = nn.Conv1d(M, C, 3, stride=2, padding=1)  # output frame j centred on input frame 2j
        self.front_norm = nn.LayerNorm(C)
        self.blocks = nn.ModuleList(_ResidualConv(C, d, config.dropout) for d in config.dilations)
        self.head = nn.Linear(C, config.num_phones)

    @property
    def feature_dim(self) -> int:
        return self.config.num_phones + 1

    # ---- features ----------------------------------------------------------------------------
    def mel(self, wave: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """wave [B, N] -> CMVN log-mel [B, T, M], mask [B, T] at 100 fps, energy [B, T] in [-1, 0]."""
        wave, lengths = check_wave(wave, lengths)
        mel, mask = audio_features(wave, lengths, self.config.features)  # CMN'd, 0 on padding
        n = mask.sum(1).clamp(min=1)[:, None, None]
        std = ((mel.square().sum((1, 2), keepdim=True) / (n * mel.shape[-1])).sqrt()).clamp(min=1e-3)
        mel = mel / std  # one scale per clip: dynamic range differs with recording and voice effort
        hop, win = self.config.features.hop_length, self.config.features.win_length
        frames = F.pad(wave, (win // 2, win)).unfold(1, win, hop)[:, : mel.shape[1]]  # [B, T, win]
        energy = 10 * torch.log10(frames.square().mean(-1) + 1e-10)  # [B, T] dB
        loudest = energy.masked_fill(~mask, -200.0).amax(1, keepdim=True)
        energy = ((energy - loudest).clamp(min=-ENERGY_FLOOR_DB) / ENERGY_FLOOR_DB).masked_fill(~mask, -1.0)
        return mel, mask, energy

    def logits(self, mel: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CMVN log-mel [B, T, M] at 100 fps -> phone logits [B, T2, P], mask [B, T2] at 50 fps."""
        if self.training:
            c = self.config
            mel = augment_mel(mel, mask, c.features.n_mels, c.warp, c.freq_masks, c.freq_mask_width,
                              c.time_masks, c.time_mask_frames)
        h = self.front(mel.masked_fill(~mask[..., None], 0.0).transpose(1, 2))  # [B, C, T2]
        mask = half_rate_mask(mask)
        h = F.gelu(self.front_norm(h.transpose(1, 2))).transpose(1, 2).masked_fill(~mask[:, None], 0.0)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(h.transpose(1, 2)), mask

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [B, N] 16 kHz -> content [B, T2, P + 1], mask [B, T2] (T2 = ceil(T / 2), 50 fps)."""
        mel, mask, energy = self.mel(wave, lengths)
        logits, mask2 = self.logits(mel, mask)
        energy2 = energy[:, ::2][:, : logits.shape[1]]
        content = torch.cat([logits.softmax(-1), energy2[..., None]], -1)
        return content.masked_fill(~mask2[..., None], 0.0), mask2

    @torch.no_grad()
    def encode(self, wave: np.ndarray) -> np.ndarray:
        """One clip, float32 [N] at 16 kHz -> content [T2, P + 1] float32 at 50 frames/s."""
        self.eval()
        device = next(self.parameters()).device
        content, _ = self(torch.as_tensor(np.asarray(wave, np.float32), device=device)[None])
        return content[0].cpu().numpy()


def half_rate_mask(mask: torch.Tensor) -> torch.Tensor:
    """Valid-frame mask [B, T] at 100 fps -> [B, ceil(T / 2)] at 50 fps (the k3 s2 p1 conv's lengths)."""
    n = (mask.sum(1) + 1) // 2
    return torch.arange((mask.shape[1] + 1) // 2, device=mask.device)[None] < n[:, None]


def phone_targets(phones, num_frames: int, rate: float = CONTENT_RATE, speed: float = 1.0) -> np.ndarray:
    """Phone index per content frame [num_frames] (frame j at j / rate seconds); ``speed`` > 1 when
    the audio was played faster (times shrink by it). Frames outside every segment are silence."""
    target = np.zeros(num_frames, np.int64)
    for seg in phones:
        lo = int(np.ceil(seg.start / speed * rate - 1e-9))
        hi = int(np.ceil(seg.end / speed * rate - 1e-9))
        target[max(lo, 0) : max(min(hi, num_frames), 0)] = PHONES.index(seg.phone)
    return target


# ---- the paper's path: a local transformers HuBERT ----------------------------------------------


class HubertContentEncoder(nn.Module):
    """Content = the last hidden states of a local ``transformers`` HuBERT checkpoint (50 frames/s)."""

    kind = "hubert"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        from transformers import HubertModel  # lazy: start-up time

        self.model = load_transformers_model(HubertModel, path, "HuBERT", "facebook/hubert-large-ls960-ft").eval()
        self.path = str(Path(path).expanduser())

    @property
    def feature_dim(self) -> int:
        return self.model.config.hidden_size

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        wave, lengths = check_wave(wave, lengths)
        mask = lengths_to_mask(lengths, wave.shape[1])  # [B, N]
        # HuBERT expects zero-mean unit-variance input per clip (its feature extractor's normalisation).
        n = lengths[:, None].clamp(min=1)
        mean = (wave * mask).sum(1, keepdim=True) / n
        std = (((wave - mean) * mask).square().sum(1, keepdim=True) / n).sqrt().clamp(min=1e-5)
        x = ((wave - mean) / std).masked_fill(~mask, 0.0)
        out = self.model(x, attention_mask=mask.long() if self.model.config.feat_extract_norm == "layer" else None)
        hidden = out.last_hidden_state  # [B, T2, H]
        n_out = self.model._get_feat_extract_output_lengths(lengths)
        mask2 = lengths_to_mask(n_out, hidden.shape[1])  # [B, T2]
        return hidden.masked_fill(~mask2[..., None], 0.0), mask2

    @torch.no_grad()
    def encode(self, wave: np.ndarray) -> np.ndarray:
        device = next(self.parameters()).device
        content, _ = self(torch.as_tensor(np.asarray(wave, np.float32), device=device)[None])
        return content[0].cpu().numpy()


def load_content_encoder(folder: str | Path, device: str = "cpu") -> nn.Module:
    """The content encoder in ``folder``: one saved by ``ContentEncoder.save_pretrained`` or a
    ``transformers`` HuBERT checkpoint folder."""
    config_file = Path(folder).expanduser() / CONFIG_FILE
    try:
        kind = json.loads(config_file.read_text()).get("kind")
    except FileNotFoundError:
        raise EmoAnimError(f"no content encoder in {folder} (no config.json)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise EmoAnimError(f"the content encoder config in {folder} is damaged ({exc})") from None
    if kind == ContentEncoder.kind:
        return ContentEncoder.from_pretrained(folder, device)
    return HubertContentEncoder(folder).to(device)
