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

``AlignedContentEncoder`` (the default, kind "aligned") adds what is *said*: a transcript (the
user's, or Whisper's recognition of the clip) is force-aligned to the audio by pocketsphinx (an
acoustic model trained on real US-English speech), and the aligned phones, one-hot per frame in
PHONES order, are fused with the recogniser's posteriors:

    wave --ContentEncoder--> posteriors [T, 40], loudness [T]
    transcript (given | recognise(wave) if usable) --align--> phone segments --one-hot--> [T, 40]
    content = [w * one-hot + (1 - w) * posteriors | loudness]     [T, 41]
    (where the alignment has silence but the posteriors hear speech, or nothing could be aligned,
    the posteriors alone)

It tells which route it took (``ContentInfo``): "transcript", "recognised" or "posteriors" (the
fallback when recognition is unusable: noise, singing, another language).

``HubertContentEncoder`` keeps the paper's path: a ``transformers`` HuBERT (any local checkpoint,
e.g. one fine-tuned for ASR) whose last hidden states (also 50 frames/s) are the content.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoanim.audio.align import align, warm_up_aligner
from emoanim.audio.features import AudioFeatureConfig, audio_features, augment_mel, check_wave
from emoanim.audio.recognize import Recognition, RecognizerConfig, recognize
from emoanim.audio.whisper import load_whisper
from emoanim.errors import EmoAnimError
from emoanim.memory import release_free_memory
from emoanim.nn import config_from_dict, lengths_to_mask
from emoanim.persistence import CONFIG_FILE, Pretrained, load_state, load_transformers_model, read_model, save_model
from emoanim.vocabulary import CONTENT_RATE, PHONES, SAMPLE_RATE, SILENCE, PhoneSegment

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


# ---- recognise, then align: phones from a transcript, fused with the posteriors --------------------


ROUTES = ("transcript", "recognised", "posteriors")


@dataclass
class ContentInfo:
    """Which route a clip's content took, for the app and the CLI to tell the user."""

    route: str  # "transcript" (the user's text), "recognised" (Whisper's text) or "posteriors" (audio only)
    text: str = ""  # the words aligned to the audio ("" on the posteriors route)
    confidence: float | None = None  # recognised route: Whisper's mean token probability, 0..1
    reason: str = ""  # posteriors route: why no text was used
    alignment: str = ""  # how the phones were placed: "pocketsphinx", "words" (approximate), ""
    coverage: float = 0.0  # share of the clip's sentences (by duration) whose words were aligned

    def describe(self) -> str:
        """One line, e.g. "lips from: recognised text 'hello world' (confidence 0.92)"."""
        if self.route == "transcript":
            return f"lips from: your transcript {self.text!r}"
        if self.route == "recognised":
            sure = "" if self.confidence is None else f" (confidence {self.confidence:.2f})"
            return f"lips from: recognised text {self.text!r}{sure}"
        return "lips from: the sound alone (phone recogniser)" + (f": {self.reason}" if self.reason else "")


@dataclass
class AlignedContentConfig:
    kind: str = "aligned"  # which encoder this config builds (``load_content_encoder`` reads it)
    posteriors: ContentEncoderConfig = field(default_factory=ContentEncoderConfig)  # the phone recogniser
    # (its weights are this folder's model.safetensors, under the recogniser's own names)
    weight: float = 0.8  # share of the aligned one-hot phones; the posteriors get 1 - weight (1.0 and
    # 0.8 both close >= 97 % of real /p b m/; 0.8 keeps the posteriors' coarticulation cues)
    speech_floor: float = 0.5  # alignment says silence but P(sil) under this: the posteriors alone
    recognise: bool = True  # without a transcript: recognise the speech (False: posteriors alone)
    align_attempts: int = 3  # aligner retries per recognised sentence (its first three suit real speech)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)  # Whisper, thresholds

    def __post_init__(self) -> None:
        if self.kind != AlignedContentEncoder.kind:
            raise EmoAnimError(f"this config builds a '{self.kind}' content encoder, not an 'aligned' one")
        if not 0.0 <= float(self.weight) <= 1.0:
            raise EmoAnimError(f"the aligned content weight must be in [0, 1], got {self.weight}")


