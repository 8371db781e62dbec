"""Text side of the synthetic corpus: generated sentences and emotion descriptions (fast, no GPU)."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter

import numpy as np
import pytest

from emoanim.data import descriptions as D
from emoanim.data import sentences as S
from emoanim.vocabulary import EMOTIONS, INTENSITIES
from emoanim.vocabulary import ARPABET
from emoanim.errors import EmoAnimError

N_SENTENCES = 20_000


@pytest.fixture(scope="module")
def texts() -> list[str]:
    gen = S.SentenceGenerator(0)
    return [gen.sentence(i).text for i in range(N_SENTENCES)]


def contains(item: str, text: str) -> bool:
    """Whole-word (or whole-phrase) match, so 'mad' is not found in 'made'."""
    return re.search(r"(?<![\w'-])" + re.escape(item.lower()) + r"(?![\w'-])", text.lower()) is not None


# ----------------------------------------------------------------------------------------- sentences


def test_sentences_are_deterministic_per_seed_and_index():
    a, b = S.SentenceGenerator(7), S.SentenceGenerator(7)
    forward = [a.sentence(i) for i in range(50)]
    backward = [b.sentence(i) for i in reversed(range(50))][::-1]
    assert forward == backward  # no hidden state: order of calls does not matter
    assert forward[3] == S.Sentence("gen7-0000003", forward[3].text)
    other = [S.SentenceGenerator(8).sentence(i).text for i in range(50)]
    assert sum(x.text == y for x, y in zip(forward, other)) == 0
    with pytest.raises(ValueError):
        a.sentence(-1)


def test_sentences_are_unique(texts):
    repeated = [t for t, n in Counter(texts).items() if n > 1]
    assert not repeated, repeated[:5]


def test_sentence_lengths(texts):
    counts = [len(S.words_of(t)) for t in texts]
    assert min(counts) >= S.MIN_WORDS and max(counts) <= S.MAX_WORDS
    assert 7 <= statistics.mean(counts) <= 12
    assert statistics.pstdev(counts) >= 1.8
    assert sum(c <= 6 for c in counts) / len(counts) > 0.05  # short ones exist ...
    assert sum(c >= 12 for c in counts) / len(counts) > 0.05  # ... and long ones
    seconds = [S.estimated_seconds(t) for t in texts]
    assert S.MIN_SECONDS <= min(seconds) and max(seconds) <= S.MAX_SECONDS


def test_sentences_are_well_formed_and_varied(texts):
    for t in texts[:5000]:
        assert not re.search(r"[{}\[\]]|\s[,.?!]|\s\s", t), t
        assert t[0].isupper() and t[-1] in ".?!", t
    share = lambda pred: sum(map(pred, texts)) / len(texts)
    assert share(lambda t: t.endswith("?")) > 0.1
    assert share(lambda t: t.endswith("!")) > 0.03
    assert share(lambda t: "," in t) > 0.1
    assert share(lambda t: re.match(r"(When|If|Although) |.* (because|before|after|while) ", t) is not None) > 0.1


def test_vocabulary_is_sizeable_and_tables_clean():
    vocab = S.vocabulary()
    assert len(vocab) >= 800
    assert len(S.NAMES) >= 100 and len(S.CITIES) >= 30
    for table in (S.NAMES, S.CITIES, S.RELATIVES, S.MANNER_ADVERBS):
        assert len(set(table)) == len(table)
    for cat in S.CATEGORIES.values():
        for table in (cat.nouns, cat.adjectives, cat.masses, cat.verbs):
            assert len(set(table)) == len(table) and (table or table is cat.masses)
        assert len(cat.adjectives) >= 2  # compound slots draw two different adjectives


def test_generated_words_are_in_vocabulary_and_pronounceable(texts):
    used = {w for t in texts for w in S.words_of(t)}
    assert used <= S.vocabulary(), sorted(used - S.vocabulary())
    if S.cmudict() is None:
        pytest.skip("pocketsphinx's CMUdict not installed")
    assert not S.missing_words(S.vocabulary())
    assert not S.missing_words(S.SHOWCASE_TEXTS)


def test_grammar_helpers():
    assert [S.plural(n) for n in ("boat", "box", "berry", "knife", "post office", "sheep")] == [
        "boats", "boxes", "berries", "knives", "post offices", "sheep"]  # fmt: skip
    assert [S.third_person(v) for v in ("buy", "fix", "carry", "go", "move into")] == [
        "buys", "fixes", "carries", "goes", "moves into"]  # fmt: skip
    assert S.article("old van") == "an" and S.article("blue van") == "a" and S.article("euphoric") == "a"
    words = ["don't", "move", "the", "twenty-two", "boats", "paul"]
    assert S.words_of("Don't move the twenty-two boats, Paul!") == words


def test_phonetic_coverage(texts):
    if S.cmudict() is None:
        pytest.skip("pocketsphinx's CMUdict not installed")
    coverage = S.phonetic_coverage(texts[:1000])
    assert set(coverage) == set(ARPABET) and abs(sum(coverage.values()) - 1) < 1e-9
    # Shares of all phones: at or above typical English running text (measured values sit well above).
    minimum = {"p": 0.022, "b": 0.022, "m": 0.025, "f": 0.020, "v": 0.015, "uw": 0.016, "ow": 0.016,
               "aa": 0.020, "ae": 0.025, "w": 0.015, "ao": 0.010, "aw": 0.005}  # fmt: skip
    low = {p: round(coverage[p], 4) for p, floor in minimum.items() if coverage[p] < floor}
    assert not low, low
    showcase = S.phonetic_coverage(S.SHOWCASE_TEXTS)
    assert all(showcase[p] > 0 for p in minimum)


def test_phone_guess_fallback():
    for word in ("boat", "father", "phoebe", "vivid", "moonwalk"):
        phones = S.guess_phones(word)
        assert phones and set(phones) <= set(ARPABET)
    assert S.guess_phones("boat") == ("b", "ow", "t")


def test_split_is_stable_and_proportional():
    assert S.split_of_sentence("gen0-0000000", 0) == S.split_of_sentence("gen0-0000000", 0)
    # Fixed by a hash: these must never change, or old corpora would leak test sentences into training.
    splits = [S.split_of_sentence(f"gen0-{i:07d}", 0) for i in range(100)]
    assert {k: [i for i, s in enumerate(splits) if s == k] for k in ("val", "test")} == _GOLDEN_SPLITS
    gen = S.SentenceGenerator(0)
    splits = Counter(S.split_of_sentence(gen.sentence(i).id, 0) for i in range(N_SENTENCES))
    for split, share in S.SPLIT_SHARES:
        assert abs(splits[split] / N_SENTENCES - share) < 0.015, splits
    reseeded = [S.split_of_sentence(f"gen0-{i:07d}", 1) for i in range(200)]
    assert reseeded != [S.split_of_sentence(f"gen0-{i:07d}", 0) for i in range(200)]


_GOLDEN_SPLITS = {"val": [17, 35, 44, 49, 51, 54, 59, 78, 88, 99], "test": [8, 9, 26, 29, 57, 60, 81]}


def test_showcase_sentences():
    showcase = S.showcase_sentences()
    assert 35 <= len(showcase) <= 50
    assert len({s.text for s in showcase}) == len(showcase) and len({s.id for s in showcase}) == len(showcase)
    assert all(5 <= len(s.words) <= 14 for s in showcase)
    assert all(s.id.startswith("showcase-") for s in showcase)


# -------------------------------------------------------------------------------------- descriptions


@pytest.fixture(scope="module")
def pools() -> dict[str, dict[tuple[str, int], tuple[str, ...]]]:
    keys = [(e, i) for e in EMOTIONS for i in INTENSITIES]
    return {split: {key: D.description_pool(*key, split) for key in keys} for split in D.SPLITS}


def test_every_emotion_and_intensity_has_enough_descriptions(pools):
    for (emotion, level), pool in pools["train"].items():
        assert len(pool) >= 30, (emotion, level, len(pool))
    for (emotion, level), pool in pools["heldout"].items():
        assert len(pool) >= 10, (emotion, level, len(pool))


def test_descriptions_are_distinct_and_reproducible():
    for split in D.SPLITS:
        for emotion in EMOTIONS:
            for level in INTENSITIES:
                a = D.descriptions(emotion, level, np.random.default_rng(5), 10, split)
                b = D.descriptions(emotion, level, np.random.default_rng(5), 10, split)
                assert a == b and len(set(a)) == 10
                assert set(a) <= set(D.description_pool(emotion, level, split))
    everything = D.description_pool("angry", 2, "heldout")
    assert sorted(D.descriptions("angry", 2, 0, len(everything), "heldout")) == list(everything)
    with pytest.raises(EmoAnimError):
        D.descriptions("angry", 2, 0, len(everything) + 1, "heldout")


def test_describe_accepts_any_rng_and_validates():
    assert D.describe("anger", 3, random.Random(1)) == D.describe("angry", 3, random.Random(1))
    assert D.describe("happy", 1, 3) == D.describe("happy", 1, random.Random(3))
    assert isinstance(D.describe("sad", 2, np.random.default_rng(0), "heldout"), str)
    for bad in ({"emotion": "bored"}, {"intensity": 4}, {"split": "test"}):
        kwargs = {"emotion": "sad", "intensity": 2, "rng": 0, "split": "train"} | bad
        with pytest.raises(EmoAnimError):
            D.describe(**kwargs)


def _content_tokens(descriptions) -> set[str]:
    return {w for d in descriptions for w in re.findall(r"[a-z][a-z'-]*", d.lower())}


# Words both pools may use: grammar only, nothing that signals an emotion or an intensity.
SHARED_FUNCTION_WORDS = {"a", "an", "as", "by", "for", "got", "had", "in", "into", "of", "out", "that", "the",
                         "they", "their", "through", "to", "were", "who", "with", "on", "at", "it", "and"}  # fmt: skip


def _frame_literals(split: str) -> set[str]:
    frames = D.FRAMES[split]
    templates = frames.ap + frames.manner + frames.situation + sum(frames.noun.values(), ())
    parts = {p.strip(" ,") for t in templates for p in re.split(r"\{\w+\}", t)}
    return {p for p in parts if p and p not in SHARED_FUNCTION_WORDS}


LEXICONS = {"train": D.TRAIN_WORDS, "heldout": D.HELDOUT_WORDS, "dev": D.DEV_WORDS}


@pytest.mark.parametrize("first, second", [("train", "heldout"), ("train", "dev"), ("heldout", "dev")])
def test_pools_are_disjoint(pools, first, second):
    """train trains, dev selects models, heldout tests: none may leak a word into another."""
    texts = {split: [d for pool in pools[split].values() for d in pool] for split in (first, second)}
    # 1. No word at all in common beyond grammar words (covers synonyms, adverbs, nouns, situations).
    shared = _content_tokens(texts[first]) & _content_tokens(texts[second])
    assert shared <= SHARED_FUNCTION_WORDS, sorted(shared - SHARED_FUNCTION_WORDS)
    # 2. Lexicon items and frame text of one pool never occur in the other pool's descriptions.
    assert not LEXICONS[first] & LEXICONS[second]
    for items, other in ((LEXICONS[second] | _frame_literals(second), texts[first]),
                         (LEXICONS[first] | _frame_literals(first), texts[second])):  # fmt: skip
        joined = "\n".join(other)
        leaked = [item for item in items if contains(item, joined)]
        assert not leaked, leaked
    # 3. No shared word roots either ('sad' / 'sadness', 'furious' / 'fury' would make heldout easy).
    roots = lambda words: {w for item in words for w in item.split() if len(w) >= 4}
    close = [(a, b) for a in roots(LEXICONS[first]) for b in roots(LEXICONS[second])
             if a[:6] == b[:6] or a.startswith(b) or b.startswith(a)]  # fmt: skip
    assert not close, close


def test_sampled_descriptions_stay_in_their_pool():
    rng = np.random.default_rng(11)
    for emotion in EMOTIONS:
        for level in INTENSITIES:
            for split, other in (("train", D.HELDOUT_WORDS | D.DEV_WORDS), ("heldout", D.TRAIN_WORDS | D.DEV_WORDS),
                                 ("dev", D.TRAIN_WORDS | D.HELDOUT_WORDS)):  # fmt: skip
                for _ in range(40):
                    text = D.describe(emotion, level, rng, split)
                    assert text in D.description_pool(emotion, level, split)
                    assert not [w for w in other if contains(w, text)], text


def test_descriptions_use_only_their_own_emotion(pools):
    for split, by_key in pools.items():
        for emotion in EMOTIONS:
            foreign = set()
            for other in EMOTIONS:
                if other != emotion:
                    words = D.WORDS[other][split]
                    foreign |= set(words.nouns)
                    foreign |= {w for i in INTENSITIES for w in words.adjectives[i] + words.manners[i]}
            texts = "\n".join(d for i in INTENSITIES for d in by_key[(emotion, i)])
            assert not [w for w in foreign if contains(w, texts)], (split, emotion)


def test_intensities_are_ordered(pools):
    for split, by_key in pools.items():
        weak, strong = D.level_words(1, split), D.level_words(3, split)
        for emotion in EMOTIONS:
            level1, level3 = by_key[(emotion, 1)], by_key[(emotion, 3)]
            assert not [d for d in level1 if any(contains(w, d) for w in strong)], (split, emotion)
            assert not [d for d in level3 if any(contains(w, d) for w in weak)], (split, emotion)
            # Most level-3 descriptions carry a strong word; the rest use strong frames / situations.
            assert sum(any(contains(w, d) for w in strong) for d in level3) / len(level3) > 0.75
    assert {"extremely", "absolutely", "utterly"} <= D.level_words(3, "train")
    assert {"slightly", "a bit", "somewhat"} <= D.level_words(1, "train")
    assert {"furious", "thrilled"} <= D.level_words(3, "train") and "annoyed" in D.level_words(1, "train")


def test_free_text_probes(pools):
    required = {"ecstatic", "livid", "heartbroken", "bored out of my mind", "terrified", "quietly furious",
                "mildly amused", "disgusted by the smell", "can't believe it!", "sneering"}  # fmt: skip
    assert required <= set(D.FREE_TEXT_PROBES) and len(D.FREE_TEXT_PROBES) >= 30
    for probe, (emotion, level) in D.FREE_TEXT_PROBES.items():
        assert emotion in EMOTIONS and level in INTENSITIES, probe
    for split in D.SPLITS:
        joined = "\n".join(d for pool in pools[split].values() for d in pool)
        found = [p for p in D.FREE_TEXT_PROBES if contains(p.rstrip("!"), joined)]
        assert not found, (split, found)
    assert all(p.rstrip("!").split()[0] not in D.TRAIN_WORDS | D.HELDOUT_WORDS
               for p in ("ecstatic", "livid", "heartbroken", "terrified", "sneering"))  # fmt: skip
