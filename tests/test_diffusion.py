"""The generator: alignment mask, guidance, samplers, window stitching and a tiny train-then-sample run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.vocabulary import label_class
from emoanim.diffusion.denoiser import Denoiser, DenoiserConfig, alignment_mask
from emoanim.diffusion.generator import GeneratorConfig, MotionGenerator, window_starts
from emoanim.diffusion.scheduler import DiffusionScheduler
from emoanim.diffusion.sync_expert import LipSyncExpert, SyncExpertConfig, mouth_param_names
from emoanim.train.generator import GeneratorData, GeneratorTrainConfig, fit_generator, param_stats
from emoanim.errors import EmoAnimError
from emoanim.rigs.arkit import ARKIT_PARAMS

SPACE = Path(__file__).resolve().parents[1] / "checkpoints" / "emotion_space"
NAMES = list(ARKIT_PARAMS)
JAW, SMILE = NAMES.index("jawOpen"), NAMES.index("mouthSmileLeft")
TINY = DenoiserConfig(num_params=len(NAMES), content_dim=5, style_dim=256, d_model=64, layers=2, heads=4, ff=128,
                      dropout=0.0)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_alignment_mask_is_diagonal():
    m = alignment_mask(4, 8, per_frame=2, halfwidth=1)
    assert m.shape == (4, 8)
    assert m[0].nonzero().flatten().tolist() == [0, 1]
    assert m[2].nonzero().flatten().tolist() == [3, 4, 5]
    assert alignment_mask(3, 6, 2, 0).sum(1).tolist() == [1, 1, 1]


def test_frame_output_ignores_audio_outside_its_window():
    # With one block, frame i's output depends on audio only through its own cross-attention row.
    torch.manual_seed(0)
    cfg = DenoiserConfig(num_params=7, content_dim=5, style_dim=8, d_model=32, layers=1, heads=4, ff=64, dropout=0.0)
    model = Denoiser(cfg).eval()
    x, t, s = torch.randn(1, 10, 7), torch.tensor([5]), torch.randn(1, 8)
    content = torch.randn(1, 20, 5)
    far = content.clone()
    far[:, 12:] += 3.0  # audio from 0.24 s on; frames 0..5 only see audio frames <= 11
    with torch.no_grad():
        a, b = model(x, t, content, s), model(x, t, far, s)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-5)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


def test_guidance_is_eq6_in_eps_and_in_x0():
    torch.manual_seed(0)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY)).eval()
    x, c, s = torch.randn(1, 12, len(NAMES)), torch.rand(1, 24, 5), torch.from_numpy(unit(np.ones(256)))[None]
    with torch.no_grad():
        cond = gen.denoiser(x, torch.tensor([100]), c, s)
        uncond = gen.denoiser(x, torch.tensor([100]), c, s, drop=torch.tensor([True]))
        guided = gen.predict_x0(x, 100, c, s, guidance=2.5)
    assert not torch.allclose(cond, uncond)
    assert torch.allclose(guided, 2.5 * cond - 1.5 * uncond, atol=1e-5)
    sch = gen.scheduler
    eps = lambda x0: sch.eps_from_x0(x, x0, 100)
    assert torch.allclose(eps(guided), 2.5 * eps(cond) - 1.5 * eps(uncond), atol=1e-4)


def test_scheduler_steps_and_noise_levels():
    sch = DiffusionScheduler()
    assert sch.num_train_steps == 400
    ts = sch.timesteps(25)
    assert len(ts) == 25 and ts[0] == 399 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    assert len(sch.timesteps(400)) == 400
    a = sch.alphas_cumprod
    assert a[0] > 0.99 and a[-1] < 1e-3 and bool((a[1:] < a[:-1]).all())
    x0 = torch.ones(1, 3, 2)
    assert torch.allclose(sch.ddim_step(torch.randn(1, 3, 2), x0, 5, -1), x0)


def test_window_starts_cover_and_overlap():
    assert window_starts(80, 100, 20) == [0]
    starts = window_starts(250, 100, 20)
    assert starts == [0, 80, 150]
    covered = np.zeros(250, bool)
    for s in starts:
        covered[s : s + 100] = True
    assert covered.all()
    assert window_starts(1500, 100, 20)[-1] == 1400


def test_sampling_is_reproducible_per_seed_and_checks_inputs():
    torch.manual_seed(0)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, window=40, overlap=10))
    content = np.random.default_rng(0).random((200, 5), np.float32)
    style = unit(np.random.default_rng(1).standard_normal(256))
    calls = []
    a = gen.sample(content, style, 100, steps=5, seed=3, callback=lambda d, n: calls.append((d, n)))
    b = gen.sample(content, style, 100, steps=5, seed=3)
    c = gen.sample(content, style, 100, steps=5, seed=4)
    assert a.shape == (100, len(NAMES)) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert calls[-1] == (len(window_starts(100, 40, 10)) * 5,) * 2 and len(calls) == calls[-1][1]
    with pytest.raises(EmoAnimError, match="content"):
        gen.sample(content[:, :3], style, 100)
    with pytest.raises(EmoAnimError, match="NaN"):
        gen.sample(np.full_like(content, np.nan), style, 100)
    with pytest.raises(EmoAnimError, match="style"):
        gen.sample(content, style[:10], 100)


def synthetic_data(space: EmotionSpace, clips: int = 64, frames: int = 60, seed: int = 0) -> GeneratorData:
    """jawOpen follows the 'loudness' content channel; happy clips smile, sad ones do not."""
    rng = np.random.default_rng(seed)
    params, content, labels = [], [], []
    for i in range(clips):
        happy = i % 2 == 0
        loud = np.clip(np.convolve(rng.random(2 * frames), np.ones(6) / 6, "same") * 2 - 0.6, 0, 1).astype(np.float32)
        c = np.zeros((2 * frames, 5), np.float32)
        c[:, 0] = loud
        c[:, 1:] = rng.random((2 * frames, 4)) * 0.1
        p = np.zeros((frames, len(NAMES)), np.float32)
        p[:, JAW] = 0.6 * loud[::2]
        p[:, SMILE] = p[:, SMILE + 1] = 0.7 if happy else 0.0
        params.append(p)
        content.append(c)
        labels.append(label_class("happy" if happy else "sad", 3))
    labels = np.array(labels)
    with torch.no_grad():
        styles = space.prototypes()[labels].numpy()
    return GeneratorData(params, content, labels, labels // 3, styles, NAMES, "arkit", 25.0)


@pytest.fixture(scope="module")
def tiny_trained():
    torch.manual_seed(0)
    space = EmotionSpace.from_pretrained(SPACE)
    data = synthetic_data(space)
    expert = LipSyncExpert(SyncExpertConfig(param_names=NAMES, mouth_names=mouth_param_names(NAMES), content_dim=5))
    expert.set_normalization(*param_stats(data))
    config = GeneratorTrainConfig(corpus="", out="", steps=300, batch_size=16, lr=3e-3, warmup=20, ema=0.95,
                                  label_style=1.0, denoiser=TINY, window=48, log=lambda s: None)
    gen = fit_generator(data, space, expert, config)
    return gen, space, data


def test_tiny_train_then_sample_follows_audio_and_emotion(tiny_trained):
    gen, space, data = tiny_trained
    rng = np.random.default_rng(7)
    loud = np.clip(np.convolve(rng.random(240), np.ones(6) / 6, "same") * 2 - 0.6, 0, 1).astype(np.float32)
    content = np.concatenate([loud[:, None], rng.random((240, 4)).astype(np.float32) * 0.1], 1)
    happy = gen.sample(content, space.embed(emotion="happy", intensity=3), 120, guidance=2.0, steps=20, seed=0)
    sad = gen.sample(content, space.embed(emotion="sad", intensity=3), 120, guidance=2.0, steps=20, seed=0)
    r = np.corrcoef(happy[:, JAW], loud[::2])[0, 1]
    assert r > 0.6, f"jawOpen does not follow the audio (r={r:.2f})"
    assert happy[:, SMILE].mean() > sad[:, SMILE].mean() + 0.3
    # Window stitching (window 48, overlap 20): no jump at the seams larger than elsewhere.
    jumps = np.abs(np.diff(happy[:, JAW]))
    seams = [s for s in window_starts(120, 48, 20)[1:]]
    inner = np.delete(jumps, [s + k for s in seams for k in range(-1, 21) if s + k < len(jumps)])
    assert max(jumps[s + k] for s in seams for k in range(-1, 21) if s + k < len(jumps)) < 2 * inner.max() + 0.05


def test_full_ancestral_sampling_and_save_load(tiny_trained, tmp_path):
    gen, space, _ = tiny_trained
    content = np.zeros((80, 5), np.float32)
    style = space.embed(emotion="happy", intensity=3)
    full = gen.sample(content, style, 40, steps=400, seed=0)
    assert np.isfinite(full).all() and full[:, SMILE].mean() > 0.3
    gen.save_pretrained(tmp_path / "g")
    again = MotionGenerator.from_pretrained(tmp_path / "g")
    fast = gen.sample(content, style, 40, steps=10, seed=1)
    assert np.allclose(again.sample(content, style, 40, steps=10, seed=1), fast, atol=2e-2)  # fp16 weights
    with pytest.raises(EmoAnimError, match="no motion generator"):
        MotionGenerator.from_pretrained(tmp_path / "missing")


def test_epsilon_prediction_recovers_x0():
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, prediction="epsilon"))
    x0, noise = torch.randn(2, 8, len(NAMES)), torch.randn(2, 8, len(NAMES))
    t = torch.tensor([10, 200])
    x_t = gen.scheduler.add_noise(x0, noise, t)
    assert torch.allclose(gen.to_x0(noise, x_t, t), x0, atol=1e-3)
    with pytest.raises(EmoAnimError, match="prediction"):
        GeneratorConfig(prediction="v")
