"""Real-dataset importers on tiny generated fixtures: 3D-ETF-style ARKit data and MEAD FLAME fits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emoanim.audio import save_wav
from emoanim.data.corpus import Corpus
from emoanim.data.loaders import (
    EMOTALK_BLENDSHAPES,
    assign_splits,
    import_arkit_dataset,
    import_mead_flame,
    load_arkit_coefficients,
    load_flame_clip,
    parse_ravdess_name,
)
from emoanim.data.loaders import common
from emoanim.data.loaders.common import ClipError
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import PhoneSegment
from emoanim.motion import Motion, export_csv
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS
from emoanim.rigs.flame import flame_param_names

SR = 16000


def write_wav(path, seconds, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sr))) / sr
    save_wav(path, 0.3 * np.sin(2 * np.pi * 220 * t), sr)


def etf_coeffs(seconds, fps=30.0, seed=0):
    """[ceil(seconds * fps), 52] like EmoTalk: column j holds j / 100 plus a little noise."""
    frames = math.ceil(seconds * fps)
    rng = np.random.default_rng(seed)
    return (np.arange(52) / 100.0 + 0.001 * rng.standard_normal((frames, 52))).astype(np.float32)


def write_clip(root, dataset, stem, seconds=0.6, coeffs=None, audio_ext=".wav"):
    write_wav(root / dataset / "audio" / f"{stem}{audio_ext}", seconds)
    (root / dataset / "blendshape").mkdir(parents=True, exist_ok=True)
    np.save(root / dataset / "blendshape" / f"{stem}.npy", etf_coeffs(seconds) if coeffs is None else coeffs)


@pytest.fixture
def etf(tmp_path):
    """Five RAVDESS actors with two clips each, and two HDTF people (one with two videos)."""
    root = tmp_path / "3D-ETF"
    for actor in range(1, 6):
        write_clip(root, "RAVDESS", f"01-01-06-02-01-01-{actor:02d}")  # fearful, strong
        write_clip(root, "RAVDESS", f"01-01-02-01-02-02-{actor:02d}", seconds=0.5)  # calm -> neutral
    write_clip(root, "HDTF", "WDA_AliceSmith_000", seconds=0.7)
    write_clip(root, "HDTF", "WDA_AliceSmith_001", seconds=0.4)
    write_clip(root, "HDTF", "WRA_BobJones_000", seconds=0.5)
    return root


# --------------------------------------------------------------------------------------------
# Names and labels
# --------------------------------------------------------------------------------------------


def test_ravdess_names():
    name = parse_ravdess_name("03-01-06-01-02-01-12")
    assert (name.emotion, name.intensity, name.actor, name.speaker) == ("fearful", 2, 12, "ravdess-12")
    assert name.text == "Dogs are sitting by the door"
    assert parse_ravdess_name("01-01-05-02-01-02-03").intensity == 3  # strong -> 3
    calm = parse_ravdess_name("03-01-02-02-01-01-01")
    assert (calm.emotion, calm.intensity, calm.raw_emotion) == ("neutral", 1, "calm")
    assert parse_ravdess_name("03-01-07-01-01-01-01").emotion == "disgusted"
    assert parse_ravdess_name("03-01-08-01-01-01-01").emotion == "surprised"
    assert parse_ravdess_name("WDA_BarackObama_000") is None
    with pytest.raises(ClipError, match="emotion"):
        parse_ravdess_name("03-01-09-01-01-01-01")


def test_emotalk_order_is_arkit():
    assert EMOTALK_BLENDSHAPES == ARKIT_ACTIONS and len(EMOTALK_BLENDSHAPES) == 52


def test_split_by_speaker_hash_and_given():
    speakers = {f"ravdess-{i:02d}": "ravdess" for i in range(1, 25)} | {f"hdtf-p{i}": "hdtf" for i in range(10)}
    split = assign_splits(speakers)
    assert split == assign_splits(dict(reversed(speakers.items())))  # deterministic
    for group in ("ravdess", "hdtf"):  # every source has val and test speakers
        assert {split[s] for s, g in speakers.items() if g == group} == {"train", "val", "test"}
    given = assign_splits(speakers, test_speakers=["01", "ravdess-02"], val_speakers=["hdtf-p3"])
    assert given["ravdess-01"] == given["ravdess-02"] == "test" and given["hdtf-p3"] == "val"
    assert sum(v == "test" for v in given.values()) == 2
    with pytest.raises(EmoAnimError, match="not in the data"):
        assign_splits(speakers, test_speakers=["ravdess-99"])


# --------------------------------------------------------------------------------------------
# ARKit / 3D-ETF
# --------------------------------------------------------------------------------------------


def test_import_etf(etf, tmp_path):
    out = tmp_path / "corpus"
    report = import_arkit_dataset(etf, out, fps=25, align=False)
    assert report.imported == 13 and not report.skipped
    corpus = Corpus(out)
    assert corpus.meta.rig == "arkit" and corpus.meta.names == list(ARKIT_PARAMS)
    assert corpus.meta.fps == 25 and corpus.meta.sample_rate == SR and corpus.meta.source == "3d-etf"
    infos = {c.id: c for c in corpus.clips()}
    fear = infos["ravdess-01-01-06-02-01-01-03"]
    assert (fear.emotion, fear.intensity, fear.speaker) == ("fearful", 3, "ravdess-03")
    assert fear.text == "Kids are talking by the door"
    calm = infos["ravdess-01-01-02-01-02-02-03"]
    assert (calm.emotion, calm.intensity, calm.extra["ravdess_emotion"]) == ("neutral", 1, "calm")
    alice = infos["hdtf-WDA_AliceSmith_001"]
    assert (alice.emotion, alice.intensity, alice.speaker) == ("neutral", 1, "hdtf-WDA_AliceSmith")
    for info in corpus.clips():
        clip = corpus.load(info.id)
        assert clip.params.shape == (info.num_frames, 55) and clip.phones == []
        assert abs(info.num_frames / 25 - len(clip.audio) / SR) <= 1 / 25  # one frame of the audio
        assert len(clip.audio) == pytest.approx(info.duration * SR)
        np.testing.assert_allclose(clip.params[:, :52].mean(0), np.arange(52) / 100, atol=0.003)
        assert not clip.params[:, 52:].any()  # head absent -> 0
    by_split = {s: {c.speaker for c in corpus.clips(s)} for s in ("train", "val", "test")}
    assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"]
                or by_split["val"] & by_split["test"])
    assert sum(report.clips.values()) == 13 and sum(report.hours.values()) == pytest.approx(corpus.hours())
    assert "imported 13" in report.summary()

    again = import_arkit_dataset(etf, out, fps=25, align=False)  # resumes: nothing new to do
    assert again.imported == 0 and again.already_present == 13


def test_given_test_actors(etf, tmp_path):
    report = import_arkit_dataset(etf, tmp_path / "c", test_speakers=["01", "02"], val_speakers=["hdtf-WRA_BobJones"],
                                  align=False)
    assert report.speakers["test"] == ["ravdess-01", "ravdess-02"]
    assert report.speakers["val"] == ["hdtf-WRA_BobJones"]
    again = import_arkit_dataset(etf, tmp_path / "c", test_speakers=["03"], align=False)  # a resumed run
    assert again.speakers == report.speakers and any("keep their split" in n for n in again.notes)


def test_resampling_keeps_the_curve(tmp_path):
    seconds = 1.0
    coeffs = np.zeros((30, 52), np.float32)
    coeffs[:, ARKIT_ACTIONS.index("jawOpen")] = np.arange(30) / 30.0  # a ramp over time
    write_clip(tmp_path / "src", "RAVDESS", "03-01-03-01-01-01-07", seconds, coeffs)
    import_arkit_dataset(tmp_path / "src", tmp_path / "out", fps=25, align=False)
    clip = next(iter(Corpus(tmp_path / "out")))
    assert clip.params.shape == (25, 55)
    np.testing.assert_allclose(clip.params[:, ARKIT_PARAMS.index("jawOpen")], np.arange(25) / 25.0, atol=1e-5)


def test_column_order_from_names_file(tmp_path):
    src = tmp_path / "src"
    order = list(reversed(ARKIT_ACTIONS)) + ["headYaw", "EyeYawLeft"]  # the last one is unknown
    values = np.tile(np.array([ARKIT_ACTIONS.index(n) / 100 for n in order[:52]] + [0.25, 9.0], np.float32), (18, 1))
    write_clip(src, "HDTF", "WDA_X_000", 0.6, values)
    names_file = tmp_path / "names.txt"
    names_file.write_text("# my tracker's columns\n" + "\n".join(order[:53]) + "\n-\n")
    import_arkit_dataset(src, tmp_path / "out", names_file=names_file, align=False)
    clip = next(iter(Corpus(tmp_path / "out")))
    np.testing.assert_allclose(clip.params[0, :52], np.arange(52) / 100, atol=1e-6)
    assert clip.params[0, ARKIT_PARAMS.index("headYaw")] == pytest.approx(0.25)
    assert clip.params[0, ARKIT_PARAMS.index("headPitch")] == 0.0
    names_file.write_text("\n".join(order))  # EyeYawLeft is no ARKit name
    with pytest.raises(EmoAnimError, match="EyeYawLeft"):
        import_arkit_dataset(src, tmp_path / "out2", names_file=names_file, align=False)


def test_llf_csv_source_and_modality_pairing(tmp_path):
    src = tmp_path / "src"
    rng = np.random.default_rng(1)
    params = rng.uniform(0, 1, (36, 55)).astype(np.float32)
    params[:, 52:] = 0.1
    motion = Motion(params, ARKIT_PARAMS, 30.0, "arkit")
    (src / "motion").mkdir(parents=True)
    export_csv(motion, src / "motion" / "01-01-04-01-01-01-09.csv")  # video-modality name ...
    write_wav(src / "audio" / "03-01-04-01-01-01-09.wav", 1.2)  # ... pairs with the audio-only file
    report = import_arkit_dataset(src, tmp_path / "out", align=False)
    assert report.imported == 1
    clip = next(iter(Corpus(tmp_path / "out")))
    assert (clip.info.emotion, clip.info.intensity, clip.params.shape) == ("sad", 2, (30, 55))
    np.testing.assert_allclose(clip.params, motion.resample(25).params, atol=1e-5)


def test_bad_clips_skipped_or_raised(etf, tmp_path):
    nan = etf_coeffs(0.6)
    nan[3, 7] = np.nan
    write_clip(etf, "HDTF", "WDA_Nan_000", 0.6, nan)
    write_clip(etf, "HDTF", "WDA_Narrow_000", 0.6, etf_coeffs(0.6)[:, :51])
    write_clip(etf, "HDTF", "WDA_Long_000", 0.6, etf_coeffs(1.5))  # motion 1.5 s, audio 0.6 s
    np.save(etf / "HDTF" / "blendshape" / "WDA_Pickle_000.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    write_wav(etf / "HDTF" / "audio" / "WDA_Pickle_000.wav", 0.5)
    np.save(etf / "HDTF" / "blendshape" / "WDA_NoAudio_000.npy", etf_coeffs(0.5))
    report = import_arkit_dataset(etf, tmp_path / "out", align=False)
    assert report.imported == 13
    assert report.skipped_by_kind() == {"NaN/inf": 1, "wrong coefficient count": 1, "length mismatch": 1,
                                        "unreadable": 1, "no audio": 1}
    text = report.summary()
    assert "frame 3, column 7" in text and "51 columns" in text and "pickled" in text
    with pytest.raises(EmoAnimError, match="NaN"):
        load_arkit_coefficients(etf / "HDTF" / "blendshape" / "WDA_Nan_000.npy")
    with pytest.raises(EmoAnimError):
        import_arkit_dataset(etf, tmp_path / "strict", strict=True, align=False)


def test_wrong_or_empty_folders(tmp_path):
    with pytest.raises(EmoAnimError, match="not found"):
        import_arkit_dataset(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmoAnimError, match="no blendshape files"):
        import_arkit_dataset(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(EmoAnimError, match="no actor folders"):
        import_mead_flame(tmp_path / "empty", tmp_path / "out")
    write_clip(tmp_path / "bad", "HDTF", "WDA_X_000", 0.5, etf_coeffs(0.5)[:, :40])
    with pytest.raises(EmoAnimError, match="no clip .* could be imported"):
        import_arkit_dataset(tmp_path / "bad", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing importable: no half corpus left behind


def test_song_filter_and_foreign_corpus(etf, tmp_path):
    write_clip(etf, "RAVDESS", "01-02-03-01-01-01-01")  # sung
    report = import_arkit_dataset(etf, tmp_path / "out", align=False)
    assert report.imported == 13 and any("song" in note for note in report.notes)
    report = import_arkit_dataset(etf, tmp_path / "out", align=False, include_song=True)
    assert report.imported == 1 and report.already_present == 13
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "corpus.json").write_text(
        '{"rig": "arkit", "names": [], "fps": 25.0, "sample_rate": 16000, "source": "synthetic"}'
    )
    with pytest.raises(EmoAnimError, match="synthetic"):
        import_arkit_dataset(etf, tmp_path / "synth", align=False)


def test_optional_alignment_is_fail_safe(etf, tmp_path, monkeypatch):
    def align_phones(audio, sr, text):
        if "Dogs" in text:
            raise RuntimeError("aligner broke")
        return [PhoneSegment("sil", 0.0, 0.1), PhoneSegment("k", 0.1, 0.2)]

    monkeypatch.setattr(common, "align_phones", align_phones)
    report = import_arkit_dataset(etf, tmp_path / "out")
    corpus = Corpus(tmp_path / "out")
    kids = corpus.load("ravdess-01-01-06-02-01-01-01")  # statement 01: aligned
    dogs = corpus.load("ravdess-01-01-02-01-02-02-01")  # statement 02: aligner failed -> no phones
    hdtf = corpus.load("hdtf-WRA_BobJones_000")  # no transcript -> no phones
    assert [p.phone for p in kids.phones] == ["sil", "k"] and dogs.phones == [] and hdtf.phones == []
    assert any("alignment failed for 5" in note for note in report.notes)


# --------------------------------------------------------------------------------------------
# MEAD / FLAME
# --------------------------------------------------------------------------------------------


def flame_arrays(frames, seed=0, exp_dim=50):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (frames, exp_dim)).astype(np.float32), rng.normal(0, 0.1, (frames, 3)).astype(np.float32)


@pytest.fixture
def mead(tmp_path):
    """Three actors in the different documented motion forms, plus a side view and a bad emotion folder."""
    root = tmp_path / "MEAD"

    def audio(actor, emotion, level, stem, seconds):
        write_wav(root / actor / "audio" / emotion / f"level_{level}" / f"{stem}.wav", seconds)
        folder = root / actor / "flame" / "front" / emotion / f"level_{level}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder, math.ceil(seconds * 30)

    folder, t = audio("M003", "angry", 3, "001", 0.6)  # npz, long key names
    exp, jaw = flame_arrays(t, 1)
    np.savez(folder / "001.npz", expression_params=exp, jaw_pose=jaw, neck_pose=np.full((t, 3), 0.05, np.float32))
    folder, t = audio("M003", "neutral", 1, "002", 0.5)  # npz, EMOCA posecode + fps key
    exp, jaw = flame_arrays(t, 2)
    np.savez(folder / "002.npz", exp=exp, pose=np.concatenate([np.full((t, 3), 0.2), jaw], 1), fps=np.array(30.0))
    folder, t = audio("W009", "fear", 2, "001", 0.5)  # per-frame EMOCA folders
    exp, jaw = flame_arrays(t, 3)
    for i in range(t):
        frame = folder / "001" / f"{i + 1:06d}_000"
        frame.mkdir(parents=True)
        np.save(frame / "exp.npy", exp[i : i + 1])
        np.save(frame / "pose.npy", np.concatenate([np.zeros(3), jaw[i]])[None])
        np.save(frame / "shape.npy", np.zeros((1, 100)))
    folder, t = audio("W011", "contempt", 2, "003", 0.4)  # bare [T, 53] .npy
    exp, jaw = flame_arrays(t, 4)
    np.save(folder / "003.npy", np.concatenate([exp, jaw], 1))
    folder, t = audio("W011", "happy", 1, "004", 0.4)  # folder of named .npy arrays
    exp, jaw = flame_arrays(t, 5)
    (folder / "004").mkdir()
    np.save(folder / "004" / "exp.npy", exp)
    np.save(folder / "004" / "jaw.npy", jaw)
    side = root / "M003" / "flame" / "left_30" / "angry" / "level_3"  # another camera view: left out
    side.mkdir(parents=True)
    np.savez(side / "001.npz", exp=flame_arrays(18)[0], jaw=flame_arrays(18)[1])
    return root


def test_import_mead(mead, tmp_path):
    out = tmp_path / "corpus"
    report = import_mead_flame(mead, out, num_expressions=50, fps=25, test_speakers=["W009"], val_speakers=["W011"])
    assert report.imported == 5 and not report.skipped
    assert any("left_30" in note for note in report.notes)
    corpus = Corpus(out)
    names = flame_param_names(50)
    assert corpus.meta.rig == "flame" and corpus.meta.names == list(names) and corpus.meta.source == "mead-flame"
    infos = {c.id: c for c in corpus.clips()}
    assert set(infos) == {"M003-angry-level3-001", "M003-neutral-level1-002", "W009-fearful-level2-001",
                          "W011-contemptuous-level2-003", "W011-happy-level1-004"}
    angry = infos["M003-angry-level3-001"]
    assert (angry.emotion, angry.intensity, angry.speaker, angry.split) == ("angry", 3, "M003", "train")
    assert infos["W009-fearful-level2-001"].split == "test" and infos["W011-happy-level1-004"].split == "val"
    for info in corpus.clips():
        clip = corpus.load(info.id)
        assert clip.params.shape == (info.num_frames, 65)
        assert abs(info.num_frames / 25 - len(clip.audio) / SR) <= 1 / 25
        assert np.abs(clip.params[:, names.index("jaw_rx")]).max() > 0  # the jaw came through
    angry = corpus.load("M003-angry-level3-001").params
    np.testing.assert_allclose(angry[:, names.index("neck_ry")], 0.05, atol=1e-6)
    neutral = corpus.load("M003-neutral-level1-002").params
    np.testing.assert_allclose(neutral[:, names.index("global_rx")], 0.2, atol=1e-6)  # posecode[:, :3]
    assert not neutral[:, names.index("neck_rx")].any()


def test_flame_clip_reading(mead):
    folder = mead / "W009" / "flame" / "front" / "fear" / "level_2" / "001"
    motion = load_flame_clip(folder)
    exp = np.stack([np.load(folder / f"{i + 1:06d}_000" / "exp.npy")[0] for i in range(15)])
    np.testing.assert_allclose(motion.params[:, :50], exp, atol=1e-6)
    assert motion.fps == 30 and motion.rig == "flame"
    with pytest.raises(EmoAnimError, match="num_expressions=100"):
        load_flame_clip(folder, num_expressions=100)


def test_mead_bad_clips(mead, tmp_path):
    bad = mead / "M003" / "flame" / "front" / "bored" / "level_1"  # not a MEAD emotion
    bad.mkdir(parents=True)
    np.savez(bad / "001.npz", exp=flame_arrays(15)[0], jaw=flame_arrays(15)[1])
    write_wav(mead / "M003" / "audio" / "bored" / "level_1" / "001.wav", 0.5)
    nan_folder = mead / "W011" / "flame" / "front" / "sad" / "level_3"
    nan_folder.mkdir(parents=True)
    exp, jaw = flame_arrays(15)
    exp[2, 0] = np.nan
    np.savez(nan_folder / "005.npz", exp=exp, jaw=jaw)
    write_wav(mead / "W011" / "audio" / "sad" / "level_3" / "005.wav", 0.5)
    np.savez(nan_folder / "006.npz", exp=flame_arrays(15)[0][:, :40], jaw=jaw)  # wrong count
    write_wav(mead / "W011" / "audio" / "sad" / "level_3" / "006.wav", 0.5)
    np.savez(nan_folder / "007.npz", exp=flame_arrays(15)[0])  # no jaw
    write_wav(mead / "W011" / "audio" / "sad" / "level_3" / "007.wav", 0.5)
    np.savez(nan_folder / "008.npz", exp=flame_arrays(15)[0], jaw=jaw)  # no audio
    np.savez(mead / "W011" / "flame" / "front" / "sad" / "009.npz", exp=exp, jaw=jaw)  # no level folder
    report = import_mead_flame(mead, tmp_path / "out")
    assert report.imported == 5
    assert report.skipped_by_kind() == {"unknown emotion": 1, "NaN/inf": 1, "wrong coefficient count": 1,
                                        "no jaw": 1, "no audio": 1, "bad path": 1}
    with pytest.raises(EmoAnimError, match="bored"):
        import_mead_flame(mead, tmp_path / "strict", strict=True)
