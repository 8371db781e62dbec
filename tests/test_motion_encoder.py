"""The motion encoder (emotion judge): shapes, masks, normalisation, lengths, config and file round trip."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from emoanim.binding.motion_encoder import (
    STD_FLOOR,
    MotionEncoder,
    MotionEncoderConfig,
    augment_motion,
    head_channels,
)
from emoanim.errors import EmoAnimError
from emoanim.rigs.arkit import ARKIT_PARAMS, HEAD_PARAMS
from emoanim.rigs.flame import flame_param_names

D = len(ARKIT_PARAMS)


def small_config(**overrides) -> MotionEncoderConfig:
    settings = dict(param_names=list(ARKIT_PARAMS), rig="arkit", d_model=32, layers=2, heads=2, ff=64, max_frames=64)
    settings.update(overrides)
    return MotionEncoderConfig(**settings)


@pytest.fixture
def encoder() -> MotionEncoder:
    torch.manual_seed(0)
    enc = MotionEncoder(small_config())
    rng = np.random.default_rng(0)
    enc.set_normalization(rng.uniform(0.0, 0.3, D), rng.uniform(0.05, 0.2, D))
    return enc.eval()


def motion(frames: int, seed: int = 0) -> torch.Tensor:
    """[frames, D] smooth-ish random curves in the ARKit ranges."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0.0, 0.05, (frames, D)), axis=0)
    return torch.from_numpy(np.clip(0.3 + x, 0.0, 1.0).astype(np.float32))


def padded(clips: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(c) for c in clips)
    params, mask = torch.zeros(len(clips), length, D), torch.zeros(len(clips), length, dtype=torch.bool)
    for i, c in enumerate(clips):
        params[i, : len(c)], mask[i, : len(c)] = c, True
    return params, mask


def test_shapes(encoder):
    params, mask = padded([motion(40, 1), motion(25, 2), motion(33, 3)])
    features = encoder(params, mask)
    assert features.shape == (3, 40, encoder.feature_dim) and encoder.feature_dim == 32
    assert features[1, 25:].abs().max() == 0  # padded frames are zero
    emotion, intensity = encoder.classify(features, mask)
    assert emotion.shape == (3, 8) and intensity.shape == (3, 3)
    emotion_p, intensity_p = encoder.predict(params, mask)
    assert torch.allclose(emotion_p.sum(1), torch.ones(3)) and torch.allclose(intensity_p.sum(1), torch.ones(3))


def test_clip_alone_equals_clip_padded_in_batch(encoder):
    short, long = motion(30, 1), motion(70, 2)
    with torch.no_grad():
        alone = encoder(short[None])
        alone_logits = encoder.classify(alone)
        params, mask = padded([long, short])
        batch = encoder(params, mask)
        batch_logits = encoder.classify(batch, mask)
        all_valid = encoder(short[None], torch.ones(1, 30, dtype=torch.bool))
    assert torch.allclose(alone[0], batch[1, :30], atol=1e-5)
    assert torch.allclose(alone, all_valid)
    for a, b in zip(alone_logits, batch_logits):
        assert torch.allclose(a[0], b[1], atol=1e-5)


def test_padding_values_do_not_leak(encoder):
    params, mask = padded([motion(20, 1), motion(50, 2)])
    noisy = params.clone()
    noisy[0, 20:] = 123.0  # garbage after the end of clip 0
    with torch.no_grad():
        a, b = encoder(params, mask), encoder(noisy, mask)
    assert torch.allclose(a, b, atol=1e-6)


def test_normalization_buffers_are_saved(encoder):
    state = encoder.state_dict()
    assert state["param_mean"].shape == (D,) and state["param_std"].shape == (D,)
    assert "channel_weight" not in state and "pos" not in state  # derived from the config
    fresh = MotionEncoder(small_config())
    fresh.load_state_dict(state)
    fresh.eval()
    x = motion(30)[None]
    with torch.no_grad():
        assert torch.allclose(fresh(x), encoder(x))


def test_set_normalization_checks_and_floors(encoder):
    std = np.full(D, 0.1, np.float32)
    std[0] = 0.0  # a curve that never moved in training
    encoder.set_normalization(np.zeros(D), std)
    assert encoder.param_std[0] == pytest.approx(STD_FLOOR) and encoder.param_std[1] == pytest.approx(0.1)
    with pytest.raises(EmoAnimError, match="shape"):
        encoder.set_normalization(np.zeros(D - 1), np.ones(D - 1))
    with pytest.raises(EmoAnimError, match="NaN"):
        encoder.set_normalization(np.full(D, np.nan), np.ones(D))