class AlignedContentEncoder(nn.Module):
    """Content = phones aligned from a transcript (given or recognised), fused with phone posteriors.

    ``encode(wave, transcript=None)`` -> [T, P + 1] like ``ContentEncoder.encode``;
    ``encode_with_info`` also says which route it took. ``forward(wave, lengths)`` (batched, used when
    preparing training sets) is the posteriors route: a corpus has exact phone timings to fuse
    with ``fuse_phones`` instead of recognising them.
    """

    config_class = AlignedContentConfig
    what = "aligned content encoder"
    kind = "aligned"

    def __init__(self, config: AlignedContentConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AlignedContentConfig()
        self.posteriors = ContentEncoder(config.posteriors)

    @property
    def feature_dim(self) -> int:
        return self.posteriors.feature_dim

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> AlignedContentEncoder:
        config, state = read_model(folder, cls.what)
        model = cls(config_from_dict(cls.config_class, config, cls.what))
        load_state(model.posteriors, state, folder, cls.what)
        return model.to(device).eval()

    def save_pretrained(self, folder: str | Path, training: dict | None = None) -> Path:
        # The recogniser's weights under its own names: the same file a "ppg" folder has.
        return save_model(folder, self.posteriors, dataclasses.asdict(self.config), training=training)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The posteriors route, batched: wave [B, N] -> content [B, T2, P + 1], mask [B, T2]."""
        return self.posteriors(wave, lengths)

    def encode(self, wave: np.ndarray, transcript: str | None = None) -> np.ndarray:
        """One clip, float32 [N] at 16 kHz (+ optional transcript) -> content [T2, P + 1] at 50 frames/s."""
        return self.encode_with_info(wave, transcript)[0]

    def warm_up(self) -> None:
        """Load now what the first clip would load: the recogniser's model and the aligner's decoder
        (each once per process; thread-safe)."""
        if self.config.recognise:
            load_whisper(self.config.recognizer.whisper, self._whisper_device())
        warm_up_aligner()

    def recognise(self, wave: np.ndarray) -> Recognition:
        return recognize(wave, self.config.recognizer, self._whisper_device())

    def _whisper_device(self) -> str:
        return _whisper_device(str(next(self.parameters()).device))

    def encode_with_info(self, wave: np.ndarray, transcript: str | None = None) -> tuple[np.ndarray, ContentInfo]:
        wave = np.asarray(wave, np.float32).reshape(-1)
        posteriors = self.posteriors.encode(wave)  # [T, P + 1]; checks empty / NaN
        if transcript is not None and not transcript.strip():
            transcript = None
        if transcript is not None:
            pieces, info = [(transcript, 0.0, wave.size / SAMPLE_RATE)], ContentInfo("transcript", transcript.strip())
        elif not self.config.recognise:
            return posteriors, ContentInfo("posteriors", reason="recognition is off")
        else:
            heard = self.recognise(wave)
            if not heard.usable:
                return posteriors, ContentInfo("posteriors", reason=heard.reason)
            pieces = heard.segments or [(heard.text, 0.0, wave.size / SAMPLE_RATE)]
            info = ContentInfo("recognised", heard.text, confidence=heard.confidence)
        phones, methods, placed, total = [], [], 0.0, 0.0
        # The user's words get the whole retry cascade (a long clip may need it); recognised ones a short one.
        attempts = None if info.route == "transcript" else self.config.align_attempts
        for chunk in _chunks(pieces):  # <= 30 s each: the whole chunk first, then sentence by sentence
            for result, start, end in _alignable(wave, chunk, attempts):
                total += end - start
                if result is None:  # these words do not fit this audio: the posteriors fill it in
                    continue
                placed += end - start
                methods.append(result.method)
                phones.extend(PhoneSegment(p.phone, p.start + start, p.end + start) for p in result.phones)
        if not methods:
            return posteriors, ContentInfo("posteriors", reason=f"the words {info.text!r} could not be aligned")
        info.alignment = "pocketsphinx" if all(m == "pocketsphinx" for m in methods) else "words"
        info.coverage = placed / max(total, 1e-9)
        # Sentences that could not be aligned are silence in ``phones``: the posteriors fill them in.
        return fuse_phones(posteriors, phones, self.config.weight, self.config.speech_floor), info


CHUNK_SECONDS = 30.0  # longest audio aligned in one pass (Whisper's window)


def _chunks(pieces: list[tuple[str, float, float]]) -> list[list[tuple[str, float, float]]]:
    """Consecutive sentences grouped into chunks of at most CHUNK_SECONDS."""
    out: list[list[tuple[str, float, float]]] = []
    for piece in pieces:
        if out and piece[2] - out[-1][0][1] <= CHUNK_SECONDS:
            out[-1].append(piece)
        else:
            out.append([piece])
    return out


def _alignable(wave: np.ndarray, chunk: list[tuple[str, float, float]], attempts: int | None):
    """(AlignmentResult | None, start, end) for a chunk of sentences: aligned whole when it can be
    (Whisper's sentence times can cut a word), else each sentence on its own (None: not aligned)."""
    def run(text, start, end):
        a, b = int(round(start * SAMPLE_RATE)), min(int(round(end * SAMPLE_RATE)), wave.size)
        if b - a < SAMPLE_RATE // 10:
            return None
        result = align(wave[a:b], SAMPLE_RATE, text, attempts)
        return None if result.method == "uniform" else result

    start, end = chunk[0][1], chunk[-1][2]
    whole = run(" ".join(t for t, _, _ in chunk), start, end)
    if whole is not None or len(chunk) == 1:
        return [(whole, start, end)]
    return [(run(t, a, b), a, b) for t, a, b in chunk]


def fuse_phones(posteriors: np.ndarray, phones, weight: float = 0.8, speech_floor: float = 0.5) -> np.ndarray:
    """Content [T, P + 1] with aligned ``phones`` (segments) fused in: w * one-hot + (1 - w) * posteriors
    on frames where the alignment places a phone or the posteriors also hear silence; the posteriors
    alone where the alignment has silence but P(sil) < ``speech_floor`` (words it could not place)."""
    out = np.array(posteriors, np.float32, copy=True)
    T, P = len(out), out.shape[1] - 1
    target = phone_targets(phones, T)
    onehot = np.eye(P, dtype=np.float32)[target]
    sil = PHONES.index(SILENCE)
    missed = (target == sil) & (out[:, sil] < speech_floor)
    fused = weight * onehot + (1.0 - weight) * out[:, :P]
    out[:, :P] = np.where(missed[:, None], out[:, :P], fused)
    return out


def _whisper_device(device: str) -> str:
    """Whisper on the GPU when the model's device is one and this ctranslate2 build can use it."""
    if not device.startswith("cuda"):
        return "cpu"
    import ctranslate2  # lazy: start-up time

    return device if ctranslate2.get_cuda_device_count() > 0 else "cpu"


# ---- the paper's path: a local transformers HuBERT ----------------------------------------------


class HubertContentEncoder(nn.Module):
    """Content = hidden states of a local ``transformers`` HuBERT or wav2vec 2.0 checkpoint (50 frames/s).

    ``layer`` picks the hidden state (-1 = the last; 0 = the CNN features after projection)."""

    kind = "hubert"
    MODELS = {"hubert": ("HubertModel", "HuBERT", "facebook/hubert-large-ls960-ft"),
              "wav2vec2": ("Wav2Vec2Model", "wav2vec 2.0", "facebook/wav2vec2-base-960h")}

    def __init__(self, path: str | Path, layer: int = -1) -> None:
        super().__init__()
        import transformers  # lazy: start-up time

        self.path = str(Path(path).expanduser())
        model_type = _transformers_model_type(self.path)
        class_name, what, example = self.MODELS.get(model_type, self.MODELS["hubert"])
        self.model = load_transformers_model(getattr(transformers, class_name), path, what, example).eval()
        self.layer = int(layer)

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
        out = self.model(x, attention_mask=mask.long() if self.model.config.feat_extract_norm == "layer" else None,
                         output_hidden_states=self.layer != -1)
        hidden = out.last_hidden_state if self.layer == -1 else out.hidden_states[self.layer]  # [B, T2, H]
        n_out = self.model._get_feat_extract_output_lengths(lengths)
        mask2 = lengths_to_mask(n_out, hidden.shape[1])  # [B, T2]
        return hidden.masked_fill(~mask2[..., None], 0.0), mask2

    @torch.no_grad()
    def encode(self, wave: np.ndarray) -> np.ndarray:
        device = next(self.parameters()).device
        content, _ = self(torch.as_tensor(np.asarray(wave, np.float32), device=device)[None])
        return content[0].cpu().numpy()


def _transformers_model_type(folder: str) -> str:
    try:
        return json.loads((Path(folder) / CONFIG_FILE).read_text()).get("model_type", "hubert")
    except (OSError, json.JSONDecodeError):
        return "hubert"  # load_transformers_model says what is missing


def load_content_encoder(folder: str | Path, device: str = "cpu") -> nn.Module:
    """The content encoder in ``folder``: one saved by ``ContentEncoder.save_pretrained`` (kind "ppg"),
    by ``AlignedContentEncoder.save_pretrained`` (kind "aligned") or a ``transformers`` HuBERT folder."""
    config_file = Path(folder).expanduser() / CONFIG_FILE
    try:
        kind = json.loads(config_file.read_text()).get("kind")
    except FileNotFoundError:
        raise EmoAnimError(f"no content encoder in {folder} (no config.json)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise EmoAnimError(f"the content encoder config in {folder} is damaged ({exc})") from None
    if kind == ContentEncoder.kind:
        return ContentEncoder.from_pretrained(folder, device)
    if kind == AlignedContentEncoder.kind:
        return AlignedContentEncoder.from_pretrained(folder, device)
    return HubertContentEncoder(folder).to(device)


# Longer speech is encoded a piece at a time, cut at pauses. Measured on 10 minutes of real prompts
# (`generate`, peak RSS; a 10 s clip, one piece: 661 MB): pieces of 20 / 10 s peak at 801 / 764 MB
# (a piece's recognition and alignment memory depends on what is said). Shorter pieces are also
# heard better: over 5 minutes Whisper returned 443 words in 60 s pieces (alignment coverage 0.58),
# 754 / 755 in 20 / 10 s pieces (coverage 1.0); 10 s pieces take 6 s more per 5 minutes.
CONTENT_PIECE_S = 10.0
PIECE_SEARCH_S = 5.0  # each cut goes at the quietest 20 ms within this of its mark (a pause: no seam)


def encode_content(encoder: nn.Module, wave: np.ndarray, transcript: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, ContentInfo]:
    """Content [T, C] of one clip from any content encoder, and which route it took. ``progress(done,
    total)`` is told after each piece (and may raise to stop).

    Speech longer than ``CONTENT_PIECE_S`` without a transcript is cut at pauses into pieces encoded
    one at a time (recognition and forced alignment of a whole 10-minute clip held 600 MB more than a
    minute's); the pieces' frames join exactly, a cut being a whole number of content frames."""
    step = int(SAMPLE_RATE // CONTENT_RATE)  # samples per content frame (320)
    if transcript is None and len(wave) > CONTENT_PIECE_S * SAMPLE_RATE * 1.5:
        frames = len(wave) // step
        framed = wave[: frames * step].reshape(frames, step)  # (a view)
        energy = np.einsum("ij,ij->i", framed, framed) / step  # [frames] mean square per 20 ms: no squared copy
        cuts, start = [0], 0
        while frames - start > CONTENT_PIECE_S * CONTENT_RATE * 1.5:
            mark = start + int(CONTENT_PIECE_S * CONTENT_RATE)
            reach = int(min(PIECE_SEARCH_S, CONTENT_PIECE_S / 3) * CONTENT_RATE)
            start = mark - reach + int(np.argmin(energy[mark - reach : mark + reach]))
            cuts.append(start)
        bounds = [c * step for c in cuts] + [len(wave)]  # samples: whole content frames apart
        pieces = []
        for a, b in zip(bounds, bounds[1:]):
            pieces.append(_encode_piece(encoder, wave[a:b], None))
            release_free_memory()  # each piece's working memory, before the next piece's
            if progress is not None:
                progress(len(pieces), len(bounds) - 1)
        # A piece of n samples gives n // step + 1 frames: the last one straddles the cut, and the next
        # piece's first frame is it again. Dropping it from every piece but the last gives exactly the
        # frames the whole clip would have.
        content = np.concatenate([c[:-1] for c, _ in pieces[:-1]] + [pieces[-1][0]])
        infos = [i for _, i in pieces]
        routes = [i.route for i in infos]
        route = max(set(routes), key=routes.count)
        sure = [i.confidence for i in infos if i.confidence is not None]
        info = ContentInfo(route, " ".join(i.text for i in infos if i.text),
                           float(np.mean(sure)) if sure else None, infos[0].reason, infos[0].alignment,
                           float(np.mean([i.coverage for i in infos])))
        return content, info
    return _encode_piece(encoder, wave, transcript)


def _encode_piece(encoder: nn.Module, wave: np.ndarray, transcript: str | None) -> tuple[np.ndarray, ContentInfo]:
    if isinstance(encoder, AlignedContentEncoder):
        return encoder.encode_with_info(wave, transcript)
    reason = "this content encoder reads the audio only" + (" (the transcript is not used)" if transcript else "")
    return encoder.encode(wave), ContentInfo("posteriors", reason=reason)
