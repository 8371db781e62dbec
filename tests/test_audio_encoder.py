"""Audio features (CMN log-mel + prosody) and the audio emotion encoders (compact and wav2vec2)."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy import signal

from emoanim.audio.features import AudioFeatureConfig, audio_features, feature_scale
from emoanim.binding.audio_encoder import (
    AudioEmotionEncoder,
    AudioEncoderConfig,
    Wav2Vec2EmotionEncoder,
    load_audio_encoder,
)
from emoanim.errors import EmoAnimError

SR = 16000
M = AudioFeatureConfig().n_mels
F0_ST, VOICED = M, M + 1  # prosody channel indices


def harmonic_tone(f0: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))).astype(np.float32)


def speechlike(seconds: float, seed: int = 0, f0: float = 140.0) -> np.ndarray:
    """Vowel-like bursts: a glottal pulse train with a wandering f0 through two formant resonators,
    syllable envelopes at ~4 Hz, pauses and a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    pitch = f0 * 2 ** ((1.5 * np.sin(2 * np.pi * 0.7 * t) + 0.5 * rng.standard_normal()) / 12)
    phase = np.cumsum(pitch / SR)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    x = pulses
    for formant, bw in ((rng.uniform(500, 800), 80), (rng.uniform(1100, 1800), 120)):
        r = np.exp(-np.pi * bw / SR)
        x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * formant / SR), r * r], x)
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    envelope[(t % 1.5) > 1.2] = 0.0  # pauses
    x = x * envelope + 0.002 * rng.standard_normal(n)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def pad_batch(waves):
    n = max(len(w) for w in waves)
    out = torch.zeros(len(waves), n)
    for i, w in enumerate(waves):
        out[i, : len(w)] = torch.from_numpy(w)
    return out, torch.tensor([len(w) for w in waves])


# ---- features ---------------------------------------------------------------------------------


