"""Frame features of speech for the audio emotion encoder: CMN log-mel plus prosody, batched in torch.

    wave [B, N] 16 kHz --STFT (25 ms Hann, 10 ms hop)--> power [B, 257, T]
        --mel filterbank--> log10 mel power [B, T, M], floored 80 dB under the clip's peak,
                            minus its mean over the clip's valid frames (CMN)
        --YIN on the same frame centres--> log-f0, voicing;  frame energy re the clip's max
        --> feats [B, T, M + 6] = [mel | f0_st, voiced, energy_db | their deltas],  mask [B, T]

Why CMN: a constant gain, a microphone / room EQ and much of a speaker's timbre are (nearly)
constant offsets per mel band in the log domain, so subtracting the clip's mean removes them and
leaves what changes over time. Everything that is level-like is relative to the clip (energy re its
max, mel floor re its peak), so a constant gain changes nothing at all.

Frames are centred at ``t * hop`` (T = 1 + n // hop for n valid samples) and the signal is zero
padded, never reflected, so a clip alone and the same clip zero-padded in a batch give the same
features on its valid frames. Everything is vectorised over the batch; 60 s of audio takes well
under 0.1 s on a laptop CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from emoanim.errors import EmoAnimError
from emoanim.vocabulary import SAMPLE_RATE

__all__ = [
    "AudioFeatureConfig",
    "PROSODY_CHANNELS",
    "audio_features",
    "augment_mel",
    "check_wave",
    "feature_scale",
    "mel_filterbank",
    "yin",
]

TINY = 1e-30  # keeps log10 finite on all-zero clips; far below any real floor
PROSODY_CHANNELS = ("f0_st", "voiced", "energy_db", "d_f0_st", "d_voiced", "d_energy_db")


@dataclass
class AudioFeatureConfig:
    sample_rate: int = SAMPLE_RATE  # Hz: what every speech model reads
    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 50.0
    fmax: float = 7600.0
    with_prosody: bool = True
    mel_norm: str = "cmn"  # "cmn": minus each band's mean over the clip; "peak": minus the clip's peak only
    floor_db: float = 80.0  # mel power and frame energy are floored this far below the clip's peak
    f0_min: float = 60.0  # Hz; YIN search range, covers low male to excited female/child voices
    f0_max: float = 550.0
    yin_threshold: float = 0.15  # de Cheveigné & Kawahara's absolute threshold
    voicing_db: float = 45.0  # frames this far under the clip's max energy are never voiced

    @property
    def win_length(self) -> int:
        return int(round(self.win_ms * self.sample_rate / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def n_fft(self) -> int:
        return 1 << math.ceil(math.log2(self.win_length))  # 400 samples -> 512

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length  # 100 frames/s

    @property
    def num_channels(self) -> int:
        return self.n_mels + (len(PROSODY_CHANNELS) if self.with_prosody else 0)

    def num_frames(self, num_samples):
        """Frames of a clip of ``num_samples`` valid samples (int or tensor)."""
        return num_samples // self.hop_length + 1


def feature_scale(config: AudioFeatureConfig) -> torch.Tensor:
    """[C] factors that bring each channel to roughly unit scale (what a network should read).

    CMN log-mel is in bels (log10 power) and already ~unit; f0 semitones / 12 = octaves;
    energy dB / 20; voicing is 0/1. Deltas are per frame (10 ms) and small, so they are scaled up more
    (f0 slopes inside voiced stretches are typically 0.1-0.4 semitone per frame).
    """
    mel = [1.0] * config.n_mels
    prosody = [1 / 12, 1.0, 1 / 20, 2.0, 4.0, 4 / 20] if config.with_prosody else []
    return torch.tensor(mel + prosody, dtype=torch.float32)


# ---- filterbank and pitch -----------------------------------------------------------------------


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)  # HTK mel scale


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def mel_filterbank(config: AudioFeatureConfig) -> torch.Tensor:
    """[n_mels, n_fft//2 + 1] triangular filters, equally spaced in mel, each of unit area (Slaney)."""
    if config.mel_norm not in ("cmn", "peak"):
        raise EmoAnimError(f"mel_norm must be 'cmn' or 'peak', got '{config.mel_norm}'")
    if not 0 <= config.fmin < config.fmax <= config.sample_rate / 2:
        raise EmoAnimError(f"mel range must satisfy 0 <= fmin < fmax <= {config.sample_rate / 2:g} Hz, "
                           f"got {config.fmin:g}-{config.fmax:g}")
    bins = np.linspace(0.0, config.sample_rate / 2, config.n_fft // 2 + 1)  # [K] Hz
    edges = _mel_to_hz(np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2))  # [M+2]
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # [M, 1] each
    rise = (bins[None] - lo) / (mid - lo)
    fall = (hi - bins[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))  # [M, K]
    return torch.from_numpy(fb.astype(np.float32))


def _decimator(sr: int, hop: int) -> tuple[int, torch.Tensor | None]:
    """Integer factor that brings ``sr`` down towards 8 kHz (and divides the hop), and its anti-alias
    FIR [1, 1, taps]: pitch needs nothing above 4 kHz, and half the rate makes YIN ~3x cheaper."""
    q = max(d for d in range(1, max(1, sr // 8000) + 1) if hop % d == 0)
    if q == 1:
        return 1, None
    taps = 8 * q + 1
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(0.9 * n / q) * np.hamming(taps)  # cut-off 0.9 x the new Nyquist
    return q, torch.from_numpy((h / h.sum()).astype(np.float32))[None, None]


def yin(frames: torch.Tensor, sr: float, config: AudioFeatureConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """YIN (de Cheveigné & Kawahara 2002) on frames [..., L] at ``sr`` -> f0 Hz [...], aperiodicity [...].

    L must be at least ``W + tau_max + 1`` with W = tau_max + 1 (the integration window). Frames with
    no dip under the threshold get f0 = 0 (aperiodicity is then the best dip's value).
    """
    tau_min, tau_max = int(sr // config.f0_max), int(math.ceil(sr / config.f0_min))
    W = tau_max + 1
    frames = frames - frames.mean(-1, keepdim=True)  # DC would bias the difference function
    n_fft = 1 << math.ceil(math.log2(frames.shape[-1] + W))
    spec = torch.fft.rfft(frames, n_fft)
    head = torch.fft.rfft(frames[..., :W], n_fft)
    corr = torch.fft.irfft(head.conj() * spec, n_fft)[..., : tau_max + 1]  # sum_j x[j] x[j+tau]
    sq = F.pad(torch.cumsum(frames.square(), -1), (1, 0))
    energy = sq[..., W : W + tau_max + 1] - sq[..., : tau_max + 1]  # sum_j x[j+tau]^2, [..., tau_max+1]
    diff = (energy[..., :1] + energy - 2.0 * corr).clamp(min=0.0)  # d(tau)
    # Cumulative-mean-normalised difference: d'(tau) = d(tau) * tau / sum_{1..tau} d.
    taus = torch.arange(1, tau_max + 1, dtype=frames.dtype, device=frames.device)
    cmnd = diff[..., 1:] * taus / torch.cumsum(diff[..., 1:], -1).clamp(min=1e-12)  # [..., tau_max], index = tau-1

    search = cmnd[..., tau_min - 1 : tau_max - 1]  # taus tau_min .. tau_max-1
    S = search.shape[-1]
    index = torch.arange(S, device=frames.device)
    below = search < config.yin_threshold
    has = below.any(-1)
    first = torch.where(has, below.int().argmax(-1), search.argmin(-1))  # first dip under the threshold
    # Walk down from it to the local minimum: the first later tau where the next value is not lower.
    rising = F.pad(search[..., 1:] >= search[..., :-1], (0, 1), value=True)
    best = (rising & (index >= first[..., None])).int().argmax(-1)  # [...]
    tau = best + tau_min
    # Parabolic interpolation around the minimum for a sub-sample period.
    def at(t):
        return cmnd.gather(-1, (t - 1).clamp(0, tau_max - 1)[..., None])[..., 0]
    a, b, c = at(tau - 1), at(tau), at(tau + 1)
    denom = a - 2.0 * b + c
    shift = torch.where(denom.abs() > 1e-9, 0.5 * (a - c) / torch.where(denom == 0, 1.0, denom), 0.0)
    period = tau + shift.clamp(-1.0, 1.0)
    f0 = torch.where(has, sr / period, 0.0)
    return f0, b


# ---- the features --------------------------------------------------------------------------------


def check_wave(wave: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated float wave [B, N] (a single [N] becomes [1, N]), zero past each length, and lengths [B]."""
    wave = torch.as_tensor(wave)
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2:
        raise EmoAnimError(f"audio must be a wave [N] or a batch of waves [B, N], got shape {list(wave.shape)}")
    if not wave.is_floating_point():
        raise EmoAnimError(f"audio must be float samples in [-1, 1], got {wave.dtype}")
    B, N = wave.shape
    if B == 0 or N == 0:
        raise EmoAnimError("the audio is empty (no samples): give speech of at least a few tenths of a second")
    if lengths is None:
        lengths = torch.full((B,), N, dtype=torch.long, device=wave.device)
    lengths = torch.as_tensor(lengths, device=wave.device).long().reshape(-1)
    if lengths.shape != (B,):
        raise EmoAnimError(f"lengths must have one entry per wave ({B}), got shape {list(lengths.shape)}")
    if (lengths < 1).any() or (lengths > N).any():
        raise EmoAnimError(f"every length must be between 1 and the padded length {N}, got {lengths.tolist()}")
    valid = torch.arange(N, device=wave.device)[None] < lengths[:, None]  # [B, N]
    if (~torch.isfinite(wave) & valid).any():
        raise EmoAnimError("the audio contains NaN or infinite samples: re-export it as normal PCM audio")
    return wave.float().masked_fill(~valid, 0.0), lengths  # padding is zero whatever the caller put there


def _shift(x: torch.Tensor, n_valid: torch.Tensor, k: int) -> torch.Tensor:
    """x [B, T, K] read at frame t + k, the index clamped to each clip's valid frames, so the edges
    of a clip look the same alone and padded in a batch."""
    B, T, K = x.shape
    t = torch.arange(T, device=x.device)[None] + k  # [1, T]
    index = torch.minimum(t, (n_valid - 1)[:, None]).clamp(min=0)  # [B, T]
    return x.gather(1, index[..., None].expand(B, T, K))


def _delta(x: torch.Tensor, n_valid: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Regression deltas of x [B, T, K] over +-width frames (per frame)."""
    out = sum(k * (_shift(x, n_valid, k) - _shift(x, n_valid, -k)) for k in range(1, width + 1))
    return out / (2 * sum(k * k for k in range(1, width + 1)))


def audio_features(
    wave: torch.Tensor, lengths: torch.Tensor | None = None, config: AudioFeatureConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """wave [B, N] (or [N]) float in [-1, 1] at ``config.sample_rate``, lengths [B] valid samples
    -> feats [B, T, C] (zero on padded frames), mask [B, T] (True = valid), T = 1 + N // hop.

    Channels: ``n_mels`` CMN log10 mel power, then (``with_prosody``) log-f0 in semitones re 100 Hz
    (0 when unvoiced), voicing 0/1, frame energy in dB re the clip's loudest frame, and the
    regression deltas (per frame) of those three. Multiply by ``feature_scale(config)`` before a
    network reads them.
    """
    config = config or AudioFeatureConfig()
    wave, lengths = check_wave(wave, lengths)
    hop = config.hop_length
    B, N = wave.shape
    n_valid = config.num_frames(lengths)  # [B]
    T = config.num_frames(N)
    mask = torch.arange(T, device=wave.device)[None] < n_valid[:, None]  # [B, T]

    # Log-mel with CMN. Zero ("constant") centre padding: identical alone and padded in a batch.
    window = torch.hann_window(config.win_length, device=wave.device)
    spec = torch.stft(wave, config.n_fft, hop, config.win_length, window, center=True, pad_mode="constant",
                      return_complex=True)  # [B, K, T]
    power = spec.real.square() + spec.imag.square()  # [B, K, T]
    fb = mel_filterbank(config).to(wave.device)
    mel = torch.einsum("mk,bkt->btm", fb, power)  # [B, T, M] mel power
    valid = mask[..., None]  # [B, T, 1]
    # Floor relative to the clip's peak (not an absolute epsilon), so a gain changes nothing and
    # digital silence or a faint noise floor cannot dominate the mean.
    peak = mel.masked_fill(~valid, 0.0).amax((1, 2), keepdim=True)  # [B, 1, 1]
    mel = torch.log10(torch.maximum(mel, peak * 10 ** (-config.floor_db / 10)) + TINY)  # bels
    if config.mel_norm == "cmn":
        mean = (mel * valid).sum(1, keepdim=True) / n_valid[:, None, None]  # [B, 1, M]
    else:  # "peak": still gain-invariant, but keeps the clip's average spectral shape (timbre, tilt, EQ)
        mean = torch.log10(peak + TINY) - 4.0  # [B, 1, 1], centres typical values near 0
    mel = (mel - mean).masked_fill(~valid, 0.0)
    if not config.with_prosody:
        return mel, mask

    # Frame energy in dB re the clip's loudest frame (window-normalised power of the same STFT).
    energy = power.sum(1) / window.square().sum()  # [B, T]
    loudest = energy.masked_fill(~mask, 0.0).amax(1, keepdim=True)  # [B, 1]
    energy = 10.0 * (torch.log10(torch.maximum(energy, loudest * 10 ** (-config.floor_db / 10)) + TINY)
                     - torch.log10(loudest + TINY))  # [B, T] in [-floor_db, 0]

    # YIN on the decimated wave, frames with the same centres (t * hop) as the STFT.
    q, fir = _decimator(config.sample_rate, hop)
    low = wave
    if fir is not None:  # low [B, ceil(N / q)]; zero past each clip's end, like the clip alone
        low = F.conv1d(wave[:, None], fir.to(wave.device), padding=fir.shape[-1] // 2, stride=q)[:, 0]
        low = low.masked_fill(torch.arange(low.shape[1], device=wave.device)[None] * q >= lengths[:, None], 0.0)
    sr = config.sample_rate / q
    tau_max = int(math.ceil(sr / config.f0_min))
    L = 2 * tau_max + 2  # integration window + largest lag
    frames = F.pad(low, (L // 2, L)).unfold(1, L, hop // q)[:, :T]  # [B, T, L], frame t centred at t * hop
    f0, _ = yin(frames, sr, config)  # [B, T]
    voiced = (f0 > 0) & (energy > -config.voicing_db) & mask
    f0_st = torch.where(voiced, 12.0 * torch.log2(f0.clamp(min=1.0) / 100.0), 0.0)
    # A 3-frame median inside voiced runs removes single-frame octave jumps.
    if T >= 3:
        neighbours = torch.stack([F.pad(f0_st, (1, 0))[:, :-1], f0_st, F.pad(f0_st, (0, 1))[:, 1:]], -1)
        run = torch.stack([F.pad(voiced, (1, 0))[:, :-1], voiced, F.pad(voiced, (0, 1))[:, 1:]], -1).all(-1)
        f0_st = torch.where(run, neighbours.median(-1).values, f0_st)

    prosody = torch.stack([f0_st, voiced.float(), energy], -1)  # [B, T, 3]
    deltas = _delta(prosody, n_valid)  # [B, T, 3]
    # The f0 slope is meaningful only inside a voiced stretch: zero it where any frame of its window is unvoiced.
    v = voiced[..., None]
    stretch = torch.stack([_shift(v, n_valid, k) for k in (-2, -1, 1, 2)], -1).all(-1)[..., 0] & voiced  # [B, T]
    deltas[..., 0] = torch.where(stretch, deltas[..., 0], 0.0)
    feats = torch.cat([mel, prosody, deltas], -1).masked_fill(~valid, 0.0)  # [B, T, M + 6]
    return feats, mask


def augment_mel(
    x: torch.Tensor, mask: torch.Tensor, n_mels: int, warp: float = 0.1, freq_masks: int = 2,
    freq_mask_width: int = 8, time_masks: int = 2, time_mask_frames: int = 20,
) -> torch.Tensor:
    """Training views of features x [B, T, C] whose first ``n_mels`` channels are log-mel: a random
    vocal-tract warp of the mel axis (a factor in [1/(1+warp), 1+warp]: formants move together, as
    between speakers) and SpecAugment (``freq_masks`` bands and ``time_masks`` spans set to 0)."""
    B, T, _ = x.shape
    M = n_mels
    mel, rest = x[..., :M], x[..., M:]
    if warp > 0:
        # Read mel channel m at m * alpha (linear interpolation, edges held).
        alpha = torch.exp((torch.rand(B, 1, device=x.device) * 2 - 1) * math.log1p(warp))  # [B, 1]
        src = (torch.arange(M, device=x.device)[None] * alpha).clamp(0, M - 1)  # [B, M]
        lo = src.floor().long().clamp(max=M - 2)
        w = (src - lo)[:, None]  # [B, 1, M]
        gather = lambda i: mel.gather(2, i[:, None].expand(B, T, M))
        mel = (1 - w) * gather(lo) + w * gather(lo + 1)
    band = torch.arange(M, device=x.device)[None]  # [1, M]
    for _ in range(freq_masks):
        width = torch.randint(0, freq_mask_width + 1, (B, 1), device=x.device)
        start = (torch.rand(B, 1, device=x.device) * (M - width + 1)).long()
        mel = mel.masked_fill(((band >= start) & (band < start + width))[:, None], 0.0)
    x = torch.cat([mel, rest], -1)
    frame = torch.arange(T, device=x.device)[None]  # [1, T]
    n = mask.sum(1, keepdim=True)  # [B, 1]
    for _ in range(time_masks):
        width = torch.minimum(torch.randint(0, time_mask_frames + 1, (B, 1), device=x.device), n // 5)
        start = (torch.rand(B, 1, device=x.device) * (n - width + 1)).long()
        x = x.masked_fill(((frame >= start) & (frame < start + width))[..., None], 0.0)
    return x
