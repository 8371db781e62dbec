"""The synthetic corpus builder: deterministic, resumable, split by voice and by sentence."""

import hashlib

import numpy as np
import pytest

from emoanim.data.corpus import Corpus, clip_path
from emoanim.data.synth import SynthConfig, build_corpus
from emoanim.data.tts import list_voices

pytestmark = pytest.mark.skipif(
    not {"espeak", "flite", "festival"} <= {v.engine for v in list_voices()},
    reason="needs espeak-ng, flite and festival (make setup)",
)
HOURS = 0.006  # ~22 s of speech: a handful of clips


def digest(root):
    corpus = Corpus(root)
    h = hashlib.sha256((root / "manifest.jsonl").read_bytes())
    for info in corpus.clips():
        h.update(clip_path(root, info.id).read_bytes())
    return h.hexdigest(), corpus


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("one_worker")
    build_corpus(SynthConfig(out=root, hours=HOURS, seed=3, workers=1), log=quiet)
    return root


def test_corpus_content(built):
    _, corpus = digest(built)
    assert corpus.hours() >= HOURS and len(corpus) >= 3
    names = corpus.meta.names
    for clip in corpus:
        info = clip.info
        assert clip.params.shape == (info.num_frames, len(names))
        assert info.num_frames == int(np.ceil(info.duration * corpus.meta.fps - 1e-6))
        assert abs(len(clip.audio) / corpus.meta.sample_rate - info.duration) < 1e-6
        assert np.abs(clip.audio).max() > 0.05  # real speech, not silence
        assert clip.phones[0].start == 0.0 and clip.phones[-1].end == pytest.approx(info.duration, abs=0.02)
        assert all(a.end == pytest.approx(b.start, abs=1e-6) for a, b in zip(clip.phones, clip.phones[1:]))
        assert len(info.descriptions) == 4 and info.text
        # Lips are closed in the middle of /p b m/: mouthClose tracks jawOpen there.
        jaw, close = names.index("jawOpen"), names.index("mouthClose")
        for phone in clip.phones:
            if phone.phone in ("p", "b", "m") and phone.duration > 0.05:
                frame = min(int((phone.start + phone.end) / 2 * corpus.meta.fps), info.num_frames - 1)
                assert clip.params[frame, close] >= 0.8 * clip.params[frame, jaw]


def test_deterministic_across_workers_and_resumable(built, tmp_path):
    two = tmp_path / "two_workers"
    build_corpus(SynthConfig(out=two, hours=HOURS, seed=3, workers=2), log=quiet)
    assert digest(two)[0] == digest(built)[0]
    # Interrupted half way: a build to half the hours, then resumed to the full amount.
    resumed = tmp_path / "resumed"
    build_corpus(SynthConfig(out=resumed, hours=HOURS / 2, seed=3, workers=2), log=quiet)
    summary = build_corpus(SynthConfig(out=resumed, hours=HOURS, seed=3, workers=2), log=quiet)
    assert 0 < summary["new"] < summary["clips"]
    assert digest(resumed)[0] == digest(built)[0]
    other_seed = tmp_path / "seed4"
    build_corpus(SynthConfig(out=other_seed, hours=HOURS, seed=4, workers=1), log=quiet)
    assert digest(other_seed)[0] != digest(built)[0]


def test_splits_hold_out_voices_and_sentences(tmp_path):
    root = tmp_path / "bigger"
    build_corpus(SynthConfig(out=root, hours=0.05, seed=0, workers=2), log=quiet)
    corpus = Corpus(root)
    by_split = {split: corpus.clips(split) for split in ("train", "val", "test")}
    assert all(by_split.values())
    voices = {s: {c.speaker for c in clips} for s, clips in by_split.items()}
    texts = {s: {c.text for c in clips} for s, clips in by_split.items()}
    assert not voices["test"] & voices["train"] and not voices["val"] & voices["train"]
    assert not texts["test"] & texts["train"]
    engines = {c.extra["engine"] for c in corpus.clips()}
    assert engines == {"espeak", "flite", "festival"}
    # Test descriptions come from the held-out phrasing pool.
    from emoanim.data.descriptions import description_pool

    for c in by_split["test"]:
        assert set(c.descriptions) <= set(description_pool(c.emotion, c.intensity, "heldout"))


def test_corpus_motion_checks_on_real_synthesis(built):
    from emoanim.eval.corpus import corpus_motion_checks

    checks = corpus_motion_checks(Corpus(built), every=1)
    assert checks["lip_gap_mm_bilabial"]["n"] >= 3 and checks["lip_gap_mm_bilabial"]["median"] < 2.0
    if checks["lip_gap_mm_open_vowel"]["n"]:
        assert checks["lip_gap_mm_open_vowel"]["median"] > 6.0


def test_redraws_keep_what_the_conditions_fix_and_redraw_the_rest(built):
    """A redraw of a clip's motion (the evaluation's perfect-sampler bound) keeps its speech: lips sealed
    on /p b m/ in every draw; seeds change the free parts (blinks, expression, head)."""
    from emoanim.eval.corpus import redraw_motion
    from emoanim.rigs.arkit import ARKIT_PARAMS

    corpus = Corpus(built)
    info = max(corpus.clips(), key=lambda c: c.duration)
    clip = corpus.load(info.id)
    a, b = redraw_motion(corpus, info.id, 0), redraw_motion(corpus, info.id, 1)
    assert a.shape == b.shape == clip.params.shape
    assert np.array_equal(a, redraw_motion(corpus, info.id, 0))  # a seed fixes the draw
    assert not np.allclose(a, b) and not np.allclose(a, clip.params)
    close, jaw = ARKIT_PARAMS.index("mouthClose"), ARKIT_PARAMS.index("jawOpen")
    bilabial = [p for p in clip.phones if p.phone in ("p", "b", "m") and p.duration > 0.05]
    assert bilabial
    for p in bilabial:  # mouthClose cancels jawOpen at the centre of every /p b m/, in every draw
        f = min(int((p.start + p.end) / 2 * corpus.meta.fps), len(a) - 1)
        for d in (a, b, clip.params):
            assert d[f, close] >= d[f, jaw] - 0.02
