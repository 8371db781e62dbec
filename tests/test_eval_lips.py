"""The lip evaluation per phone class (emoanim.eval.lips) and the real-speech set builder (data.realspeech)."""

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from emoanim.data.realspeech import build_real_set, read_manifest, read_sources
from emoanim.errors import EmoAnimError
from emoanim.eval.lips import LipClip, LipGeometry, evaluate_lips, make_route, markdown_table, score_clip, write_report
from emoanim.vocabulary import PhoneSegment

DATA = Path(__file__).parent / "data"
FPS = 25.0
PHONES = [PhoneSegment("sil", 0.0, 0.2), PhoneSegment("m", 0.2, 0.3), PhoneSegment("aa", 0.3, 0.5),
          PhoneSegment("f", 0.5, 0.6), PhoneSegment("uw", 0.6, 0.75), PhoneSegment("sil", 0.75, 1.0)]


@pytest.fixture(scope="module")
def geometry(arkit_rig):
    return LipGeometry(arkit_rig)


def _hold(rig, **weights) -> np.ndarray:
    """One second (25 frames) holding one pose."""
    p = np.zeros((25, rig.num_params), np.float32)
    for name, w in weights.items():
        p[:, rig.param_index(name)] = w
    return p


def _scores(geometry, params):
    m = geometry(params)
    m["neutral_width"] = geometry.neutral_width
    return {k: (np.mean(v) if v else None) for k, v in score_clip(m, PHONES, FPS).items()}


def test_gap_is_in_mm_and_closure_follows_it(arkit_rig, geometry):
    closed, opened = _hold(arkit_rig), _hold(arkit_rig, jawOpen=0.4)
    assert 0.0 < geometry(closed)["gap"].mean() < 3.0  # a relaxed closed mouth: lips about touching
    assert 8.0 < geometry(opened)["gap"].mean() < 20.0  # jaw 0.4: about a centimetre, not metres or microns
    assert _scores(geometry, closed)["closure"] == 1.0 and _scores(geometry, closed)["open"] == 0.0
    assert _scores(geometry, opened)["closure"] == 0.0 and _scores(geometry, opened)["open"] == 1.0


def test_head_rotation_does_not_change_the_measures(arkit_rig, geometry):
    still = geometry(_hold(arkit_rig, jawOpen=0.3))
    nodding = geometry(_hold(arkit_rig, jawOpen=0.3, headPitch=0.3, headYaw=-0.2))
    for key in ("gap", "width", "tuck"):
        np.testing.assert_allclose(still[key], nodding[key], atol=1e-4)


def test_lip_to_teeth_needs_the_tuck_not_just_a_jaw_drop(arkit_rig, geometry):
    tucked = _hold(arkit_rig, jawOpen=0.07, mouthRollLower=0.65, mouthUpperUpLeft=0.22, mouthUpperUpRight=0.22)
    assert _scores(geometry, tucked)["labiodental"] == 1.0
    assert _scores(geometry, _hold(arkit_rig))["labiodental"] == 0.0
    assert _scores(geometry, _hold(arkit_rig, jawOpen=0.3))["labiodental"] == 0.0  # the jaw alone moves it back


def test_rounding_is_narrower_corners(arkit_rig, geometry):
    assert _scores(geometry, _hold(arkit_rig, mouthPucker=0.78))["rounding"] == 1.0
    assert _scores(geometry, _hold(arkit_rig))["rounding"] == 0.0
    assert _scores(geometry, _hold(arkit_rig, mouthStretchLeft=0.5, mouthStretchRight=0.5))["rounding"] == 0.0


# ---- the set builder on a fake package tree -------------------------------------------------------


