"""The corpus format: writing, reading, resuming and refusing bad data."""

import json

import numpy as np
import pytest

from emoanim.data.corpus import ClipInfo, Corpus, CorpusMeta, CorpusWriter, clip_path
from emoanim.vocabulary import PhoneSegment
from emoanim.errors import EmoAnimError


def meta(d=3):
    return CorpusMeta(rig="arkit", names=[f"p{i}" for i in range(d)], fps=25.0, sample_rate=16000, source="test")


def clip(i, split="train", emotion="happy"):
    info = ClipInfo(id=f"c{i:03d}", split=split, emotion=emotion, intensity=2, duration=0.5, num_frames=13,
                    speaker=f"s{i % 2}", text="hi", descriptions=["quite cheerful"])
    audio = np.sin(np.linspace(0, 100, 8000)).astype(np.float32) * 0.5
    params = np.full((13, 3), i, np.float32)
    phones = [PhoneSegment("sil", 0.0, 0.1), PhoneSegment("hh", 0.1, 0.2), PhoneSegment("ay", 0.2, 0.5)]
    return info, audio, params, phones


def test_round_trip(tmp_path):
    writer = CorpusWriter(tmp_path, meta())
    for i in (2, 0, 1):
        writer.add(*clip(i, split="test" if i == 1 else "train"))
    writer.finish()
    corpus = Corpus(tmp_path)
    assert [c.id for c in corpus.clips()] == ["c000", "c001", "c002"]
    assert [c.id for c in corpus.clips("test")] == ["c001"]
    loaded = corpus.load("c002")
    info, audio, params, phones = clip(2)
    np.testing.assert_allclose(loaded.audio, audio, atol=1 / 32767)
    np.testing.assert_array_equal(loaded.params, params)
    assert loaded.phones == phones and loaded.info.descriptions == ["quite cheerful"]
    assert corpus.hours() == pytest.approx(1.5 / 3600)
    with np.load(clip_path(tmp_path, "c002"), allow_pickle=False) as data:  # no pickles inside
        assert data["audio"].dtype == np.int16 and data["phone_labels"].dtype.kind == "U"


def test_resume_and_torn_manifest(tmp_path):
    writer = CorpusWriter(tmp_path, meta())
    writer.add(*clip(0))
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write('{"id": "c001", "spl')  # interrupted append
    again = CorpusWriter(tmp_path, meta())
    assert again.done == {"c000"}
    again.add(*clip(1))
    again.finish(keep=lambda clip_id: clip_id != "c000")
    assert [c.id for c in Corpus(tmp_path).clips()] == ["c001"]
    assert not clip_path(tmp_path, "c000").exists()


def test_bad_data_refused(tmp_path):
    writer = CorpusWriter(tmp_path, meta())
    info, audio, params, phones = clip(0)
    with pytest.raises(EmoAnimError, match="params must be"):
        writer.add(info, audio, params[:, :2], phones)
    params[3, 1] = np.nan
    with pytest.raises(EmoAnimError, match="NaN"):
        writer.add(info, audio, params, phones)
    with pytest.raises(EmoAnimError, match="other settings"):
        CorpusWriter(tmp_path, meta(d=4))
    with pytest.raises(EmoAnimError, match="split"):
        ClipInfo(id="x", split="dev", emotion="happy", intensity=1, duration=1, num_frames=1, speaker="s")
    with pytest.raises(EmoAnimError, match="unknown emotion"):
        ClipInfo(id="x", split="train", emotion="bored", intensity=1, duration=1, num_frames=1, speaker="s")
    with pytest.raises(EmoAnimError, match="not a corpus"):
        Corpus(tmp_path / "nothing")
    (tmp_path / "corpus.json").write_text(json.dumps({"rig": "arkit"}))
    with pytest.raises(EmoAnimError, match="damaged"):
        Corpus(tmp_path)