@pytest.mark.parametrize("frames", [1, 25, 64, 150])  # 150 > max_frames: sinusoids extend
def test_any_length(encoder, frames):
    with torch.no_grad():
        features = encoder(motion(frames)[None])
        emotion, _ = encoder.classify(features)
    assert features.shape == (1, frames, 32) and torch.isfinite(emotion).all()


def test_learned_positions_refuse_longer_clips():
    enc = MotionEncoder(small_config(positional="learned")).eval()
    assert enc(motion(64)[None]).shape == (1, 64, 32)
    with pytest.raises(EmoAnimError, match="at most 64 frames"):
        enc(motion(65)[None])


def test_bad_inputs(encoder):
    with pytest.raises(EmoAnimError, match="55 'arkit' parameters"):
        encoder(torch.zeros(1, 10, 52))
    with pytest.raises(EmoAnimError, match="at least one valid frame"):
        encoder(torch.zeros(2, 10, D), torch.tensor([[True] * 10, [False] * 10]))
    with pytest.raises(EmoAnimError, match="positional"):
        MotionEncoder(small_config(positional="rotary"))


def test_config_round_trip_and_size():
    config = MotionEncoderConfig(param_names=list(ARKIT_PARAMS), rig="arkit")
    enc = MotionEncoder.from_config(asdict(config))
    assert enc.config == config and enc.feature_dim == 128
    assert sum(p.numel() for p in enc.parameters()) < 1_000_000  # compact
    with pytest.raises(EmoAnimError, match="unknown motion encoder settings: colour"):
        MotionEncoder.from_config({**asdict(config), "colour": 1})
    with pytest.raises(EmoAnimError, match="incomplete"):
        MotionEncoder.from_config({"rig": "arkit"})


def test_save_and_load_keeps_the_judge(encoder, tmp_path):
    encoder.save_pretrained(tmp_path)
    loaded = MotionEncoder.from_pretrained(tmp_path)
    assert loaded.config == encoder.config and not loaded.training
    torch.testing.assert_close(loaded.param_std, encoder.param_std, atol=1e-3, rtol=1e-3)  # fp16 on disk
    x = motion(40)[None]
    torch.testing.assert_close(loaded.predict(x)[0], encoder.predict(x)[0], atol=2e-2, rtol=0)


def test_head_rotation_weighs_less():
    # Head pose is the rig's "head" parameter group: ARKit's head angles, FLAME's neck and global rotations.
    assert head_channels("arkit", list(ARKIT_PARAMS)).tolist() == [n in HEAD_PARAMS for n in ARKIT_PARAMS]
    flame_names = list(flame_param_names(50))
    flame_head = [n for n, h in zip(flame_names, head_channels("flame", flame_names)) if h]
    assert sorted(flame_head) == ["global_rx", "global_ry", "global_rz", "neck_rx", "neck_ry", "neck_rz"]
    enc = MotionEncoder(small_config())
    head = [ARKIT_PARAMS.index(n) for n in HEAD_PARAMS]
    assert torch.allclose(enc.channel_weight[head], torch.tensor(0.5)) and enc.channel_weight[0] == 1.0
    assert (enc.channel_drop[head] > enc.channel_drop[0]).all()
    flame = MotionEncoder(small_config(param_names=list(flame_param_names(50)), rig="flame"))
    assert int((flame.channel_weight < 1).sum()) == 6  # neck and global rotations


def test_train_mode_augments_and_learns(encoder):
    x = motion(40)[None].repeat(4, 1, 1)
    encoder.train()
    a, b = encoder(x), encoder(x)
    assert not torch.allclose(a, b)  # noise and channel dropout differ per call
    emotion, intensity = encoder.classify(a)
    loss = torch.nn.functional.cross_entropy(emotion, torch.tensor([0, 1, 2, 3])) + intensity.sum()
    loss.backward()
    assert encoder.input.weight.grad is not None and torch.isfinite(encoder.input.weight.grad).all()
    encoder.predict(x)
    assert encoder.training  # predict restores the mode it found
    encoder.eval()
    assert torch.equal(encoder(x), encoder(x))


def test_augment_motion():
    clip = motion(200).numpy()
    lengths = set()
    for seed in range(30):
        out = augment_motion(clip, 25.0, np.random.default_rng(seed))
        assert out.shape[1] == D and 25 <= len(out) <= 150 + 1
        assert out.min() >= clip.min() - 1e-6 and out.max() <= clip.max() + 1e-6  # interpolation stays in range
        lengths.add(len(out))
    assert len(lengths) > 10
    same = [augment_motion(clip, 25.0, np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(*same)
    short = motion(20).numpy()  # shorter than any crop: only stretched
    assert 16 <= len(augment_motion(short, 25.0, np.random.default_rng(0))) <= 24