def _wav_bytes(seconds: float, rate: int, freq: float = 220.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(buf, 0.3 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _fake_tree(tmp_path: Path, with_codec2: bool = True) -> tuple[Path, Path]:
    root = tmp_path / "root"
    ps = root / "usr/share/pocketsphinx/test/data"
    ps.mkdir(parents=True)
    clip = _wav_bytes(1.2, 16000)
    (ps / "a.wav").write_bytes(clip)
    if with_codec2:
        (root / "usr/share/codec2").mkdir(parents=True)
        (root / "usr/share/codec2/b.wav").write_bytes(_wav_bytes(1.0, 16000, 300.0))
    sounds = root / "usr/share/asterisk/sounds/en_US_f_Allison"
    sounds.mkdir(parents=True)
    texts = {"hello-there": "Hello there, how are you.", "press-one": "Press 1 now please.",
             "goodbye-now": "Goodbye for now then.", "beep": "[a beep]", "tiny": "Say it all.",
             "long-one": "This one is far too long."}
    for name in texts:
        (sounds / f"{name}.wav").write_bytes(_wav_bytes(0.5 if name == "tiny" else 25.0 if name == "long-one" else 1.5,
                                                        8000))
    docs = root / "usr/share/doc/asterisk-core-sounds-en"
    docs.mkdir(parents=True)
    with gzip.open(docs / "core-sounds-en.txt.gz", "wt") as f:
        f.write("; Core Asterisk Sounds in English\n\n" + "".join(f"{k}: {v}\n" for k, v in texts.items()))
    sources = tmp_path / "sources.tsv"
    sha = lambda b: hashlib.sha256(b).hexdigest()
    rows = [
        ["ps_a", "spk_a", "dev", "deb:pocketsphinx-testdata", "1", "usr/share/pocketsphinx/test/data/a.wav", sha(clip),
         "BSD-2", "package", "a test clip"],
        ["c2_b", "spk_b", "dev", "deb:codec2-examples", "1", "usr/share/codec2/b.wav",
         sha(_wav_bytes(1.0, 16000, 300.0)), "LGPL-2.1", "reference", "another clip"],
        ["arctic_x", "spk_c", "test", "sdist:pysptk", "1.0.1", "pysptk-1.0.1/x.wav", "0" * 64, "CMU", "ref", "x"],
    ]
    header = ["id", "speaker", "split", "package", "version", "path", "sha256", "licence", "transcript_source", "transcript"]
    sources.write_text("# comment\n" + "\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    return root, sources


def test_builder_writes_16k_wavs_split_by_speaker(tmp_path):
    root, sources = _fake_tree(tmp_path)
    messages = []
    clips = build_real_set(tmp_path / "out", "all", root=root, sources=sources, asterisk=2, log=messages.append)
    by_id = {c.id: c for c in clips}
    assert set(by_id) == {"ps_a", "c2_b", "ast_goodbye-now", "ast_hello-there"}  # no digits, tones, short or long
    assert any("skipped 1 CMU ARCTIC" in m and "pysptk==1.0.1" in m for m in messages)  # no sdists given
    assert any(m.startswith("[4/4]") for m in messages)  # progress
    rows = {c.id: c for c in read_manifest(tmp_path / "out")}
    assert rows["ast_hello-there"].split == "test" and "8 kHz" in rows["ast_hello-there"].note
    assert rows["ast_hello-there"].transcript == "Hello there, how are you."
    assert rows["ps_a"].split == "dev" and rows["ps_a"].licence == "BSD-2"
    wave, rate = soundfile.read(tmp_path / "out" / "ast_hello-there.wav")
    assert rate == 16000 and wave.ndim == 1 and abs(len(wave) / rate - 1.5) < 0.01
    assert rows["ast_hello-there"].seconds == pytest.approx(1.5, abs=0.01)
    dev_only = build_real_set(tmp_path / "dev", "dev", root=root, sources=sources, log=messages.append)
    assert {c.split for c in dev_only} == {"dev"}


def test_builder_names_the_missing_packages(tmp_path):
    root, sources = _fake_tree(tmp_path, with_codec2=False)
    with pytest.raises(EmoAnimError, match=r"codec2-examples.*apt-get install codec2-examples.*make real-devset"):
        build_real_set(tmp_path / "out", "dev", root=root, sources=sources, log=lambda m: None)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_builder_refuses_a_changed_file(tmp_path):
    root, sources = _fake_tree(tmp_path)
    (root / "usr/share/codec2/b.wav").write_bytes(_wav_bytes(1.0, 16000, 999.0))
    with pytest.raises(EmoAnimError, match="differs.*codec2-examples"):
        build_real_set(tmp_path / "out", "dev", root=root, sources=sources, log=lambda m: None)


def test_shipped_sources_keep_each_speaker_in_one_split(tmp_path):
    sources = read_sources()
    assert {s.split for s in sources} == {"dev", "test"}
    bad = tmp_path / "bad.tsv"
    text = (Path(__file__).parents[1] / "emoanim/data/realspeech_sources.tsv").read_text()
    bad.write_text(text.replace("cards_001\tcmu_cards_reader\ttest", "cards_001\tcmu_cards_reader\tdev"))
    with pytest.raises(EmoAnimError, match="both splits"):
        read_sources(bad)


# ---- end to end on the committed real clip ----------------------------------------------------------


@pytest.mark.slow
def test_lips_on_the_committed_real_clip(tmp_path, arkit_rig):
    from emoanim.audio.io import load_audio
    from emoanim.pipeline import Animator

    animator = Animator.from_pretrained(Path(__file__).parents[1] / "checkpoints", device="cpu")
    clip = LipClip("lv_0870", load_audio(DATA / "librivox_ss01_0870.wav", 16000),
                   (DATA / "librivox_ss01_0870.txt").read_text().strip())
    routes = {"transcript": make_route("transcript", animator.content_encoder)}
    results = evaluate_lips({"real": [clip]}, routes, animator.space, animator.generator, arkit_rig)
    row = results["rows"][0]
    assert row["clips"] == 1 and row["closure"]["n"] >= 5 and row["open"]["n"] >= 5  # "mister", "much", "might", "power", "be", ...
    assert row["closure"]["rate"] >= 0.8  # the lips close on /p b m/
    assert row["open"]["rate"] >= 0.8  # and open on the open vowels
    json_path, md_path = write_report(results, tmp_path)
    assert "| transcript | real | 1 |" in md_path.read_text() and json_path.stat().st_size > 0
    assert markdown_table(results).count("\n") == 5
