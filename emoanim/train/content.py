"""Training the default content encoder: a frame-level phone recogniser on the corpus's exact phone
timings, with augmentation that changes the voice (speed perturbation moves pitch and formants
together, vocal-tract warp, noise) so that it generalises to voices it never heard.

    python -m emoanim train content --corpus data/syn --out checkpoints/content_encoder --seed 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from emoanim.audio.content import ContentEncoder, ContentEncoderConfig, phone_targets
from emoanim.audio.effects import add_noise
from emoanim.data.corpus import Corpus
from emoanim.vocabulary import CONTENT_RATE, SAMPLE_RATE, PhoneSegment

HOP = int(SAMPLE_RATE / CONTENT_RATE)  # 320 samples per content frame


@dataclass
class ContentTrainConfig:
    corpus: str
    out: str
    seed: int = 0
    steps: int = 3000
    batch_size: int = 32
    crop_seconds: float = 3.0
    lr: float = 2e-3
    speed_range: tuple[float, float] = (0.85, 1.18)  # > 1: faster and higher (pitch and formants)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (8.0, 35.0)
    label_smoothing: float = 0.1
    threads: int = 2
    limit: int | None = None  # at most this many clips per split (quick runs and tests)
    log: Callable[[str], None] = field(default=print, repr=False)


@dataclass
class SpeechSet:
    audio: list[np.ndarray]  # int16 [N]
    phones: list[list[PhoneSegment]]
    engines: list[str]


def load_speech(corpus: Corpus, split: str, limit: int | None = None) -> SpeechSet:
    audio, phones, engines = [], [], []
    for info in corpus.clips(split)[:limit]:
        clip = corpus.load(info.id)
        audio.append(np.round(clip.audio * 32767).astype(np.int16))
        phones.append(clip.phones)
        engines.append(str(info.extra.get("engine", info.speaker.split(":")[0])))
    return SpeechSet(audio, phones, engines)


def speed_perturb(wave: np.ndarray, speed: float) -> np.ndarray:
    """Play ``wave`` ``speed`` times faster (resampling: pitch and formants scale by ``speed``)."""
    if abs(speed - 1.0) < 1e-6:
        return wave
    n = int(len(wave) / speed)
    return np.interp(np.arange(n) * speed, np.arange(len(wave)), wave).astype(np.float32)


def training_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """[n] float32 noise, unscaled: white, or (half the time) pink-ish: integrated white noise minus
    its drift (a 201-sample moving average)."""
    noise = rng.standard_normal(n).astype(np.float32)
    if rng.random() < 0.5:
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(201) / 201, mode="same")
    return noise


def make_batch(data: SpeechSet, idx, rng, config: ContentTrainConfig | None, crop_frames: int | None):
    """Waves [B, N], lengths [B], phone targets [B, T2] (-100 = ignore); augmented when ``config``."""
    waves, targets = [], []
    for i in idx:
        wave = data.audio[i].astype(np.float32) / 32767.0
        speed = rng.uniform(*config.speed_range) if config else 1.0
        wave = speed_perturb(wave, speed)
        frames = len(wave) // HOP + 1
        target = phone_targets(data.phones[i], frames, CONTENT_RATE, speed)
        if crop_frames and frames > crop_frames:
            j0 = int(rng.integers(0, frames - crop_frames + 1))
            wave, target = wave[j0 * HOP : (j0 + crop_frames) * HOP], target[j0 : j0 + crop_frames]
        if config and rng.random() < config.noise_prob:
            snr_db = rng.uniform(*config.snr_db)  # drawn before the noise: the order seeded runs always had
            wave = add_noise(wave, training_noise(len(wave), rng), snr_db)
        waves.append(wave)
        targets.append(target)
    N = max(len(w) for w in waves)
    wave_b = torch.zeros(len(waves), N)
    lengths = torch.tensor([len(w) for w in waves])
    T2 = (N // (HOP // 2) + 1 + 1) // 2
    target_b = torch.full((len(waves), T2), -100, dtype=torch.long)
    for b, (w, t) in enumerate(zip(waves, targets)):
        wave_b[b, : len(w)] = torch.from_numpy(w)
        n = min(len(t), (len(w) // (HOP // 2) + 2) // 2)
        target_b[b, :n] = torch.from_numpy(t[:n])
    return wave_b, lengths, target_b


@torch.no_grad()
def phone_accuracy(model: ContentEncoder, data: SpeechSet, speed: float = 1.0, batch_size: int = 32) -> dict:
    """Frame phone accuracy (all frames and speech frames only), overall and per TTS engine."""
    model.eval()
    rng = np.random.default_rng(0)
    fixed = ContentTrainConfig(corpus="", out="", speed_range=(speed, speed), noise_prob=0.0) if speed != 1.0 else None
    correct = np.zeros(len(data.audio))
    total = np.zeros(len(data.audio))
    speech_correct = speech_total = 0
    for start in range(0, len(data.audio), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data.audio)))
        wave, lengths, target = make_batch(data, idx, rng, fixed, None)
        logits, mask = model.logits(*model.mel(wave, lengths)[:2])
        T = min(logits.shape[1], target.shape[1])
        pred, tgt = logits[:, :T].argmax(-1), target[:, :T]
        valid = (tgt >= 0) & mask[:, :T]
        hit = (pred == tgt) & valid
        correct[idx] = hit.sum(1).numpy()
        total[idx] = valid.sum(1).numpy()
        speech = valid & (tgt > 0)
        speech_correct += int((hit & speech).sum())
        speech_total += int(speech.sum())
    engines = np.array(data.engines)
    per_engine = {e: float(correct[engines == e].sum() / max(1, total[engines == e].sum())) for e in sorted(set(engines))}
    return {"frame_accuracy": float(correct.sum() / max(1, total.sum())),
            "speech_frame_accuracy": speech_correct / max(1, speech_total), "per_engine": per_engine}


def train_content(config: ContentTrainConfig) -> tuple[ContentEncoder, dict]:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    corpus = Corpus(config.corpus)
    t0 = time.time()
    train, val, test = (load_speech(corpus, s, config.limit) for s in ("train", "val", "test"))
    config.log(f"loaded {len(train.audio)}/{len(val.audio)}/{len(test.audio)} clips in {time.time() - t0:.0f} s")
    model = ContentEncoder(ContentEncoderConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.steps, pct_start=0.05)
    crop = int(config.crop_seconds * CONTENT_RATE)
    t0 = time.time()
    for step in range(1, config.steps + 1):
        model.train()
        idx = rng.integers(0, len(train.audio), config.batch_size)
        wave, lengths, target = make_batch(train, idx, rng, config, crop)
        logits, _ = model.logits(*model.mel(wave, lengths)[:2])
        T = min(logits.shape[1], target.shape[1])
        loss = F.cross_entropy(logits[:, :T].reshape(-1, logits.shape[-1]), target[:, :T].reshape(-1),
                               ignore_index=-100, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == config.steps:
            config.log(f"step {step}/{config.steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    metrics = {
        "val": phone_accuracy(model, val),
        "test": phone_accuracy(model, test),
        "test_speed_0.85": phone_accuracy(model, test, 0.85)["frame_accuracy"],
        "test_speed_1.18": phone_accuracy(model, test, 1.18)["frame_accuracy"],
        "train_subset": phone_accuracy(model, SpeechSet(train.audio[:300], train.phones[:300], train.engines[:300])),
        "train_seconds": round(time.time() - t0, 1),
        "command": f"python -m emoanim train content --corpus {config.corpus} --out {config.out} --seed {config.seed} --steps {config.steps}",
    }
    model.save_pretrained(config.out, training=metrics)
    config.log(f"test frame accuracy {metrics['test']['frame_accuracy']:.3f} "
               f"(speech {metrics['test']['speech_frame_accuracy']:.3f}), val {metrics['val']['frame_accuracy']:.3f}")
    return model.eval(), metrics
