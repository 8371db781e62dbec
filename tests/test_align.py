"""Forced alignment (audio.align) on a real recording, and the letter-to-sound rules it uses for
words its dictionary lacks (audio.pronounce)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emoanim.audio.align import align, alignment_words
from emoanim.audio.io import load_audio
from emoanim.audio.pronounce import espeak_phonemes
from emoanim.vocabulary import PHONES, SILENCE

DATA = Path(__file__).resolve().parent / "data"
CLIP = DATA / "librivox_ss01_0870.wav"  # LibriVox, public domain (tests/data/LICENSE.md)


@pytest.fixture(scope="module")
def real():
    return load_audio(CLIP, 16000), (DATA / "librivox_ss01_0870.txt").read_text().strip()


def test_alignment_words_normalise_the_transcript():
    assert alignment_words("And Mr. John's \u2019well-known\u2019 dog, 42!") == [
        "and", "mr", "john's", "well", "known", "dog", "42"]


def test_real_speech_aligns_every_word_in_order_and_tiles_the_clip(real):
    wave, text = real
    result = align(wave, 16000, text)
    assert result.method == "pocketsphinx"
    assert [w for w, _, _ in result.words] == alignment_words(text)
    phones = result.phones
    assert phones[0].start == 0.0 and np.isclose(phones[-1].end, len(wave) / 16000)
    assert all(abs(a.end - b.start) < 1e-9 for a, b in zip(phones, phones[1:]))
    assert all(p.phone in PHONES for p in phones)
    # Words follow each other and sit inside the speech (the clip starts with ~0.25 s of silence).
    starts = [a for _, a, _ in result.words]
    assert starts == sorted(starts) and starts[0] > 0.1
    # "much" starts with /m/, "might" too, "power" with /p/: each word's first phone is there.
    for word, first in (("much", "m"), ("might", "m"), ("prudently", "p"), ("power", "p")):
        _, a, b = next(w for w in result.words if w[0] == word)
        inside = [p.phone for p in phones if a - 0.02 <= p.start < b]
        assert inside and inside[0] == first, (word, inside)


def test_a_capped_cascade_still_aligns_real_speech_and_history_does_not_matter(real):
    wave, text = real
    first = align(wave, 16000, text, attempts=1).phones
    align(wave[::-1].copy(), 16000, "something else entirely")  # a failing clip in between
    assert align(wave, 16000, text, attempts=1).phones == first


def test_one_reconfigured_decoder_aligns_as_a_fresh_decoder_per_option_set(real):
    """The aligner keeps one decoder (one acoustic model in memory) and sets each attempt's beams in
    its config; that must give what a decoder built with those options gives."""
    from pocketsphinx import Decoder

    from emoanim.audio import align as A

    wave, text = real
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    aligner = A._Aligner()
    words, _ = aligner.prepare(alignment_words(text))
    results = set()
    for _, _, options in A._ATTEMPTS[::-1] + A._ATTEMPTS:  # reconfigured both ways round
        fresh = A._Aligner()
        fresh._decoder = Decoder(samprate=A._SR, lm=None, loglevel="FATAL", **options)
        fresh._defaults, fresh._cmn0 = {}, fresh._decoder.get_cmn()
        fresh.prepare(words)
        got = aligner.run(words, pcm, options)
        assert got == fresh.run(words, pcm, options)
        results.add(str(got))
    assert len(results) > 1  # the option sets do differ on this clip: the check can fail


def test_words_that_do_not_fit_the_audio_are_reported_not_hidden(real):
    wave, _ = real
    result = align(wave[: 16000], 16000, "the quick brown fox jumps over the lazy dog again and again " * 3,
                   attempts=2)
    assert result.method in ("words", "uniform")  # approximate, and it says so
    assert result.phones[0].start == 0.0 and np.isclose(result.phones[-1].end, 1.0)


def test_letter_to_sound_for_unknown_words():
    phones = espeak_phonemes("Zorblax")
    assert phones and all(p in PHONES and p != SILENCE for p in phones)
    assert phones[0] == "z" and "b" in phones
    assert espeak_phonemes("map") == ["m", "ae", "p"]