def test_feature_shapes_and_mask_for_a_batch_of_different_lengths():
    cfg = AudioFeatureConfig()
    waves = [speechlike(s, seed=i) for i, s in enumerate((1.0, 2.37, 0.5))]
    wave, lengths = pad_batch(waves)
    wave[0, len(waves[0]) :] = 0.7  # garbage in the padding must not matter
    feats, mask = audio_features(wave, lengths, cfg)
    T = wave.shape[1] // cfg.hop_length + 1
    assert feats.shape == (3, T, cfg.num_channels) == (3, T, M + 6)
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == [len(w) // 160 + 1 for w in waves]
    assert torch.isfinite(feats).all()
    assert (feats[~mask] == 0).all()
    for i, w in enumerate(waves):  # the same clip alone: identical features on its frames
        alone, alone_mask = audio_features(torch.from_numpy(w)[None], None, cfg)
        assert alone_mask.all() and alone.shape[1] == int(mask[i].sum())
        torch.testing.assert_close(feats[i, : alone.shape[1]], alone[0], atol=1e-4, rtol=1e-4)
    mel = feats[..., :M]
    torch.testing.assert_close((mel * mask[..., None]).sum(1) / mask.sum(1, keepdim=True),
                               torch.zeros(3, M), atol=1e-4, rtol=0)  # CMN: zero mean over valid frames
    plain, _ = audio_features(wave, lengths, AudioFeatureConfig(with_prosody=False))
    assert plain.shape == (3, T, M)
    assert feature_scale(cfg).shape == (cfg.num_channels,)


def test_cmn_makes_features_invariant_to_gain_and_eq():
    x = speechlike(3.0, seed=3)
    feats, _ = audio_features(torch.from_numpy(x)[None])
    quiet, _ = audio_features(torch.from_numpy(0.1 * x)[None])  # -20 dB
    torch.testing.assert_close(quiet, feats, atol=2e-3, rtol=0)

    # A fixed "microphone": low-shelf cut via a first-order high-pass mixed with the dry signal, and a
    # gentle low-pass. In log-mel it is a per-band offset of up to several dB; CMN removes it.
    b_hp, a_hp = signal.butter(1, 300, "high", fs=SR)
    b_lp, a_lp = signal.butter(2, 5000, "low", fs=SR)
    eq = signal.lfilter(b_lp, a_lp, 0.3 * x + signal.lfilter(b_hp, a_hp, x)).astype(np.float32)
    filtered, _ = audio_features(torch.from_numpy(eq)[None])
    mel, mel_eq = feats[0, :, :M], filtered[0, :, :M]
    other, _ = audio_features(torch.from_numpy(speechlike(3.0, seed=4))[None])
    change = (mel_eq - mel).abs().mean()
    assert change < 0.15 * (other[0, :, :M] - mel).abs().mean()  # far smaller than another signal's difference
    assert change < 0.1  # bels: on average under 1 dB per band after CMN
    # Pitch and voicing do not care about the EQ either.
    voiced = (feats[0, :, VOICED] > 0) & (filtered[0, :, VOICED] > 0)
    assert (feats[0, :, VOICED] == filtered[0, :, VOICED]).float().mean() > 0.9
    assert (feats[0, voiced, F0_ST] - filtered[0, voiced, F0_ST]).abs().median() < 0.2


def test_f0_channel_tracks_tones():
    silence = np.zeros(SR // 2, np.float32)
    semitones = {}
    for f0 in (200.0, 120.0):
        x = np.concatenate([harmonic_tone(f0, 1.0), silence])
        feats, _ = audio_features(torch.from_numpy(x)[None])
        tone, quiet = feats[0, 5:95], feats[0, 110:]
        assert (tone[:, VOICED] == 1).all() and (quiet[:, VOICED] == 0).all()
        assert (quiet[:, F0_ST] == 0).all()  # 0 when unvoiced
        semitones[f0] = tone[:, F0_ST].median().item()
        assert semitones[f0] == pytest.approx(12 * np.log2(f0 / 100), abs=0.1)
        assert tone[:, M + 3].abs().max() < 0.05  # steady pitch: no f0 slope
    assert semitones[200.0] - semitones[120.0] == pytest.approx(12 * np.log2(200 / 120), abs=0.1)


def test_feature_speed_for_a_minute_of_audio():
    x = torch.from_numpy(np.tile(speechlike(3.0), 20))[None]  # 60 s
    audio_features(x)
    import time

    start = time.perf_counter()
    audio_features(x)
    assert time.perf_counter() - start < 1.0  # ~0.05 s on 2 cores; loose for busy CI machines


@pytest.mark.parametrize(
    "wave, lengths, message",
    [
        (torch.zeros(1, 0), None, "empty"),
        (torch.zeros(0, 100), None, "empty"),
        (torch.tensor([[0.1, float("nan"), 0.2]]), None, "NaN"),
        (torch.tensor([[0.1, float("inf"), 0.2]]), None, "NaN or infinite"),
        (torch.zeros(2, 3, 4), None, "shape"),
        (torch.zeros(1, 100, dtype=torch.int16), None, "float"),
        (torch.zeros(2, 100), torch.tensor([100, 0]), "between 1"),
        (torch.zeros(2, 100), torch.tensor([100, 101]), "between 1"),
        (torch.zeros(2, 100), torch.tensor([100]), "one entry per wave"),
    ],
)
def test_bad_audio_input_is_a_clear_error(wave, lengths, message):
    with pytest.raises(EmoAnimError, match=message):
        audio_features(wave, lengths)
    with pytest.raises(EmoAnimError, match=message):
        AudioEmotionEncoder().eval()(wave, lengths)


def test_nan_in_padding_is_ignored_and_silence_is_finite():
    wave = torch.zeros(2, 8000)
    wave[0, 4000:] = float("nan")  # past its length: padding
    feats, mask = audio_features(wave, torch.tensor([4000, 8000]))
    assert torch.isfinite(feats).all() and mask.sum(1).tolist() == [26, 51]


# ---- the compact encoder ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return AudioEmotionEncoder(AudioEncoderConfig()).eval()


def test_encoder_shapes_size_and_rate(encoder):
    assert sum(p.numel() for p in encoder.parameters()) < 1_500_000
    assert encoder.feature_dim == 128 and encoder.frame_rate == 25.0
    wave, lengths = pad_batch([speechlike(2.0, 1), speechlike(1.3, 2)])
    features, mask = encoder(wave, lengths)
    assert features.shape == (2, 51, 128) and mask.shape == (2, 51)
    assert mask.sum(1).tolist() == encoder.output_lengths(torch.tensor([201, 131])).tolist() == [51, 33]
    assert (features[~mask] == 0).all()
    emotion, intensity = encoder.classify(features, mask)
    assert emotion.shape == (2, 8) and intensity.shape == (2, 3)
    p_emotion, p_intensity = encoder.predict(wave, lengths)
    torch.testing.assert_close(p_emotion.sum(1), torch.ones(2))


def test_masked_pooling_ignores_padding(encoder):
    clip = speechlike(1.7, seed=5)
    wave, lengths = pad_batch([speechlike(3.1, seed=6), clip])
    with torch.no_grad():
        logits_batch = encoder.classify(*encoder(wave, lengths))
        logits_alone = encoder.classify(*encoder(torch.from_numpy(clip)[None]))
    for batch, alone in zip(logits_batch, logits_alone):
        torch.testing.assert_close(batch[1], alone[0], atol=1e-4, rtol=1e-4)


def test_augmentation_only_in_train_mode():
    torch.manual_seed(0)
    model = AudioEmotionEncoder()
    wave = torch.from_numpy(speechlike(2.0, seed=7))[None]
    model.eval()
    with torch.no_grad():
        a, _ = model(wave)
        b, _ = model(wave)
    torch.testing.assert_close(a, b)  # eval: deterministic
    model.train()
    with torch.no_grad():
        c, mask = model(wave)
        d, _ = model(wave)
    assert not torch.allclose(c, d) and not torch.allclose(a, c)  # train: random views
    assert mask.all()
    # The augmentation keeps shapes and zeros on padding.
    feats, fmask = audio_features(*pad_batch([speechlike(1.0), speechlike(2.0)]))
    augmented = model._augment(feats * model.scale, fmask)
    assert augmented.shape == feats.shape and torch.isfinite(augmented).all()


def test_config_round_trip_and_save_load(encoder, tmp_path):
    as_json = json.loads(json.dumps(dataclasses.asdict(encoder.config)))
    rebuilt = AudioEmotionEncoder.from_config(as_json)
    assert rebuilt.config == encoder.config
    assert isinstance(rebuilt.config.features, AudioFeatureConfig)
    with pytest.raises(EmoAnimError, match="unknown audio encoder settings"):
        AudioEmotionEncoder.from_config({**as_json, "bogus": 1})
    with pytest.raises(EmoAnimError, match="unknown audio encoder features settings: n_mel"):
        AudioEmotionEncoder.from_config({**as_json, "features": {"n_mel": 40}})
    with pytest.raises(EmoAnimError, match="builds a 'wav2vec2' audio encoder"):
        AudioEmotionEncoder.from_config({"kind": "wav2vec2", "path": "somewhere"})
    # Buffers derived from the config (filterbank, scales, positions) are not saved.
    assert all(not k.startswith(("scale", "pos")) for k in encoder.state_dict())

    encoder.save_pretrained(tmp_path / "compact")
    assert json.loads((tmp_path / "compact" / "audio_encoder.json").read_text())["kind"] == "compact"
    loaded = load_audio_encoder("compact", tmp_path / "compact")
    wave = torch.from_numpy(speechlike(1.5, seed=8))[None]
    with torch.no_grad():
        want = encoder.classify(*encoder(wave))[0]
        got = loaded.classify(*loaded(wave))[0]
    torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)  # fp16 weights
    with pytest.raises(EmoAnimError, match="no audio encoder"):
        load_audio_encoder("compact", tmp_path / "missing")
    with pytest.raises(EmoAnimError, match="unknown audio encoder 'mfcc'"):
        load_audio_encoder("mfcc")


# ---- wav2vec2 -----------------------------------------------------------------------------------


def tiny_wav2vec2(folder, norm: str = "group"):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 4), feat_extract_norm=norm,
        do_stable_layer_norm=norm == "layer", num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )  # fmt: skip
    Wav2Vec2Model(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_wav2vec2_encoder_from_a_local_checkpoint(tmp_path, norm):
    folder = tiny_wav2vec2(tmp_path / "w2v", norm)
    model = load_audio_encoder("wav2vec2", folder).eval()
    assert isinstance(model, Wav2Vec2EmotionEncoder)
    assert model.feature_dim == 32 and model.frame_rate == 200.0  # 16000 / (5 * 4 * 4)
    # The frozen backbone is neither trained nor saved.
    names = [n for n, _ in model.named_parameters()]
    assert names and not any("backbone" in n or "encoder.layers" in n for n in names)
    assert not any(k.startswith("backbone") for k in model.state_dict())
    assert all(not p.requires_grad for p in model.backbone.parameters())

    waves = [speechlike(1.0, seed=1), speechlike(0.6, seed=2)]
    wave, lengths = pad_batch(waves)
    features, mask = model(wave, lengths)
    expected = model.backbone._get_feat_extract_output_lengths(lengths).tolist()
    assert features.shape == (2, max(expected), 32) and mask.sum(1).tolist() == expected
    assert (features[~mask] == 0).all()
    emotion, intensity = model.classify(features, mask)
    assert emotion.shape == (2, 8) and intensity.shape == (2, 3)
    emotion.sum().backward()  # heads and layer weights learn; the backbone does not
    assert model.layer_logits.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())

    if norm == "layer":  # attention-masked checkpoints: padding does not change a clip's features
        alone, _ = model(torch.from_numpy(waves[1])[None])
        torch.testing.assert_close(features[1, : alone.shape[1]], alone[0], atol=1e-4, rtol=1e-4)

    model.train()
    assert not model.backbone.training
    model.save_pretrained(tmp_path / "heads")
    loaded = load_audio_encoder("wav2vec2", tmp_path / "heads").eval()
    assert loaded.config == model.config
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(loaded.classify(*loaded(wave, lengths))[0],
                                   model.classify(*model(wave, lengths))[0], atol=0.02, rtol=0.02)


def test_wav2vec2_errors(tmp_path):
    with pytest.raises(EmoAnimError, match="needs the folder"):
        load_audio_encoder("wav2vec2")
    with pytest.raises(EmoAnimError, match="no wav2vec2 checkpoint"):
        load_audio_encoder("wav2vec2", tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EmoAnimError, match="could not load"):
        load_audio_encoder("wav2vec2", tmp_path)
