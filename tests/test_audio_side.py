"""The audio side over frozen Whisper frames: shapes and rates, padding, persistence, the rebuild that
keeps every other weight, and what the shipped space hears in a real calm voice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.audio import load_audio
from emoanim.binding.adapter import Adapter
from emoanim.binding.audio_encoder import WhisperEmotionConfig, WhisperEmotionEncoder, load_audio_encoder, pair_frames
from emoanim.binding.space import EmotionSpace
from emoanim.data.clip_set import ClipSet
from emoanim.errors import EmoAnimError
from emoanim.train.audio_side import AudioSideTrainConfig, fit_audio_adapter, frame_batch
from emoanim.vocabulary import label_class

ROOT = Path(__file__).resolve().parents[1]
REAL_CLIP = ROOT / "tests" / "data" / "librivox_ss01_0870.wav"  # calm read speech (LibriVox, public domain)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return WhisperEmotionEncoder().eval()


def test_pairs_of_frames_make_the_motion_rate():
    frames = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_allclose(pair_frames(frames), [[1, 2], [5, 6]])  # the odd last 20 ms dropped


@torch.no_grad()
def test_whisper_features_run_at_25_fps_and_ignore_padding(encoder):
    wave = load_audio(REAL_CLIP, 16000)[: 3 * 16000]
    short = wave[: 2 * 16000]
    features, mask = encoder(torch.from_numpy(wave)[None])
    assert features.shape == (1, 75, encoder.feature_dim) and mask.all()
    batch = torch.zeros(2, len(wave))
    batch[0], batch[1, : len(short)] = torch.from_numpy(wave), torch.from_numpy(short)
    padded, padded_mask = encoder(batch, torch.tensor([len(wave), len(short)]))
    alone, _ = encoder(torch.from_numpy(short)[None])
    assert int(padded_mask[1].sum()) == 50
    np.testing.assert_allclose(padded[1, :50].numpy(), alone[0].numpy(), atol=1e-4)
    assert padded[1, 50:].abs().max() == 0


def test_saved_and_loaded_by_kind(encoder, tmp_path):
    encoder.save_pretrained(tmp_path)
    loaded = load_audio_encoder("whisper", tmp_path)
    assert isinstance(loaded, WhisperEmotionEncoder) and loaded.config == encoder.config
    with pytest.raises(EmoAnimError, match="whisper"):
        load_audio_encoder("compact", tmp_path)
    with pytest.raises(EmoAnimError, match="speaker_norm"):
        WhisperEmotionEncoder(WhisperEmotionConfig(speaker_norm="loud"))


def test_the_speaker_free_frames_do_not_hear_the_voice():
    """With the clip's mean frame taken out, one offset on every frame (a voice or a microphone, in the
    normalised frames' space) changes nothing; reading the mean as well, it does."""
    torch.manual_seed(0)
    frames = torch.randn(1, 40, 384)
    mask = torch.ones(1, 40, dtype=torch.bool)
    shift = 2.0 * torch.randn(1, 1, 384)
    out = {}
    for voice in (False, True):
        model = WhisperEmotionEncoder(WhisperEmotionConfig(voice=voice)).eval()
        model.in_norm = torch.nn.Identity()  # the offset is applied after the per-frame LayerNorm
        with torch.no_grad():
            out[voice] = [model.encode_frames(x, mask)[0] for x in (frames, frames + shift)]
    np.testing.assert_allclose(out[False][0].numpy(), out[False][1].numpy(), atol=1e-5)
    assert (out[True][0] - out[True][1]).abs().max() > 1e-2


def test_audio_adapter_learns_and_keeps_the_rest(tmp_path):
    """The rebuild's step 3 on a tiny set: only the audio adapter moves, and the classes it was shown separate."""
    from test_binding import make_tiny_space

    space = make_tiny_space()
    encoder = WhisperEmotionEncoder(WhisperEmotionConfig(d_model=32, ff=64)).eval()
    space.audio_encoder, space.config.audio_encoder = encoder, encoder.config
    space.adapters["audio"] = Adapter(encoder.feature_dim, space.config.embed_dim, space.config.adapter_hidden)
    space.requires_grad_(False)
    space.adapters["audio"].requires_grad_(True)
    rng = np.random.default_rng(0)
    labels = np.array([label_class("happy", 3), label_class("sad", 3)] * 8)
    n_params = len(space.param_names)
    data = ClipSet(params=[rng.uniform(0, 0.3, (40, n_params)).astype(np.float32) for _ in labels],
                   audio=[np.zeros(16000, np.int16) for _ in labels], emotion=labels // 3, intensity=labels % 3,
                   label=labels, descriptions=[["x"] for _ in labels], fps=25.0)
    centre = {c: rng.normal(0, 1, encoder.config.backbone_dim) for c in np.unique(labels)}
    swing = np.where(np.arange(40) % 8 < 4, 1.0, -1.0)[:, None]  # the classes differ in how the frames move, not
    data.frames = [(swing * centre[c] + rng.normal(0, 0.3, (40, encoder.config.backbone_dim))).astype(np.float16)
                   for c in labels]  # in their mean (which the speaker-free frames do not see)
    with torch.no_grad():
        features = [encoder.encode_frames(*frame_batch(data, [i], None, None))[0][0] for i in range(len(labels))]
    features = {"train": features, "val": features}
    kept = {k: v.clone() for k, v in space.state_dict().items() if not k.startswith("adapters.audio.")}
    config = AudioSideTrainConfig(space=tmp_path, corpus=tmp_path, out=tmp_path, adapter_epochs=60, batch_size=8, lr=3e-3,
                                  crop_seconds=(1.0, 1.6), log=lambda _: None)
    result = fit_audio_adapter(space, data, data, features, config)
    after = space.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in kept.items())
    assert result["val_audio_acc"] == 1.0  # well-separated classes: what binding should reach at least


def test_shipped_space_hears_a_real_calm_voice_as_calm():
    """Calm read speech (a LibriVox reader, never trained on) reads as neutral or a mild emotion, never a
    strong one with high confidence (issue 13's target for real voices)."""
    space = EmotionSpace.from_pretrained(ROOT / "checkpoints" / "emotion_space")
    reading = space.read_audio(load_audio(REAL_CLIP, 16000))
    assert reading.emotion == "neutral" or reading.intensity == 1, reading.describe()


@pytest.mark.slow
def test_shipped_space_hears_the_acted_emotion_in_unseen_voices():
    """A reference voice changes the emotion read: clips of a held-out synthetic voice acting sad, angry
    and fearful (two takes each) are read as that emotion (the reading, or its guess when unsure) far
    above chance (1 in 8), and a neutral take reads as neutral."""
    from test_binding import synthesized_clip

    space = EmotionSpace.from_pretrained(ROOT / "checkpoints" / "emotion_space")
    heard = []
    for emotion in ("sad", "angry", "fearful"):
        for seed in (0, 1):
            reading = space.read_audio(synthesized_clip(emotion, 3, seed)[0])
            heard.append((reading.guess or reading.emotion).split()[0] == emotion)
    assert sum(heard) >= 4, heard
    assert space.read_audio(synthesized_clip("neutral", 1, 0)[0]).emotion == "neutral"
