"""Content encoders: the shipped phone-posterior encoder on voices it never heard, and the HuBERT path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.audio.content import (
    ContentEncoder,
    ContentEncoderConfig,
    HubertContentEncoder,
    load_content_encoder,
    phone_targets,
)
from emoanim.data import tts
from emoanim.vocabulary import PHONES, PhoneSegment
from emoanim.data.synth import split_voices
from emoanim.errors import EmoAnimError
from emoanim.persistence import read_training

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "content_encoder"


def test_phone_targets_follow_segments_and_speed():
    segs = [PhoneSegment("sil", 0.0, 0.1), PhoneSegment("m", 0.1, 0.2), PhoneSegment("aa", 0.2, 0.4)]
    t = phone_targets(segs, 25)
    assert t.shape == (25,)
    assert [PHONES[i] for i in t[[0, 4, 5, 9, 10, 19]]] == ["sil", "sil", "m", "m", "aa", "aa"]
    assert (t[20:] == 0).all()  # after the last segment: silence
    fast = phone_targets(segs, 25, speed=2.0)  # played twice as fast: /m/ spans 0.05-0.1 s
    assert PHONES[fast[3]] == "m" and PHONES[fast[5]] == "aa"


def test_untrained_encoder_shapes_and_batch_invariance():
    torch.manual_seed(0)
    enc = ContentEncoder(ContentEncoderConfig(hidden=32, dilations=(1, 2))).eval()
    rng = np.random.default_rng(0)
    a = rng.standard_normal(16000).astype(np.float32) * 0.1
    b = rng.standard_normal(9000).astype(np.float32) * 0.1
    ca = enc.encode(a)
    assert ca.shape == (51, len(PHONES) + 1)  # 101 frames at 100 fps -> 51 at 50 fps
    assert np.allclose(ca[:, :-1].sum(1), 1.0, atol=1e-5)
    assert ca[:, -1].min() >= -1.0 and ca[:, -1].max() <= 0.0 and np.isclose(ca[:, -1].max(), 0.0)
    wave = torch.zeros(2, 16000)
    wave[0], wave[1, :9000] = torch.from_numpy(a), torch.from_numpy(b)
    with torch.no_grad():
        batch, mask = enc(wave, torch.tensor([16000, 9000]))
    assert mask.sum(1).tolist() == [51, len(enc.encode(b))]
    assert np.allclose(batch[1, : mask[1].sum()].numpy(), enc.encode(b), atol=1e-5)
    assert np.allclose(enc.encode(a * 0.1), ca, atol=1e-4)  # level-invariant


def test_save_and_load_keep_architecture_and_training_apart(tmp_path):
    torch.manual_seed(0)
    enc = ContentEncoder(ContentEncoderConfig(hidden=32, dilations=(1, 2))).eval()
    enc.save_pretrained(tmp_path, training={"test": {"frame_accuracy": 0.7}})
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["kind"] == "ppg" and config["hidden"] == 32 and "metrics" not in config
    assert read_training(tmp_path) == {"test": {"frame_accuracy": 0.7}}
    loaded = load_content_encoder(tmp_path)
    assert isinstance(loaded, ContentEncoder) and loaded.config == enc.config
    wave = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.1
    np.testing.assert_allclose(loaded.encode(wave), enc.encode(wave), atol=2e-2)  # fp16 weights


@pytest.mark.skipif(not (SHIPPED / "model.safetensors").is_file(), reason="no shipped content encoder")
def test_shipped_encoder_recognises_phones_of_unseen_voices():
    enc = load_content_encoder(SHIPPED)
    assert isinstance(enc, ContentEncoder)
    test_voices = [v for v in split_voices(tts.list_voices(), 0)["test"] if v.engine == "espeak"][:2]
    text = "Maybe Bob will buy the big blue map for my mom."
    accs = []
    for voice in test_voices:
        clip = tts.synthesize(text, voice, tts.ProsodyStyle(), rng=np.random.default_rng(0))
        content = enc.encode(clip.audio)
        target = phone_targets(clip.phones, len(content))
        pred = content[:, :-1].argmax(1)
        accs.append(float((pred == target).mean()))
        # Lips close on /p b m/: the bilabial posterior peaks inside the bilabial segments.
        bil = content[:, [PHONES.index(p) for p in ("p", "b", "m")]].sum(1)
        inside = np.isin(target, [PHONES.index(p) for p in ("p", "b", "m")])
        assert bil[inside].mean() > 4 * bil[~inside].mean()
    assert min(accs) > 0.5, accs


def test_hubert_path_with_a_tiny_random_checkpoint(tmp_path):
    from transformers import HubertConfig, HubertModel

    cfg = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(16, 16, 16, 16, 16, 16, 16), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    torch.manual_seed(0)
    HubertModel(cfg).save_pretrained(tmp_path / "hubert")
    enc = load_content_encoder(tmp_path / "hubert")
    assert isinstance(enc, HubertContentEncoder) and enc.feature_dim == 32
    content = enc.encode(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    assert content.shape == (49, 32) and np.isfinite(content).all()  # HuBERT: 20 ms frames
    with pytest.raises(EmoAnimError, match="no content encoder"):
        load_content_encoder(tmp_path / "missing")
    with pytest.raises(EmoAnimError, match="no HuBERT checkpoint"):
        HubertContentEncoder(tmp_path / "missing")
