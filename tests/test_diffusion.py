"""The generator: alignment mask, guidance, samplers, window stitching and a tiny train-then-sample run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.generator_set import GeneratorData, mouth_names, param_stats
from emoanim.diffusion import RegressionGenerator, load_generator
from emoanim.diffusion.denoiser import Denoiser, DenoiserConfig, alignment_mask
from emoanim.diffusion.generator import GeneratorConfig, MotionGenerator, upgrade_config
from emoanim.diffusion.samplers import guided, repaint, sample_ddim, sample_ddpm, sample_windows, window_starts
from emoanim.diffusion.scheduler import DiffusionScheduler, SchedulerConfig
from emoanim.diffusion.sync_expert import LipSyncExpert, SyncExpertConfig
from emoanim.errors import EmoAnimError
from emoanim.persistence import upgrade_checkpoint
from emoanim.rigs import rig_param_ranges
from emoanim.rigs.arkit import ARKIT_PARAMS
from emoanim.train.generator import GeneratorTrainConfig, fit_generator
from emoanim.vocabulary import DEFAULT_GUIDANCE, SAMPLERS, label_class

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
        guided_x0 = guided(gen.denoiser, gen.scheduler, c, s, guidance=2.5)(x, 100)
    assert not torch.allclose(cond, uncond)
    assert torch.allclose(guided_x0, 2.5 * cond - 1.5 * uncond, atol=1e-5)
    sch = gen.scheduler
    eps = lambda x0: sch.eps_from_x0(x, x0, 100)
    assert torch.allclose(eps(guided_x0), 2.5 * eps(cond) - 1.5 * eps(uncond), atol=1e-4)


def test_scheduler_steps_and_noise_levels():
    sch = DiffusionScheduler()
    assert sch.num_train_steps == 400
    ts = sch.timesteps(25)
    assert len(ts) == 25 and ts[0] == 399 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    assert len(sch.timesteps(400)) == 400
    with pytest.raises(EmoAnimError, match="from 1 to 400"):  # no silent clipping to 400
        sch.timesteps(1000)
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
    expert = LipSyncExpert(SyncExpertConfig(param_names=NAMES, mouth_names=mouth_names("arkit", NAMES), content_dim=5))
    expert.set_normalization(*param_stats(data))
    config = GeneratorTrainConfig(corpus="", out="", steps=300, batch_size=16, lr=3e-3, warmup=20, ema=0.95,
                                  label_style=1.0, denoiser=TINY, window=48, log=lambda s: None)
    gen, training = fit_generator(data, space, expert, config)
    assert training["steps"] == 300 and set(training["final_losses"]) == {"diff", "sync", "emo"}
    return gen, space, data


@pytest.mark.slow
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


@pytest.mark.slow
def test_full_ancestral_sampling_and_save_load(tiny_trained, tmp_path):
    gen, space, _ = tiny_trained
    content = np.zeros((80, 5), np.float32)
    style = space.embed(emotion="happy", intensity=3)
    full = gen.sample(content, style, 40, steps=400, sampler="ddpm", seed=0)
    assert np.isfinite(full).all() and full[:, SMILE].mean() > 0.3
    gen.save_pretrained(tmp_path / "g")
    again = MotionGenerator.from_pretrained(tmp_path / "g")
    fast = gen.sample(content, style, 40, steps=10, seed=1)
    assert np.allclose(again.sample(content, style, 40, steps=10, seed=1), fast, atol=2e-2)  # fp16 weights
    with pytest.raises(EmoAnimError, match="no motion generator"):
        MotionGenerator.from_pretrained(tmp_path / "missing")


def test_epsilon_prediction_recovers_x0():
    eps = SchedulerConfig(prediction="epsilon")
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, scheduler=eps))
    x0, noise = torch.randn(2, 8, len(NAMES)), torch.randn(2, 8, len(NAMES))
    t = torch.tensor([10, 200])
    x_t = gen.scheduler.add_noise(x0, noise, t)
    assert torch.allclose(gen.scheduler.to_x0(noise, x_t, t), x0, atol=1e-3)
    assert gen.scheduler.target(x0, noise, 3) is noise
    with pytest.raises(EmoAnimError, match="prediction"):
        SchedulerConfig(prediction="velocity")


def test_v_prediction_recovers_x0_at_every_noise_level():
    sch = DiffusionScheduler(SchedulerConfig(prediction="v"))
    x0, noise = torch.randn(3, 8, 5), torch.randn(3, 8, 5)
    t = torch.tensor([0, 200, 399])  # from almost clean to almost pure noise
    x_t = sch.add_noise(x0, noise, t)
    v = sch.target(x0, noise, t)
    assert torch.allclose(sch.to_x0(v, x_t, t), x0, atol=1e-5)
    a = sch.alpha_bar(t, x0)
    assert torch.allclose(v[0], noise[0] * a[0].sqrt() - x0[0] * (1 - a[0]).sqrt())


# ---- the samplers as pure functions, on toy denoisers ---------------------------------------------


def test_ddim_and_ddpm_end_at_the_denoisers_x0():
    sch = DiffusionScheduler()
    x0 = torch.randn(1, 6, 3)
    fixed = lambda x_t, t: x0  # noqa: E731  a denoiser that always knows the answer
    x = torch.randn(1, 6, 3)
    for ts in (sch.timesteps(25), sch.timesteps(3)):
        assert torch.equal(sample_ddim(fixed, sch, x.clone(), ts), x0)
        assert torch.equal(sample_ddpm(fixed, sch, x.clone(), ts, torch.Generator().manual_seed(0)), x0)


def test_ddim_keeps_the_noise_direction_and_ddpm_step_is_the_posterior():
    sch = DiffusionScheduler()
    x0, eps = torch.randn(1, 6, 3), torch.randn(1, 6, 3)
    x_t = sch.add_noise(x0, eps, 300)
    # DDIM (eta = 0) with the true x0 moves along the same noise: x_{t'} = add_noise(x0, eps, t').
    assert torch.allclose(sch.ddim_step(x_t, x0, 300, 120), sch.add_noise(x0, eps, 120), atol=1e-5)
    # The ancestral step to t - 1 is DDPM's posterior written with beta_t (Ho et al. Eq. 7).
    a, a_prev, beta = sch.alphas_cumprod[300], sch.alphas_cumprod[299], sch.betas[300]
    mean = (a_prev.sqrt() * beta / (1 - a)) * x0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a)) * x_t
    noise = torch.randn(1, 6, 3)
    var = beta * (1 - a_prev) / (1 - a)
    assert torch.allclose(sch.ancestral_step(x_t, x0, 300, 299, noise), (mean + var.sqrt() * noise).float(),
                          atol=1e-5)


def test_guided_is_one_batched_call_mixing_cond_and_uncond():
    calls = []

    def toy(x_t, t, content, style, drop=None):  # cond = +1, uncond = -1 everywhere
        calls.append(x_t.shape[0])
        out = torch.ones_like(x_t)
        return out if drop is None else torch.where(drop[:, None, None], -out, out)

    sch = DiffusionScheduler()
    x, c, s = torch.zeros(1, 4, 2), torch.zeros(1, 8, 5), torch.zeros(1, 3)
    assert torch.equal(guided(toy, sch, c, s, 2.5)(x, 10), torch.full((1, 4, 2), 2.5 * 1.0 + (1 - 2.5) * -1.0))
    assert calls == [2]  # both branches in one call
    assert torch.equal(guided(toy, sch, c, s, 1.0)(x, 10), torch.ones(1, 4, 2)) and calls == [2, 1]


def test_repaint_puts_the_noised_prefix_in_at_every_step():
    sch = DiffusionScheduler()
    prefix, noise = torch.randn(1, 3, 2), torch.randn(1, 3, 2)
    known = repaint(sch, prefix, noise)
    seen = []

    def denoise(x_t, t):
        seen.append(torch.allclose(x_t[:, :3], sch.add_noise(prefix, noise, t)))
        return torch.zeros_like(x_t)

    sample_ddim(denoise, sch, torch.randn(1, 7, 2), sch.timesteps(5), known)
    assert seen == [True] * 5


def test_sample_windows_continue_and_cross_fade():
    starts = window_starts(50, 20, 6)
    prefixes = []

    def window(start, end, prefix):  # window k returns the constant k
        prefixes.append(prefix.shape[1])
        return torch.full((1, end - start, 1), float(starts.index(start)))

    out = sample_windows(window, torch.zeros(1, 50, 1), 20, 6)[0, :, 0]
    assert prefixes[0] == 0 and all(n > 0 for n in prefixes[1:])
    second = starts[1]
    ramp = out[second : second + prefixes[1]]
    assert bool((ramp > 0).all() and (ramp < 1).all() and (torch.diff(ramp) > 0).all())  # 0 fades into 1
    assert float(out[-1]) == len(starts) - 1 and float(out[0]) == 0.0


# ---- the explicit sampler choice ------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_generator():
    torch.manual_seed(0)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, window=40, overlap=10,
                                          scheduler=SchedulerConfig(num_train_steps=20)))
    content = np.random.default_rng(0).random((60, 5), np.float32)
    return gen, content, unit(np.random.default_rng(1).standard_normal(256))


def test_sampler_is_an_explicit_choice(toy_generator):
    gen, content, style = toy_generator
    ddim = gen.sample(content, style, 30, steps=20, sampler="ddim", seed=2)
    ddpm = gen.sample(content, style, 30, steps=20, sampler="ddpm", seed=2)
    assert not np.allclose(ddim, ddpm, atol=1e-3)
    # DDIM with all the noise levels is still DDIM (it used to switch to ancestral silently).
    x = torch.randn(1, 30, len(NAMES), generator=torch.Generator().manual_seed(2))
    c, s = gen.conditions(content, style, 30)
    with torch.no_grad():
        x0 = sample_ddim(guided(gen.denoiser, gen.scheduler, c, s, DEFAULT_GUIDANCE), gen.scheduler, x,
                         gen.scheduler.timesteps(20))
    low, high = rig_param_ranges("arkit", NAMES)  # what every take is clipped to
    assert np.allclose(ddim, np.clip(gen.denormalize(x0)[0].numpy(), low, high), atol=1e-6)
    assert np.array_equal(gen.sample(content, style, 30, steps=20, seed=2), ddim)  # None: the default, ddim
    strided = gen.sample(content, style, 30, steps=5, sampler="ddpm", seed=2)  # fewer ancestral steps: defined
    assert np.isfinite(strided).all() and np.array_equal(strided, gen.sample(content, style, 30, steps=5,
                                                                             sampler="ddpm", seed=2))
    with pytest.raises(EmoAnimError, match="unknown sampler 'euler'"):
        gen.sample(content, style, 30, sampler="euler")
    with pytest.raises(EmoAnimError, match="from 1 to 20"):
        gen.sample(content, style, 30, steps=21, sampler="ddpm")


def test_old_configs_load_and_kinds_pick_the_class(toy_generator, tmp_path):
    gen, content, style = toy_generator
    gen.save_pretrained(tmp_path / "g")
    config = json.loads((tmp_path / "g" / "config.json").read_text())
    assert config["kind"] == "diffusion" and config["scheduler"]["prediction"] == "sample"
    old = {**config, "prediction": "epsilon", "scheduler": {"num_train_steps": 20, "schedule": "cosine"}}
    (tmp_path / "g" / "config.json").write_text(json.dumps(old))  # prediction at the generator level (0.1)
    with pytest.raises(EmoAnimError, match="unknown motion generator settings: prediction"):
        load_generator(tmp_path / "g")  # loaders read today's layout only
    assert upgrade_checkpoint(tmp_path / "g", convert=upgrade_config)  # the one-time conversion
    assert load_generator(tmp_path / "g").scheduler.prediction == "epsilon"
    assert not upgrade_checkpoint(tmp_path / "g", convert=upgrade_config)  # once
    with pytest.raises(EmoAnimError, match="regression"):
        MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, kind="regression"))


# ---- the regression baseline ----------------------------------------------------------------------


def test_shipped_regression_loads_as_its_class_and_is_deterministic():
    folder = Path(__file__).resolve().parents[1] / "checkpoints" / "regression"
    reg = load_generator(folder)
    assert type(reg) is RegressionGenerator and not hasattr(reg, "scheduler")
    assert "metrics" not in json.loads((folder / "config.json").read_text())  # results are in training.json
    with pytest.raises(EmoAnimError, match="'regression' generator"):
        MotionGenerator.from_pretrained(folder)
    D = reg.config.denoiser
    rng = np.random.default_rng(0)
    content = rng.random((260, D.content_dim)).astype(np.float32)
    style = unit(rng.standard_normal(D.style_dim))
    calls = []
    a = reg.sample(content, style, 130, seed=0, callback=lambda d, n: calls.append((d, n)))
    b = reg.sample(content, style, 130, guidance=3.0, steps=7, sampler="ddpm", seed=5)  # none of these matter
    assert a.shape == (130, D.num_params) and np.array_equal(a, b) and a.std(0).max() > 0.01
    assert calls == [(1, 2), (2, 2)]  # two windows of 100 frames, one call each
    # It is the backbone at x_t = 0, t = 0 (one window).
    c, s = reg.conditions(content, style, 100)
    with torch.no_grad():
        direct = reg.denormalize(reg.denoiser(torch.zeros(1, 100, D.num_params), torch.zeros(1, dtype=torch.long),
                                              c, s))[0].numpy()
    direct = np.clip(direct, *rig_param_ranges(reg.rig, reg.param_names))  # (every take is kept in range)
    assert np.allclose(reg.sample(content, style, 100), direct, atol=1e-6)


def test_a_style_per_frame_is_the_same_as_one_style_when_constant():
    """AdaIN per frame: a constant [T, E] track gives exactly the take of its one vector; a track that
    changes halfway changes the second half."""
    torch.manual_seed(0)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, window=16, overlap=4,
                                          scheduler=SchedulerConfig(num_train_steps=20)))
    torch.nn.init.normal_(gen.denoiser.style_mlp[-1].weight, std=0.1)  # (zero at init: the style would do nothing)
    rng = np.random.default_rng(0)
    content = rng.random((2 * 30, TINY.content_dim)).astype(np.float32)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, TINY.style_dim)).astype(np.float32))
    one = gen.sample(content, a, 30, steps=5, seed=3)
    assert np.allclose(gen.sample(content, np.repeat(a[None], 30, 0), 30, steps=5, seed=3), one, atol=1e-5)
    half = np.concatenate([np.repeat(a[None], 15, 0), np.repeat(b[None], 15, 0)])
    changed = gen.sample(content, half, 30, steps=5, seed=3)
    assert not np.allclose(changed[20:], one[20:], atol=1e-4)
    with pytest.raises(EmoAnimError, match="one per frame"):
        gen.sample(content, half[:10], 30, steps=5, seed=3)


def _gaussian_denoiser(sch, mu: float, s: float):
    """The exact E[x0 | x_t] for data x0 ~ N(mu, s^2) (every dimension independent)."""
    def denoise(x_t, t):
        a = sch.alpha_bar(t, x_t)
        return mu + a.sqrt() * s**2 / (a * s**2 + 1 - a) * (x_t - a.sqrt() * mu)
    return denoise


def test_dpm_solver_follows_the_ode_in_few_steps_and_its_sde_samples_the_data():
    from emoanim.diffusion.samplers import sample_dpmpp

    sch = DiffusionScheduler(SchedulerConfig(num_train_steps=400))
    denoise = _gaussian_denoiser(sch, mu=1.5, s=0.3)
    noise = torch.randn(1, 2000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = sample_ddim(denoise, sch, noise.clone(), sch.timesteps(400))
    err = lambda x: float((x - exact).abs().max())  # noqa: E731
    steps = sch.timesteps(10, "logsnr")
    assert len(steps) == 10 and steps[0] == 399 and steps[-1] == 0 and steps == sorted(steps, reverse=True)
    dpm, ddim = (f(denoise, sch, noise.clone(), steps) for f in (sample_dpmpp, sample_ddim))
    assert err(dpm) < 0.25 * err(ddim), (err(dpm), err(ddim))  # second order: closer to the ODE's solution
    assert err(dpm) < 0.03
    sde = sample_dpmpp(denoise, sch, noise.clone(), steps, torch.Generator().manual_seed(1), eta=1.0)
    assert abs(float(sde.mean()) - 1.5) < 0.03 and abs(float(sde.std()) - 0.3) < 0.03  # the data's distribution
    assert err(sde) > 0.05  # fresh noise: not the ODE's sample


def test_every_sampler_runs_through_the_generator():
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY,
                                          scheduler=SchedulerConfig(num_train_steps=20)))
    content = np.random.default_rng(0).random((40, TINY.content_dim)).astype(np.float32)
    style = np.eye(TINY.style_dim, dtype=np.float32)[0]
    for sampler in SAMPLERS:
        a, b = (gen.sample(content, style, 20, steps=4, sampler=sampler, seed=s) for s in (0, 0))
        assert a.shape == (20, len(NAMES)) and np.isfinite(a).all() and np.array_equal(a, b), sampler


def test_samples_stay_within_the_rigs_ranges():
    """Whatever the denoiser says, ARKit weights come out in [0, 1] and head angles within the neck's range."""
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=TINY, scheduler=SchedulerConfig(num_train_steps=20)))
    gen.set_normalization(torch.zeros(len(NAMES)), torch.full((len(NAMES),), 5.0))  # wild outputs in rig units
    content = np.random.default_rng(0).random((40, TINY.content_dim)).astype(np.float32)
    take = gen.sample(content, np.eye(TINY.style_dim, dtype=np.float32)[0], 20, steps=3, sampler="ddpm")
    actions, head = take[:, :52], take[:, 52:]
    assert actions.min() >= 0.0 and actions.max() <= 1.0 and (actions == 1.0).any() and (actions == 0.0).any()
    assert np.abs(head).max() <= 0.7 + 1e-6 and (np.abs(head) == np.float32(0.7)).any()
