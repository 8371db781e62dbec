"""Audio emotion encoders: speech -> per-frame emotion features (paper Sec. III-A, the audio branch).

Three interchangeable encoders with one interface, ``forward(wave, lengths) -> (features, mask)`` and
``classify(features, mask) -> (emotion logits, intensity logits)``:

``WhisperEmotionEncoder`` (the shipped space's, ``train audio-side``): frozen Whisper tiny.en encoder frames
with the clip's mean frame (the voice) taken out, then a small transformer; see the class.

``AudioEmotionEncoder`` (the config default, trained from scratch on the corpus, < 1 M parameters)::

    wave [B, N] 16 kHz --audio_features--> [B, T, 70] at 100 fps (CMN log-mel 64 + prosody 6)
        --(train: random gain, vocal-tract warp, SpecAugment)--> x feature_scale
        --Conv1d k5 s2 + LN + GELU (x2)--> [B, T/4, C] at 25 fps --+ sinusoids--> pre-LN transformer
        --> features [B, T', F]   --(masked max ++ masked mean)--> MLP --> emotion [B, 8], intensity [B, 3]

``Wav2Vec2EmotionEncoder``: a frozen ``transformers`` Wav2Vec2 (any local checkpoint, e.g. one
fine-tuned for speech emotion recognition) whose hidden layers are mixed by learned softmax weights
into per-frame features (50 fps for the standard conv stack), with the same pooled heads.

Masks are True on valid frames. In eval mode a clip alone and the same clip zero-padded in a batch
give the same features on its frames (compact encoder exactly; wav2vec2 exactly for checkpoints
with ``feat_extract_norm='layer'``, approximately for group-norm ones such as wav2vec2-base).

Persistence (``emoanim.persistence.Pretrained``): ``save_pretrained`` / ``from_pretrained`` keep
fp16 safetensors next to the JSON config (``audio_encoder.safetensors``, ``audio_encoder.json``);
the config's ``kind`` says which encoder it builds. The wav2vec2 backbone is NOT in the state dict
(it is frozen and re-read from ``config.path``); only the layer weights and heads are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoanim.audio.features import AudioFeatureConfig, audio_features, augment_mel, check_wave, feature_scale
from emoanim.binding.adapter import pre_ln_transformer
from emoanim.errors import EmoAnimError
from emoanim.fileio import file_sha256
from emoanim.nn import PooledHeads, lengths_to_mask, positions, predict_probabilities, sinusoids
from emoanim.persistence import Pretrained, load_transformers_model
from emoanim.vocabulary import CONTENT_RATE, SAMPLE_RATE

__all__ = [
    "AudioEncoderConfig",
    "AudioEmotionEncoder",
    "Wav2Vec2EncoderConfig",
    "WhisperEmotionConfig",
    "WhisperEmotionEncoder",
    "Wav2Vec2EmotionEncoder",
    "load_audio_encoder",
]

CONFIG_FILE = "audio_encoder.json"
WEIGHTS_FILE = "audio_encoder.safetensors"


class _AudioEncoder(Pretrained, nn.Module):
    """What both audio emotion encoders share: their files, the pooled heads and ``predict``."""

    config_file = CONFIG_FILE
    weights_file = WEIGHTS_FILE
    what = "audio encoder"
    kind: str  # the config's ``kind``: which encoder a saved config builds
    heads: PooledHeads

    @classmethod
    def from_config(cls, config):
        kind = config.get("kind", cls.kind) if isinstance(config, dict) else config.kind
        if kind != cls.kind:  # before the settings are checked: the other kind's settings are all "unknown"
            raise EmoAnimError(f"this config builds a '{kind}' audio encoder, not a '{cls.kind}' one: "
                               f"load it with load_audio_encoder('{kind}', folder)")
        return super().from_config(config)

    def _add_frame_layers(self, config) -> None:
        """What the trained encoders put over their frames [B, T, d_model]: sinusoids, a pre-LN transformer,
        a final norm, and the pooled heads."""
        C = config.d_model
        self.register_buffer("pos", sinusoids(config.max_frames, C), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = pre_ln_transformer(C, config.heads, config.ff, config.dropout, config.layers)
        self.norm = nn.LayerNorm(C)
        self.heads = PooledHeads(C, C, config.num_emotions, config.num_intensities, config.dropout)

    def _frame_layers(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h [B, T, d_model], mask [B, T] -> features [B, T, d_model] (zero on padding), mask."""
        h = self.encoder(self.drop(h + positions(self.pos, h.shape[1])), src_key_padding_mask=~mask)
        return self.norm(h).masked_fill(~mask[..., None], 0.0), mask

    def classify(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T', F] -> (emotion logits [B, num_emotions], intensity logits [B, num_intensities])."""
        return self.heads(features, mask)

    def predict(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [B, N] -> (emotion probabilities [B, 8], intensity probabilities [B, 3]), in eval mode."""
        return predict_probabilities(self, wave, lengths)


# ---- the compact encoder ------------------------------------------------------------------------


@dataclass
class AudioEncoderConfig:
    kind: str = "compact"  # which encoder this config builds (``AudioEmotionEncoder.kind``)
    features: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)  # what the convolutions read
    d_model: int = 128  # conv and transformer width = feature dim F
    conv_kernel: int = 5
    conv_strides: tuple[int, ...] = (2, 2)  # 100 fps features -> 25 fps, the motion frame rate
    layers: int = 2  # transformer layers
    heads: int = 4  # attention heads
    ff: int = 256  # feed-forward width
    dropout: float = 0.1
    max_frames: int = 1024  # sinusoid table size; it is extended for longer clips
    num_emotions: int = 8
    num_intensities: int = 3
    # Train-mode augmentation (never in eval):
    gain_db: float = 6.0  # random gain +- this (features are level-invariant; it guards the noise floor)
    warp: float = 0.1  # mel axis stretched by a factor in [1/(1+w), 1+w]: vocal-tract length (speaker)
    freq_masks: int = 2  # SpecAugment: this many mel bands of up to freq_mask_width channels set to 0
    freq_mask_width: int = 8
    time_masks: int = 2  # ... and this many spans of up to time_mask_frames frames (10 ms each)
    time_mask_frames: int = 20

    def __post_init__(self) -> None:
        self.conv_strides = tuple(int(s) for s in self.conv_strides)  # JSON reads a list


class AudioEmotionEncoder(_AudioEncoder):
    config_class = AudioEncoderConfig
    kind = "compact"

    def __init__(self, config: AudioEncoderConfig | None = None) -> None:
        super().__init__()
        config = config or AudioEncoderConfig()
        if config.d_model % config.heads:
            raise EmoAnimError(f"d_model ({config.d_model}) must be divisible by heads ({config.heads})")
        self.config = config
        C_in, C = config.features.num_channels, config.d_model
        self.register_buffer("scale", feature_scale(config.features), persistent=False)  # [C_in]

        # Strided 1-D convolutions over time; LayerNorm per frame (no statistics across clips or frames).
        self.convs = nn.ModuleList()
        self.conv_norms = nn.ModuleList()
        for i, _ in enumerate(config.conv_strides):
            self.convs.append(nn.Conv1d(C_in if i == 0 else C, C, config.conv_kernel, config.conv_strides[i],
                                        padding=config.conv_kernel // 2))
            self.conv_norms.append(nn.LayerNorm(C))
        self._add_frame_layers(config)

    # ---- rates and lengths ----------------------------------------------------------------

    @property
    def feature_dim(self) -> int:
        return self.config.d_model

    @property
    def frame_rate(self) -> float:
        """Output frames per second (25 with the defaults)."""
        return self.config.features.frame_rate / math.prod(self.config.conv_strides)

    def output_lengths(self, frames: torch.Tensor) -> torch.Tensor:
        """Valid output frames for ``frames`` valid feature frames (the conv length formula)."""
        k = self.config.conv_kernel
        for stride in self.config.conv_strides:
            frames = (frames + 2 * (k // 2) - k) // stride + 1
        return frames

    # ---- encoding -------------------------------------------------------------------------

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [B, N] (or [N]) float 16 kHz, lengths [B] valid samples -> features [B, T', F], mask [B, T']."""
        wave = torch.as_tensor(wave)
        if self.training and self.config.gain_db > 0:
            gain_db = (torch.rand(wave.shape[0] if wave.ndim > 1 else 1, 1, device=wave.device) * 2 - 1) * self.config.gain_db
            wave = wave * 10.0 ** (gain_db / 20.0)
        feats, mask = audio_features(wave, lengths, self.config.features)  # [B, T, C_in], [B, T]
        return self.encode_features(feats, mask)

    def encode_features(self, feats: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Precomputed ``audio_features`` [B, T, C_in] (unscaled), mask [B, T] -> features [B, T', F], mask [B, T']."""
        x = feats * self.scale
        if self.training:
            x = self._augment(x, mask)
        x = x.masked_fill(~mask[..., None], 0.0)

        # Conv front-end: re-zero padded frames after each layer so they never leak into valid ones.
        h = x.transpose(1, 2)  # [B, C_in, T]
        n = mask.sum(1)  # [B] valid frames
        for conv, norm, stride in zip(self.convs, self.conv_norms, self.config.conv_strides):
            h = F.gelu(norm(conv(h).transpose(1, 2))).transpose(1, 2)  # [B, C, T / stride]
            n = (n + 2 * (conv.padding[0]) - conv.kernel_size[0]) // stride + 1
            h = h.masked_fill(~lengths_to_mask(n, h.shape[-1])[:, None], 0.0)
        h = h.transpose(1, 2)  # [B, T', C]
        return self._frame_layers(h, lengths_to_mask(n, h.shape[1]))  # [B, T', F], [B, T']

    def _augment(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Train-mode views of scaled features x [B, T, C_in]: vocal-tract warp and SpecAugment."""
        cfg = self.config
        return augment_mel(x, mask, cfg.features.n_mels, cfg.warp, cfg.freq_masks, cfg.freq_mask_width,
                           cfg.time_masks, cfg.time_mask_frames)


# ---- a frozen wav2vec2 backbone -----------------------------------------------------------------


@dataclass
class Wav2Vec2EncoderConfig:
    path: str  # local folder of a transformers Wav2Vec2 checkpoint (config.json + weights)
    layer_weights: bool = True  # learned softmax mix of all hidden layers (else the last one only)
    normalize: bool | None = None  # zero-mean unit-variance input; None = the checkpoint's preprocessor setting
    hidden: int = 256  # classification head width
    dropout: float = 0.1
    num_emotions: int = 8
    num_intensities: int = 3
    kind: str = "wav2vec2"  # which encoder this config builds (``Wav2Vec2EmotionEncoder.kind``)


class Wav2Vec2EmotionEncoder(_AudioEncoder):
    config_class = Wav2Vec2EncoderConfig
    kind = "wav2vec2"

    def __init__(self, config: Wav2Vec2EncoderConfig) -> None:
        super().__init__()
        self.config = config
        backbone = _load_wav2vec2(config.path)
        backbone.eval().requires_grad_(False)
        # Held outside the module tree: frozen, not saved (re-read from config.path), not in parameters().
        object.__setattr__(self, "backbone", backbone)
        bc = backbone.config
        self.sample_rate = SAMPLE_RATE
        if config.normalize is None:
            config.normalize = _checkpoint_normalizes(config.path)
        num_states = bc.num_hidden_layers + 1  # the conv features' projection and every transformer layer
        self.layer_logits = nn.Parameter(torch.zeros(num_states)) if config.layer_weights else None
        self.norm = nn.LayerNorm(bc.hidden_size)
        self.heads = PooledHeads(bc.hidden_size, config.hidden, config.num_emotions, config.num_intensities,
                                  config.dropout)

    @property
    def feature_dim(self) -> int:
        return self.backbone.config.hidden_size

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / math.prod(self.backbone.config.conv_stride)  # 50 for the standard stack

    def _apply(self, fn, *args, **kwargs):
        # .to(), .cuda(), .half() reach the backbone too, although it is not a registered submodule.
        self.backbone._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [B, N] float 16 kHz, lengths [B] -> features [B, T', hidden], mask [B, T'] (~50 fps)."""
        wave, lengths = check_wave(wave, lengths)  # [B, N], zero past each length
        device = next(self.backbone.parameters()).device
        wave, lengths = wave.to(device), lengths.to(device)
        valid = lengths_to_mask(lengths, wave.shape[1])  # [B, N]
        if self.config.normalize:  # per clip, over its valid samples (what Wav2Vec2FeatureExtractor does)
            n = lengths[:, None].float()
            mean = (wave * valid).sum(1, keepdim=True) / n
            var = ((wave - mean).square() * valid).sum(1, keepdim=True) / n
            wave = ((wave - mean) / torch.sqrt(var + 1e-7)).masked_fill(~valid, 0.0)
        # Group-norm checkpoints (wav2vec2-base) were trained without attention masks on zero padding.
        attention = valid.long() if self.backbone.config.feat_extract_norm == "layer" else None
        with torch.no_grad():
            out = self.backbone(wave, attention_mask=attention, output_hidden_states=True)
        states = torch.stack(out.hidden_states, 0)  # [L+1, B, T', H]
        if self.layer_logits is not None:
            h = (self.layer_logits.softmax(0)[:, None, None, None] * states).sum(0)
        else:
            h = states[-1]
        n_out = self.backbone._get_feat_extract_output_lengths(lengths).long()
        mask = lengths_to_mask(n_out.clamp(max=h.shape[1]), h.shape[1])  # [B, T']
        return self.norm(h).masked_fill(~mask[..., None], 0.0), mask

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: no dropout, no SpecAugment inside the backbone
        return self


def _load_wav2vec2(path: str | Path):
    from transformers import Wav2Vec2Model  # lazy: start-up time

    return load_transformers_model(Wav2Vec2Model, path, "wav2vec2", "with `huggingface-cli download`")


def _checkpoint_normalizes(path: str | Path) -> bool:
    """The checkpoint's ``do_normalize`` (preprocessor_config.json); True when it has none (the common case)."""
    file = Path(path).expanduser() / "preprocessor_config.json"
    try:
        return bool(json.loads(file.read_text()).get("do_normalize", True))
    except (OSError, json.JSONDecodeError):
        return True


# ---- frozen Whisper encoder features -------------------------------------------------------------


@dataclass
class WhisperEmotionConfig:
    kind: str = "whisper"  # which encoder this config builds (``WhisperEmotionEncoder.kind``)
    model: str | None = None  # a CTranslate2 Whisper folder; None = tiny.en (``emoanim.audio.whisper``)
    sha256: str | None = None  # its model.bin's hash (None = the known one of tiny.en)
    backbone_dim: int = 384  # width of the Whisper encoder's output (384: tiny.en, 512: base)
    speaker_norm: str = "utterance"  # "utterance": minus the clip's mean frame (the voice), "none": as it is
    voice: bool = False  # also read the clip's mean frame beside every frame: better on synthetic voices (val 0.34
    #                      vs 0.32), far worse on real calm speech (issue-13 note), so off
    d_model: int = 128  # width of the trained layers = feature dim F
    layers: int = 1  # transformer layers over the 25 fps frames
    heads: int = 4
    ff: int = 256
    dropout: float = 0.1
    feature_dropout: float = 0.2  # dropout on the backbone's frames (training only)
    max_frames: int = 1024  # sinusoid table size; it is extended for longer clips
    num_emotions: int = 8
    num_intensities: int = 3


class WhisperEmotionEncoder(_AudioEncoder):
    """Frozen Whisper encoder frames (50 fps, averaged in pairs to 25 fps) -> a small trained transformer::

        wave [B, N] --Whisper encoder (CTranslate2, frozen, not saved)--> [B, T, H] at 25 fps
            --LayerNorm--> minus the clip's mean frame (``speaker_norm``) (++ that mean, with ``voice``)
            --Linear--> + sinusoids --> pre-LN transformer --> features [B, T, F]

    Why the clip's mean frame is taken out: it mostly says who speaks (timbre, microphone); what is left
    says how the voice moves, which is what carries over from synthetic voices to real ones (issue-13 note:
    real calm speech read as neutral or mild 98.5 % with it taken out, 86 % without).
    Training reads cached backbone frames (``encode_frames``); ``forward`` runs the backbone itself.
    """

    config_class = WhisperEmotionConfig
    kind = "whisper"

    def __init__(self, config: WhisperEmotionConfig | None = None) -> None:
        super().__init__()
        config = config or WhisperEmotionConfig()
        if config.speaker_norm not in ("utterance", "none"):
            raise EmoAnimError(f"speaker_norm must be 'utterance' or 'none', got '{config.speaker_norm}'")
        self.config = config
        H, C = config.backbone_dim, config.d_model
        self._backbone = None  # the frozen Whisper encoder, loaded on first use (training reads cached frames)
        self.in_norm = nn.LayerNorm(H)
        self.proj = nn.Linear(2 * H if config.voice else H, C)
        self._add_frame_layers(config)

    @property
    def feature_dim(self) -> int:
        return self.config.d_model

    @property
    def frame_rate(self) -> float:
        return CONTENT_RATE / 2  # Whisper's 50 fps averaged in pairs: the motion frame rate

    def backbone(self):
        """The frozen Whisper encoder (``WhisperBackbone``), loaded and sha256-checked once per encoder."""
        if self._backbone is None:
            from emoanim.audio.backbones import BackboneConfig, load_backbone  # lazy: CTranslate2 start-up

            self._backbone = load_backbone(BackboneConfig(kind="whisper", path=self.config.model,
                                                          sha256=self.config.sha256, cpu_threads=1))
        return self._backbone

    def backbone_digest(self) -> str:
        """The sha256 of the backbone's weights (model.bin): the expected one, which ``model_dir`` has just
        checked, when it is known; else the file's own."""
        from emoanim.audio.whisper import MODEL_FILE, TINY_EN_SHA256, WhisperConfig, model_dir  # lazy: start-up

        folder = model_dir(WhisperConfig(self.config.model, self.config.sha256))
        expected = self.config.sha256 or (TINY_EN_SHA256 if self.config.model is None else None)
        return expected.lower() if expected else file_sha256(folder / MODEL_FILE)

    def backbone_frames(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """16 kHz clips -> the frozen backbone's frames [T_i, H] float32 at 25 fps (pairs of 50 fps frames averaged)."""
        return [pair_frames(f) for f in self.backbone().encode_batch(waves)]

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [B, N] float 16 kHz, lengths [B] valid samples -> features [B, T', F], mask [B, T'] (25 fps)."""
        wave, lengths = check_wave(wave, lengths)
        waves = [w[: int(n)].cpu().numpy() for w, n in zip(wave, lengths)]
        frames = [torch.from_numpy(f) for f in self.backbone_frames(waves)]
        x = nn.utils.rnn.pad_sequence(frames, batch_first=True)  # [B, T, H], zero past each clip
        mask = lengths_to_mask(torch.tensor([len(f) for f in frames]), x.shape[1])
        return self.encode_frames(x.to(self.pos.device), mask.to(self.pos.device))

    def encode_frames(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone frames [B, T, H] (``backbone_frames``, padded), mask [B, T] -> features [B, T, F], mask [B, T]."""
        cfg = self.config
        x = self.in_norm(frames)
        if self.training and cfg.feature_dropout:
            x = F.dropout(x, cfg.feature_dropout)
        m = mask[..., None].float()
        mean = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1.0)  # [B, 1, H]: the voice
        moving = x - mean if cfg.speaker_norm == "utterance" else x
        if cfg.voice:
            moving = torch.cat([moving, mean.expand_as(x)], -1)
        h = self.proj(moving).masked_fill(~mask[..., None], 0.0)
        return self._frame_layers(h, mask)


def pair_frames(frames: np.ndarray) -> np.ndarray:
    """[T, H] at 50 fps -> [T // 2, H] at 25 fps: each pair of frames averaged (an odd last 20 ms dropped)."""
    frames = np.asarray(frames, np.float32)
    return frames[: len(frames) // 2 * 2].reshape(-1, 2, frames.shape[1]).mean(1)


# ---- factory ------------------------------------------------------------------------------------


def load_audio_encoder(kind: str = "compact", path: str | Path | None = None) -> nn.Module:
    """An audio emotion encoder.

    ``'compact'``: a new ``AudioEmotionEncoder`` (``path=None``) or one saved with ``save_pretrained``.
    ``'wav2vec2'``: ``path`` is either a transformers Wav2Vec2 checkpoint folder (new heads on a frozen
    backbone) or a folder saved with ``Wav2Vec2EmotionEncoder.save_pretrained`` (trained heads).
    """
    if kind == "compact":
        return AudioEmotionEncoder() if path is None else AudioEmotionEncoder.from_pretrained(path)
    if kind == "whisper":
        return WhisperEmotionEncoder() if path is None else WhisperEmotionEncoder.from_pretrained(path)
    if kind == "wav2vec2":
        if path is None:
            raise EmoAnimError("the wav2vec2 audio encoder needs the folder of a local wav2vec2 checkpoint")
        if (Path(path) / CONFIG_FILE).is_file():
            return Wav2Vec2EmotionEncoder.from_pretrained(path)
        return Wav2Vec2EmotionEncoder(Wav2Vec2EncoderConfig(path=str(path)))
    raise EmoAnimError(f"unknown audio encoder '{kind}': choose 'compact', 'whisper' or 'wav2vec2'")
