"""The generator evaluation: metric functions on hand-made inputs, and a report from tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.generator_set import GeneratorData, mouth_names
from emoanim.diffusion import GeneratorConfig, MotionGenerator, RegressionConfig, RegressionGenerator
from emoanim.diffusion.denoiser import DenoiserConfig
from emoanim.diffusion.scheduler import SchedulerConfig
from emoanim.diffusion.sync_expert import LipSyncExpert, SyncExpertConfig
from emoanim.eval.corpus import blink_rate
from emoanim.eval.generator import (
    EvalClips,
    GeneratorEvalOptions,
    balanced_selection,
    evaluate_generator,
    pick_references,
)
from emoanim.eval.metrics import MouthPoser, au_std, landmark_distance, lip_vertex_error, sync_confidence
from emoanim.eval.report import markdown_table, write_report
from emoanim.rigs import load_rig
from emoanim.rigs.arkit import ARKIT_PARAMS
from emoanim.vocabulary import EMOTIONS, label_class

SPACE = Path(__file__).resolve().parents[1] / "checkpoints" / "emotion_space"
NAMES = list(ARKIT_PARAMS)
JAW = NAMES.index("jawOpen")


@pytest.fixture(scope="module")
def rig():
    return load_rig("arkit")


def test_lip_errors_are_zero_for_identical_motion_and_exact_for_a_known_shift():
    gt = np.random.default_rng(0).random((10, 6, 3)).astype(np.float32) * 0.05
    assert lip_vertex_error(gt, gt) == 0.0 and landmark_distance(gt, gt) == 0.0
    moved = gt.copy()
    moved[:, 2, 0] += 0.002  # one vertex 2 mm to the side in every frame
    assert lip_vertex_error(moved, gt) == pytest.approx(2.0, abs=1e-3)  # the max over the lips
    assert landmark_distance(moved, gt) == pytest.approx(2.0 / 6, abs=1e-3)  # the mean over the vertices


def test_mouth_poser_reports_mm_on_the_rig(rig):
    poser = MouthPoser(rig)
    params = np.zeros((20, len(NAMES)), np.float32)
    params[:, JAW] = 0.5 + 0.4 * np.sin(np.arange(20) / 3)
    gt = poser(params)
    assert np.allclose(gt, rig.vertices(params)[:, poser.index], atol=1e-6)  # the subset equals the full pose
    assert poser.errors(gt, gt) == (0.0, 0.0)
    lve, mouth = poser.errors(poser(np.roll(params, 4, axis=0)), gt)  # a shifted copy is wrong
    assert lve > mouth > 0.0
    lve_static, _ = poser.errors(poser(np.zeros_like(params)), gt)
    assert 2.0 < lve_static < 60.0  # an open jaw moves the lower lip by millimetres, not metres
    turned = params.copy()
    turned[:, NAMES.index("headYaw")] = 0.3
    assert np.allclose(poser(turned), gt, atol=1e-6)  # the lips in the head's frame: a head turn is no lip error


def test_sync_confidence_and_offset():
    curve = np.full(31, 0.1)
    curve[15 + 3] = 0.7  # the best match three frames late
    curve[:2] = np.nan  # offsets beyond a short clip
    conf, offset = sync_confidence(curve)
    assert conf == pytest.approx(0.6) and offset == 3
    assert np.isnan(sync_confidence(np.full(31, np.nan))[0])


def test_blinks_and_au_std():
    fps = 25.0
    x = np.zeros((100, len(NAMES)), np.float32)
    blink = NAMES.index("eyeBlinkLeft")
    for start in (10, 40, 80):
        x[start : start + 4, blink] = 1.0
    assert blink_rate(x, blink, fps) == (3, 4.0)
    assert au_std(np.ones((50, 3)), [0, 1, 2]) == 0.0
    square = np.zeros((50, 2))
    square[::2, 0] = 1.0  # 0/1 alternating: std 0.5; the other action still
    assert au_std(square, [0, 1]) == pytest.approx(0.25)


def test_balanced_selection_and_references():
    emotion = np.repeat(np.arange(8), 6)
    intensity = np.tile([1, 2, 3], 16)
    emotion[:5] = 0  # still 6 neutral clips: unchanged
    chosen = balanced_selection(emotion, intensity, 20)
    assert len(chosen) == len(set(chosen)) == 20
    counts = np.bincount(emotion[chosen], minlength=8)
    assert counts.max() - counts.min() <= 1
    assert np.bincount(emotion[chosen[:8]], minlength=8).tolist() == [1] * 8  # every prefix balanced
    data = GeneratorData([], [], np.array([label_class(EMOTIONS[e], i) for e, i in zip(emotion, intensity)]),
                         emotion, np.zeros((48, 4)), NAMES, "arkit", 25.0)
    clips = EvalClips(data, intensity, [f"v{k % 5}" for k in range(48)], [f"s{k}" for k in range(48)],
                      [[] for _ in range(48)], lambda i: np.zeros(1))
    refs = pick_references(clips, chosen)
    for i, j in refs.items():
        assert j is not None and j != i and data.label[j] == data.label[i]


def _tiny_clips(space: EmotionSpace, frames: int = 30) -> EvalClips:
    rng = np.random.default_rng(0)
    params, content, labels, levels = [], [], [], []
    for k in range(16):
        emotion = EMOTIONS[k % 8]
        level = 1 if emotion == "neutral" else 2
        p = np.zeros((frames, len(NAMES)), np.float32)
        p[:, JAW] = np.clip(rng.random(frames), 0, 1) * 0.5
        params.append(p)
        content.append(rng.random((2 * frames, 5)).astype(np.float32))
        labels.append(label_class(emotion, level))
        levels.append(level)
    labels = np.array(labels)
    with torch.no_grad():
        styles = space.prototypes()[labels].numpy()
    data = GeneratorData(params, content, labels, labels // 3, styles, NAMES, "arkit", 25.0)
    audio = [(0.3 * np.sin(np.arange(16000) * (0.05 + 0.01 * k))).astype(np.float32) for k in range(16)]
    return EvalClips(data, np.array(levels), [f"voice{k}" for k in range(16)], [f"sentence {k}" for k in range(16)],
                     [["quietly pleased"], ["on the verge of tears"]] * 8, lambda i: audio[i],
                     [f"clip{k}" for k in range(16)])


@pytest.mark.slow
def test_report_has_the_expected_rows(rig, tmp_path):
    torch.manual_seed(0)
    space = EmotionSpace.from_pretrained(SPACE)
    clips = _tiny_clips(space)
    # The corpus's motion model stand-in: the clip's motion plus independent jaw noise per draw.
    clips.redraw = lambda i, seed: clips.data.params[i] + np.random.default_rng([seed, i]).normal(
        0, 0.1, clips.data.params[i].shape).astype(np.float32) * (np.arange(len(NAMES)) == JAW)
    den = DenoiserConfig(num_params=len(NAMES), content_dim=5, style_dim=256, d_model=32, layers=1, heads=4, ff=64,
                         dropout=0.0)
    sched = SchedulerConfig(num_train_steps=40)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=den, scheduler=sched))
    reg = RegressionGenerator(RegressionConfig(param_names=NAMES, denoiser=den))
    expert = LipSyncExpert(SyncExpertConfig(param_names=NAMES, mouth_names=mouth_names("arkit", NAMES), content_dim=5))
    options = GeneratorEvalOptions(limit=16, steps=4, sweep=(1.0, 2.0), sweep_clips=8, full_steps=40, full_clips=2,
                                   redraws=8, log=lambda s: None)
    results = evaluate_generator(clips, space, gen, reg, expert, rig, options)
    rows = results["rows"]
    assert list(rows) == ["ground truth", "static neutral face", "corpus redraw (a perfect sampler)",
                          "mean of 8 corpus redraws (best deterministic)", "regression", "diffusion (4 steps)",
                          "diffusion (40 steps, 2 clips)"]
    draw, mean = (rows[n]["controls"]["label"]["lve_mm"] for n in list(rows)[2:4])
    assert 0.0 < mean < 0.6 * draw  # averaging 8 independent draws removes most of their noise
    assert rows["corpus redraw (a perfect sampler)"]["diversity_mm"] > 0.0
    assert "lve<=perfect_sampler" in results["targets"]
    truth = rows["ground truth"]["controls"]["label"]
    assert truth["lve_mm"] == 0.0 and truth["mouth_mm"] == 0.0 and truth["emo_sim"] == pytest.approx(1.0, abs=1e-5)
    assert rows["static neutral face"]["controls"]["label"]["lve_mm"] > 0.0
    assert rows["regression"]["diversity_mm"] == 0.0 and rows["regression"]["diversity_param"] == 0.0
    assert rows["diffusion (4 steps)"]["diversity_param"] > 0.0
    assert set(rows["diffusion (4 steps)"]["controls"]) == {"label", "text", "audio", "motion"}
    assert [r["guidance"] for r in results["guidance_sweep"]["rows"]] == [1.0, 2.0]
    assert results["fast_vs_full"]["clips"] == 2 and "lve_mm" in results["fast_vs_full"]["metrics"]
    assert results["fast_vs_full"]["full_steps"] == 40 and rows["diffusion (40 steps, 2 clips)"]["sampler"] == "ddpm"
    assert results["sampler"] == "ddim" and rows["regression"]["steps"] is None
    js, md, png = write_report(results, tmp_path)
    saved = json.loads(js.read_text())
    assert saved["rows"]["ground truth"]["controls"]["label"]["lve_mm"] == 0.0 and "targets" in saved
    text = md.read_text()
    assert text == markdown_table(results)
    for name in rows:
        assert f"| {name} |" in text
    assert png.stat().st_size > 10_000


def test_blink_events_gaze_shifts_and_jerk():
    from emoanim.eval.metrics import blink_events, gaze_shifts, jerkiness

    fps = 25.0
    lid = np.zeros(60)
    lid[10:20] = [0.1, 0.4, 0.8, 1.0, 0.9, 0.7, 0.5, 0.35, 0.2, 0.1]  # closes in 3 frames, opens in 6
    lid[40:44] = [0.3, 0.6, 0.6, 0.3]  # a partial blink
    lid[58:] = 0.9  # cut off by the clip's end
    full, partial, cut = blink_events(lid, fps)
    assert full["peak"] == 1.0 and full["close_s"] == pytest.approx(3 / fps) and full["open_s"] == pytest.approx(6 / fps)
    assert partial["peak"] == 0.6 and cut["open_s"] is None
    h = np.zeros(50)
    h[10:] += 0.2  # one saccade (one frame)
    h[30:33] += np.array([0.05, 0.1, 0.15])  # another over three frames: one shift
    assert gaze_shifts(h, np.zeros(50)) == 2
    assert jerkiness(np.tile(np.arange(10.0)[:, None], (1, 3))) == 0.0  # constant speed: no acceleration
    assert jerkiness(np.array([[0.0], [1.0], [0.0]])) == 2.0
