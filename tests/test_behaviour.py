"""The behaviour stream: seeded draws, and that maximum likelihood learns rare full-amplitude events
(blink-like) that an average would wash out; attached to a generator it replaces only its channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoanim.data.generator_set import GeneratorData
from emoanim.diffusion.behaviour import BehaviourConfig, BehaviourStream
from emoanim.diffusion.denoiser import DenoiserConfig
from emoanim.diffusion.generator import GeneratorConfig, MotionGenerator
from emoanim.errors import EmoAnimError
from emoanim.rigs import params_in_groups
from emoanim.rigs.arkit import ARKIT_PARAMS
from emoanim.train.behaviour import BehaviourTrainConfig, fit_behaviour, stream_groups
from emoanim.vocabulary import label_class

NAMES = list(ARKIT_PARAMS)
TINY_STREAM = BehaviourConfig(num_channels=2, content_dim=5, style_dim=8, hidden=32, layers=1, components=4)
FPS = 25.0


def onsets(curve: np.ndarray) -> np.ndarray:
    return np.where((curve[1:] >= 0.5) & (curve[:-1] < 0.5))[0]


def test_draws_are_seeded_and_follow_the_conditions_shape():
    torch.manual_seed(0)
    stream = BehaviourStream(TINY_STREAM).eval()
    content, style = torch.rand(1, 120, 5), torch.randn(1, 8)
    draw = lambda s, st=style: stream.sample(content, st, torch.Generator().manual_seed(s))  # noqa: E731
    a, b, c = draw(0), draw(0), draw(1)
    assert a.shape == (1, 60, 2) and torch.equal(a, b) and not torch.allclose(a, c)
    assert draw(0, style[:, None].expand(1, 60, 8)).allclose(a)  # a constant per-frame style is the same style
    with pytest.raises(EmoAnimError, match="odd"):
        BehaviourStream(BehaviourConfig(context=4))


def blink_corpus(clips: int = 96, frames: int = 100, seed: int = 0) -> GeneratorData:
    """ARKit clips whose eyelids blink at ~0.4/s (close in 3 frames, open in 5) and whose head drifts;
    everything else is still. Half the clips are 'happy', half 'sad' (the same behaviour)."""
    rng = np.random.default_rng(seed)
    shape = np.array([0.35, 0.75, 1.0, 0.8, 0.6, 0.4, 0.2, 0.05])
    params, content, labels = [], [], []
    blink, yaw = NAMES.index("eyeBlinkLeft"), NAMES.index("headYaw")
    for i in range(clips):
        p = np.zeros((frames, len(NAMES)), np.float32)
        t = int(rng.integers(0, 30))
        while t < frames:
            end = min(frames, t + len(shape))
            p[t:end, blink] = p[t:end, blink + 1] = shape[: end - t]
            t += 12 + int(rng.gamma(2.0, 24.0))  # mean onset interval ~60 frames: 0.4 blinks/s
        p[:, yaw] = np.cumsum(rng.normal(0, 0.002, frames)).astype(np.float32)
        params.append(p)
        content.append(rng.random((2 * frames, 5)).astype(np.float32) * 0.1)
        labels.append(label_class("happy" if i % 2 else "sad", 2))
    labels = np.array(labels)
    styles = np.eye(8, dtype=np.float32)[labels % 8]
    return GeneratorData(params, content, labels, labels // 3, styles, NAMES, "arkit", FPS)


@pytest.mark.slow
def test_learns_full_blinks_at_the_data_rate_and_replaces_only_its_channels():
    torch.manual_seed(0)  # the (untrained) denoiser's weights: its first frame is where the stream starts
    data = blink_corpus()
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, fps=FPS, denoiser=DenoiserConfig(
        num_params=len(NAMES), content_dim=5, style_dim=8, d_model=32, layers=1, heads=2, ff=64)))
    mean = torch.from_numpy(np.concatenate(data.params).mean(0))
    std = torch.from_numpy(np.concatenate(data.params).std(0))
    gen.set_normalization(mean, std)
    prototypes = torch.eye(8)
    stream = BehaviourConfig(hidden=48, layers=1, components=4)
    record = fit_behaviour(gen, data, prototypes, BehaviourTrainConfig(groups=["blink", "head"], steps=250, window=100,
                                                                       stream=stream, warmup=20), log=lambda s: None)
    assert record["groups"] == ["blink", "head"] and gen.behaviour.config.num_channels == 5
    content = np.random.default_rng(1).random((400, 5)).astype(np.float32) * 0.1
    takes = [gen.sample(content, prototypes[0].numpy(), 200, steps=2, seed=s) for s in range(12)]
    lid = NAMES.index("eyeBlinkLeft")
    blinks = [onsets(p[:, lid]) for p in takes]
    rate = sum(len(b) for b in blinks) / (12 * 200 / FPS)
    assert 0.2 <= rate <= 0.7, rate  # the data's ~0.4/s, not washed out to nothing
    peaks = [p[b[0] + 1 : b[0] + 5, lid].max() for p, b in zip(takes, blinks) if len(b) and b[0] + 5 < 200]
    assert len(peaks) >= 4 and np.median(peaks) >= 0.8  # full closures
    assert len({tuple(b) for b in blinks}) >= 10  # every seed blinks at its own times
    # Only the stream's channels come from the stream: the rest is the denoiser's take, unchanged.
    own = params_in_groups("arkit", NAMES, ["blink", "head"])
    alone = MotionGenerator(gen.config.__class__(**{**vars(gen.config), "behaviour": None}))
    alone.load_state_dict({k: v for k, v in gen.state_dict().items() if not k.startswith("behaviour.")})
    plain = alone.sample(content, prototypes[0].numpy(), 200, steps=2, seed=0)
    assert np.array_equal(plain[:, ~own], takes[0][:, ~own]) and not np.allclose(plain[:, own], takes[0][:, own])


def test_generator_saves_and_loads_its_stream(tmp_path):
    torch.manual_seed(0)
    gen = MotionGenerator(GeneratorConfig(param_names=NAMES, denoiser=DenoiserConfig(
        num_params=len(NAMES), content_dim=5, style_dim=8, d_model=32, layers=1, heads=2, ff=64)))
    groups = stream_groups("arkit", ["blink", "gaze", "head"])
    size = int(params_in_groups("arkit", NAMES, groups).sum())
    gen.attach_behaviour(BehaviourStream(BehaviourConfig(groups=groups, num_channels=size, content_dim=5, style_dim=8,
                                                         hidden=16, layers=1)))
    gen.load_state_dict({k: v.half().float() for k, v in gen.state_dict().items()})  # as saved: fp16
    content, style = np.random.default_rng(0).random((80, 5), np.float32), np.eye(8, dtype=np.float32)[2]
    take = gen.sample(content, style, 40, steps=2, seed=5)
    gen.save_pretrained(tmp_path / "g")
    again = MotionGenerator.from_pretrained(tmp_path / "g")
    assert again.behaviour is not None and np.allclose(again.sample(content, style, 40, steps=2, seed=5), take,
                                                       atol=1e-5)
    with pytest.raises(EmoAnimError, match="channels"):
        gen.attach_behaviour(BehaviourStream(BehaviourConfig(groups=["blink"], num_channels=3)))
    assert stream_groups("flame", ["blink", "gaze", "head"]) == ["gaze", "head"]  # FLAME has no blink parameter
    with pytest.raises(EmoAnimError, match="unknown parameter group"):
        stream_groups("arkit", ["blinks"])


def test_conditions_in_chunks_are_the_conditions_of_the_whole_take():
    """An hour's per-frame conditions are made a chunk at a time (memory); each chunk gets its
    convolution's context from its neighbours, so the values are those of the whole take."""
    import torch

    from emoanim.diffusion.behaviour import BehaviourConfig, BehaviourStream

    torch.manual_seed(0)
    stream = BehaviourStream(BehaviourConfig(num_channels=4, content_dim=6, style_dim=5, hidden=8, context=7))
    c = stream.config
    T = 1000
    content = torch.randn(1, c.content_per_frame * T, c.content_dim)
    for style in (torch.randn(1, c.style_dim), torch.randn(1, T, c.style_dim)):
        with torch.no_grad():
            whole = stream.conditions(content, style)[0]
            for chunk in (64, 333, 5000):
                assert torch.allclose(stream.chunked_conditions(content, style, chunk), whole, atol=1e-6)
