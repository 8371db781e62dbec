"""Speech backbones: 16 kHz speech -> frame features on the content grid (50 frames/s).

Every backbone answers the same three things, whatever runs inside:

    backbone.encode(wave [N])            -> features [T, F] float32, T = content_frames(N)
    backbone.encode_batch([wave, ...])   -> [features, ...]  (one batched forward pass where the model allows)
    backbone.feature_dim                 -> F

Frame j covers the speech around j / CONTENT_RATE seconds (20 ms hops), the grid the generator's
content lives on; every backbone's own frame count is cut or edge-padded to ``content_frames(N)``
(the phone recogniser's count), so features from different backbones line up frame for frame.

    kind        what                                                        F
    "ppg"       the compact phone recogniser trained here (posteriors + loudness) 41
    "whisper"   Whisper's encoder (CTranslate2), 30 s windows, stride-2 conv: 50 fps 384 (tiny.en), 512 (base)
    "hubert"    a local transformers HuBERT folder (last or chosen hidden layer) its hidden size
    "wav2vec2"  a local transformers wav2vec 2.0 folder                       its hidden size

Which backbone a model reads is a ``BackboneConfig`` saved in that model's config.json, so choosing
another is a setting, not a code change (``load_backbone(config, device)``). All run on the CPU;
``device="cuda"`` runs the torch models and CTranslate2 on the GPU when one is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emoanim.audio.content import AlignedContentEncoder, ContentEncoder, HubertContentEncoder, load_content_encoder
from emoanim.audio.whisper import WhisperConfig, load_whisper
from emoanim.errors import EmoAnimError
from emoanim.nn import config_from_dict
from emoanim.vocabulary import CONTENT_RATE, SAMPLE_RATE

BACKBONE_KINDS = ("ppg", "whisper", "hubert", "wav2vec2")
HOP = int(SAMPLE_RATE // CONTENT_RATE)  # 320 samples per content frame
WHISPER_WINDOW = 30 * SAMPLE_RATE  # samples per Whisper encoder window (3000 mel frames -> 1500 outputs)


@dataclass
class BackboneConfig:
    kind: str = "ppg"  # one of BACKBONE_KINDS
    path: str | None = None  # ppg/hubert/wav2vec2: the checkpoint folder; whisper: a CTranslate2 folder (None = tiny.en)
    layer: int = -1  # hubert/wav2vec2: which hidden state (-1 = the last)
    sha256: str | None = None  # whisper: model.bin's expected hash (None = the known one for tiny.en)
    compute_type: str = "int8"  # whisper on CPU
    cpu_threads: int = 2  # whisper on CPU (torch models use torch's own thread setting)

    def __post_init__(self) -> None:
        if self.kind not in BACKBONE_KINDS:
            raise EmoAnimError(f"unknown speech backbone '{self.kind}'; choose one of: {', '.join(BACKBONE_KINDS)}")
        if self.kind in ("ppg", "hubert", "wav2vec2") and not self.path:
            raise EmoAnimError(f"the '{self.kind}' backbone needs the path of its checkpoint folder")


def content_frames(num_samples: int) -> int:
    """Content frames for a clip of ``num_samples`` at 16 kHz: ceil((1 + N // 160) / 2)."""
    return (1 + int(num_samples) // (HOP // 2) + 1) // 2


def fit_frames(features: np.ndarray, num_frames: int) -> np.ndarray:
    """[T', F] cut or edge-padded to [num_frames, F]."""
    if len(features) >= num_frames:
        return features[:num_frames]
    pad = np.repeat(features[-1:], num_frames - len(features), 0) if len(features) else np.zeros(
        (num_frames, features.shape[1]), features.dtype)
    return np.concatenate([features, pad]) if len(features) else pad


def check_device(device: str) -> str:
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EmoAnimError(f"device '{device}' was asked for, but no CUDA GPU is available: use cpu")
        return device
    raise EmoAnimError(f"unknown device '{device}'; use cpu or cuda")


def _wave(wave) -> np.ndarray:
    wave = np.asarray(wave, np.float32).reshape(-1)
    if wave.size == 0:
        raise EmoAnimError("the audio is empty (no samples): give speech of at least a few tenths of a second")
    if not np.isfinite(wave).all():
        raise EmoAnimError("the audio contains NaN or infinite samples: re-export it as normal PCM audio")
    return wave


class SpeechBackbone:
    """16 kHz speech -> features [T, F] at 50 frames/s. Subclasses implement ``_encode_batch``."""

    kind = ""

    def __init__(self, config: BackboneConfig, device: str = "cpu") -> None:
        self.config = config
        self.device = check_device(device)

    @property
    def feature_dim(self) -> int:
        raise NotImplementedError

    def encode(self, wave: np.ndarray) -> np.ndarray:
        """One clip, float32 [N] at 16 kHz -> features [content_frames(N), F] float32."""
        return self.encode_batch([wave])[0]

    def encode_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Clips of any lengths -> one features array each, [content_frames(N_i), F]."""
        waves = [_wave(w) for w in waves]
        if not waves:
            return []
        out = self._encode_batch(waves)
        return [fit_frames(np.asarray(f, np.float32), content_frames(len(w))) for f, w in zip(out, waves)]

    def _encode_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


@torch.no_grad()
def _run_padded(model: torch.nn.Module, waves: list[np.ndarray], device: str) -> list[np.ndarray]:
    """Clips zero-padded into one batch through ``model(wave [B, N], lengths [B]) -> (features, mask)``,
    each cut back to its valid frames."""
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waves], batch_first=True)
    features, mask = model(batch.to(device), lengths.to(device))
    return [f[: int(m.sum())].cpu().numpy() for f, m in zip(features, mask)]


class PhoneRecogniserBackbone(SpeechBackbone):
    """The compact phone recogniser trained here (``ContentEncoder``): 40 phone posteriors + loudness."""

    kind = "ppg"

    def __init__(self, config: BackboneConfig, device: str = "cpu", model: ContentEncoder | None = None) -> None:
        super().__init__(config, device)
        model = model or load_content_encoder(config.path)
        if isinstance(model, AlignedContentEncoder):  # the default folder: the recogniser inside it
            model = model.posteriors
        if not isinstance(model, ContentEncoder):
            raise EmoAnimError(f"{config.path} holds no phone recogniser (a 'ppg' or 'aligned' content encoder)")
        self.model = model.to(self.device).eval()

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    def _encode_batch(self, waves):
        return _run_padded(self.model, waves, self.device)


class TransformersBackbone(SpeechBackbone):
    """A local ``transformers`` HuBERT or wav2vec 2.0 folder (20 ms frames), never downloaded."""

    kind = "hubert"

    def __init__(self, config: BackboneConfig, device: str = "cpu") -> None:
        super().__init__(config, device)
        self.model = HubertContentEncoder(config.path, config.layer).to(self.device).eval()
        self.kind = config.kind

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    def _encode_batch(self, waves):
        if self.model.model.config.feat_extract_norm != "layer":
            # Group-normed CNN front ends (HuBERT/wav2vec 2.0 base) take no attention mask: padding
            # would change every frame's features, so such models read one clip at a time.
            return [_run_padded(self.model, [w], self.device)[0] for w in waves]
        return _run_padded(self.model, waves, self.device)


class WhisperBackbone(SpeechBackbone):
    """Whisper's encoder output (last layer) through CTranslate2, in 30 s windows, 50 frames/s."""

    kind = "whisper"

    def __init__(self, config: BackboneConfig, device: str = "cpu") -> None:
        super().__init__(config, device)
        if self.device.startswith("cuda"):
            import ctranslate2  # lazy: start-up time

            if ctranslate2.get_cuda_device_count() == 0:
                raise EmoAnimError("this ctranslate2 build has no CUDA support: use device cpu for Whisper")
        whisper = WhisperConfig(config.path, config.sha256, config.compute_type, config.cpu_threads)
        self.whisper = load_whisper(whisper, self.device)

        self._dim: int | None = None  # the encoder width, known after the first window

    @property
    def feature_dim(self) -> int:
        if self._dim is None:
            self._encode_batch([np.zeros(HOP, np.float32)])
        return self._dim

    @property
    def n_mels(self) -> int:
        return int(self.whisper.feature_extractor.mel_filters.shape[0])

    def _storage(self, x: np.ndarray):
        import ctranslate2  # lazy: start-up time

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(x, np.float32))

    def _encode_batch(self, waves, max_windows: int = 4):
        # Each clip -> whole 30 s windows of log-mel (zero audio after the end, as Whisper pads).
        windows, owners = [], []
        for i, w in enumerate(waves):
            n = max(1, -(-len(w) // WHISPER_WINDOW))
            padded = np.zeros(n * WHISPER_WINDOW, np.float32)
            padded[: len(w)] = w
            mel = self.whisper.feature_extractor(padded, padding=0)  # [M, 3000 n] (+1 at most)
            for k in range(n):
                windows.append(mel[:, k * 3000 : (k + 1) * 3000])
                owners.append(i)
        outputs = []
        for b in range(0, len(windows), max_windows):  # bounded memory for long batches
            x = np.stack(windows[b : b + max_windows])
            y = np.asarray(self.whisper.model.encode(self._storage(x), to_cpu=True))  # [b, 1500, F]
            outputs.extend(y)
        self._dim = int(outputs[0].shape[-1])
        feats: list[list[np.ndarray]] = [[] for _ in waves]
        for i, y in zip(owners, outputs):
            feats[i].append(y)
        return [np.concatenate(f) for f in feats]


def load_backbone(config: BackboneConfig | dict, device: str = "cpu", **kwargs) -> SpeechBackbone:
    """The backbone a config names (a ``BackboneConfig`` or its dict form from a config.json)."""
    if isinstance(config, dict):
        config = config_from_dict(BackboneConfig, config, "speech backbone")
    if config.kind == "ppg":
        return PhoneRecogniserBackbone(config, device, **kwargs)
    if config.kind == "whisper":
        return WhisperBackbone(config, device)
    if config.path is not None and not Path(config.path).expanduser().is_dir():
        raise EmoAnimError(f"no {config.kind} checkpoint folder at {config.path}")
    return TransformersBackbone(config, device)
