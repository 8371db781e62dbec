"""The emotion space: emotion vectors (unit vectors) from every modality, blending, persistence, bad inputs.

Structural tests use a small randomly initialised space; behaviour tests use the shipped
checkpoint (``checkpoints/emotion_space``) on speech and motion synthesised here, with voices and
sentences of the corpus's test split.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from emoanim.binding.adapter import info_nce, with_mean_token
from emoanim.binding.audio_encoder import AudioEncoderConfig
from emoanim.binding.motion_encoder import MotionEncoderConfig
from emoanim.binding.space import LEGACY_KEYS, EmotionSpace, EmotionSpaceConfig
from emoanim.data.clip_set import ClipSet
from emoanim.errors import EmoAnimError
from emoanim.motion import Motion
from emoanim.nn import masked_max_pool
from emoanim.persistence import read_training, upgrade_checkpoint
from emoanim.rigs import rig_param_names
from emoanim.train.binding import TextAdapterTrainConfig, dev_descriptions, fit_text_adapter, text_accuracy
from emoanim.vocabulary import class_label, label_class

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "emotion_space"


def make_tiny_space(text_encoder=None) -> EmotionSpace:
    torch.manual_seed(0)
    config = EmotionSpaceConfig(
        motion_encoder=MotionEncoderConfig(param_names=list(rig_param_names("arkit")), rig="arkit",
                                           d_model=32, layers=1, heads=2, ff=64),
        audio_encoder=AudioEncoderConfig(d_model=32, layers=1, heads=2, ff=64),
        label_dim=16, embed_dim=32, adapter_hidden=32,
    )
    return EmotionSpace(config, text_encoder).eval()


@pytest.fixture(scope="module")
def tiny_space():
    return make_tiny_space()


def motion_params(frames=50, seed=0):
    rng = np.random.default_rng(seed)
    params = np.zeros((frames, len(rig_param_names("arkit"))), np.float32)
    params[:, :52] = rng.uniform(0, 0.3, (frames, 52))
    return params


def speech(seconds=1.5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(3 * t)) * t) * (1 + rng.normal(0, 0.05, len(t)))).astype(np.float32)


def test_every_modality_gives_a_unit_vector(tiny_space):
    for kwargs in (
        {"emotion": "happy", "intensity": 3},
        {"text": "quietly furious"},
        {"audio": speech()},
        {"motion": motion_params()},
        {"motion": Motion(motion_params(), rig_param_names("arkit"), 25.0, "arkit")},
    ):
        z = tiny_space.embed(**kwargs)
        assert z.shape == (32,) and z.dtype == np.float32
        assert np.linalg.norm(z) == pytest.approx(1.0, abs=1e-5)


def test_blend_moves_between_its_parts(tiny_space):
    happy = tiny_space.embed(emotion="happy", intensity=3)
    surprised = tiny_space.embed(emotion="surprised", intensity=3)
    mostly_happy = EmotionSpace.blend([(happy, 0.7), (surprised, 0.3)])
    assert np.linalg.norm(mostly_happy) == pytest.approx(1.0, abs=1e-5)
    assert mostly_happy @ happy > mostly_happy @ surprised
    mostly_surprised = EmotionSpace.blend([(happy, 0.2), (surprised, 0.8)])
    assert mostly_surprised @ surprised > mostly_happy @ surprised
    # Weights of a single part give the part itself.
    np.testing.assert_allclose(EmotionSpace.blend([(happy, 2.0)]), happy, atol=1e-6)
    with pytest.raises(EmoAnimError, match="non-negative"):
        EmotionSpace.blend([(happy, -1.0), (surprised, 1.0)])
    with pytest.raises(EmoAnimError, match="cancel"):
        EmotionSpace.blend([(happy, 1.0), (-happy, 1.0)])


def test_bad_inputs(tiny_space):
    with pytest.raises(EmoAnimError, match="text is empty"):
        tiny_space.embed(text="   ")
    with pytest.raises(EmoAnimError, match="silent"):
        tiny_space.embed(audio=np.zeros(16000, np.float32))
    with pytest.raises(EmoAnimError, match="exactly one"):
        tiny_space.embed(emotion="happy", text="glad")
    with pytest.raises(EmoAnimError, match="exactly one"):
        tiny_space.embed()
    with pytest.raises(EmoAnimError, match="unknown emotion"):
        tiny_space.embed(emotion="hangry")
    with pytest.raises(EmoAnimError, match="intensity"):
        tiny_space.embed(emotion="sad", intensity=5)
    flame_motion = Motion(np.zeros((30, 65), np.float32), rig_param_names("flame", 50), 25.0, "flame")
    with pytest.raises(EmoAnimError, match="'flame' rig"):
        tiny_space.embed(motion=flame_motion)
    with pytest.raises(EmoAnimError, match=r"\[frames, 55\]"):
        tiny_space.embed(motion=np.zeros((30, 10), np.float32))
    bad = motion_params()
    bad[3, 3] = np.nan
    with pytest.raises(EmoAnimError, match="NaN"):
        tiny_space.embed(motion=bad)


def test_save_and_load_fp16(tiny_space, tmp_path):
    tiny_space.save_pretrained(tmp_path, training={"val": {"mean_acc": 0.5}})
    assert all(t.dtype == torch.float16 for t in load_file(str(tmp_path / "model.safetensors")).values())
    # config.json holds the architecture only (nested encoder configs included); results sit beside it.
    config = json.loads((tmp_path / "config.json").read_text())
    assert "metrics" not in config and config["motion_encoder"]["d_model"] == 32
    assert read_training(tmp_path) == {"val": {"mean_acc": 0.5}}
    loaded = EmotionSpace.from_pretrained(tmp_path, text_encoder=tiny_space.text_encoder)
    assert loaded.config == tiny_space.config and isinstance(loaded.config.motion_encoder, MotionEncoderConfig)
    for kwargs in ({"emotion": "angry", "intensity": 2}, {"motion": motion_params()}, {"audio": speech()}):
        np.testing.assert_allclose(loaded.embed(**kwargs), tiny_space.embed(**kwargs), atol=2e-2)
    with pytest.raises(EmoAnimError, match="no emotion space"):
        EmotionSpace.from_pretrained(tmp_path / "missing")


def test_legacy_checkpoint_upgrades_to_identical_weights(tiny_space, tmp_path):
    """An EmoAnim 0.1 space (motion heads named head.* / emotion_head.*, metrics in config.json) loads
    after ``upgrade_checkpoint(folder, LEGACY_KEYS)`` and judges exactly as before."""
    current, legacy = tiny_space.save_pretrained(tmp_path / "current"), tiny_space.save_pretrained(tmp_path / "legacy")
    old_prefix = {new: old for old, new in LEGACY_KEYS.items()}
    state = {}
    for name, value in load_file(str(legacy / "model.safetensors")).items():
        new = next((p for p in old_prefix if name.startswith(p)), None)
        state[old_prefix[new] + name[len(new):] if new else name] = value
    assert any(k.startswith("motion_encoder.emotion_head.") for k in state)
    save_file(state, str(legacy / "model.safetensors"))
    config = json.loads((legacy / "config.json").read_text())
    (legacy / "config.json").write_text(json.dumps({**config, "metrics": {"val": 1}}))
    with pytest.raises(EmoAnimError, match="unknown emotion space settings: metrics"):
        EmotionSpace.from_pretrained(legacy)

    assert upgrade_checkpoint(legacy, renames=LEGACY_KEYS)
    assert read_training(legacy) == {"val": 1} and "metrics" not in json.loads((legacy / "config.json").read_text())
    params = torch.from_numpy(motion_params())[None]
    want = EmotionSpace.from_pretrained(current).motion_encoder.predict(params)
    got = EmotionSpace.from_pretrained(legacy).motion_encoder.predict(params)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_labels_and_losses():
    assert class_label(label_class("fear", 2)) == ("fearful", 2)
    assert label_class("neutral", 3) == label_class("neutral", 1)  # neutral has one level
    x = torch.tensor([[[1.0], [5.0], [9.0]]])
    assert masked_max_pool(x, torch.tensor([[True, True, False]])).item() == 5.0
    z = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    scale = torch.tensor(np.log(10.0))
    aligned = info_nce(z, z, labels, scale)
    assert aligned < info_nce(z, z[torch.tensor([2, 3, 4, 5, 0, 1])], labels, scale)
    tokens, mask = with_mean_token(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[True, True, False]]))
    assert tokens[0, :, 0].tolist() == [1.0, 3.0, 100.0, 2.0] and mask.tolist() == [[True, True, False, True]]


def test_text_adapter_retraining_changes_only_the_text_adapter(tiny_space):
    """``train text-adapter``: a fresh, dev-selected text adapter; every other weight stays bit for bit."""
    space = make_tiny_space(tiny_space.text_encoder)
    space.config.text_sentence_token = True
    before = {k: v.clone() for k, v in space.state_dict().items()}
    classes = [label_class("happy", 3), label_class("sad", 3)]
    train = ClipSet(
        params=[motion_params(60, seed) for seed in range(8)], audio=[np.zeros(16000, np.int16)] * 8,
        emotion=np.array([1, 2] * 4), intensity=np.full(8, 2), label=np.array(classes * 4),
        descriptions=[["extremely happy"], ["utterly miserable"]] * 4, fps=25.0,
    )
    config = TextAdapterTrainConfig(space=Path("unused"), corpus=Path("unused"), out=Path("unused"), epochs=2,
                                    batch_size=4, dev_per_class=2, log=lambda line: None)
    result = fit_text_adapter(space, train, config)
    # The adapter kept is the selected epoch's: re-measuring it on the dev phrasings gives its score.
    assert result["epoch"] in (1, 2)
    assert text_accuracy(space, *dev_descriptions(config.dev_per_class, config.seed)) == result["dev_text_acc"]
    after = space.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("adapters.text.") for k in changed), changed
    z = space.embed(text="quietly furious")  # with the sentence step, still a unit vector
    assert np.linalg.norm(z) == pytest.approx(1.0, abs=1e-5)


@pytest.fixture(scope="module")
def shipped():
    return EmotionSpace.from_pretrained(CHECKPOINT)


def synthesized_clip(emotion, intensity, seed=0):
    """Speech of a held-out (test-split) voice and a test-split sentence, with its rule-based motion."""
    from emoanim.data.facial import synthesize_motion
    from emoanim.data.synth import split_voices
    from emoanim.data.tts import emotion_prosody, list_voices, synthesize

    voice = next(v for v in split_voices(list_voices(), 0)["test"] if v.engine == "espeak")
    rng = np.random.default_rng(seed)
    text = "Maybe we should move the blue boat before the storm arrives tomorrow."
    clip = synthesize(text, voice, emotion_prosody(emotion, intensity, rng), 16000, rng)
    params = synthesize_motion(clip.phones, clip.audio, 16000, emotion, intensity, rng)
    return clip.audio, params


def test_shipped_space_modalities_agree_on_clear_cases(shipped):
    for emotion, text in (("happy", "absolutely thrilled"), ("angry", "really furious"), ("sad", "deeply sorrowful")):
        label = shipped.embed(emotion=emotion, intensity=3)
        assert shipped.classify(label)[0] == emotion
        assert shipped.classify(shipped.embed(text=text))[0] == emotion, text
        audio, params = synthesized_clip(emotion, 3)
        z_motion = shipped.embed(motion=params)
        assert shipped.classify(z_motion)[0] == emotion
        # Matching label and motion are closer than the label and a motion of another emotion.
        other = "sad" if emotion != "sad" else "happy"
        assert label @ z_motion > label @ shipped.embed(motion=synthesized_clip(other, 3)[1])
        assert np.linalg.norm(shipped.embed(audio=audio)) == pytest.approx(1.0, abs=1e-5)


def test_shipped_blend_of_label_and_text(shipped):
    happy = shipped.embed(emotion="happy", intensity=2)
    surprised = shipped.embed(text="completely astonished")
    mix = EmotionSpace.blend([(happy, 0.5), (surprised, 0.5)])
    assert min(mix @ happy, mix @ surprised) > happy @ surprised
