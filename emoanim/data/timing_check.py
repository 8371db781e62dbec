"""How far is the forced aligner from the engine's own phone timings?

espeak-ng reports the exact start of every phoneme it renders, so its timings are a reference
for pocketsphinx's alignment (which we use for engines without timings). Run::

    python -m emoanim.data.timing_check --clips 10

The two label sequences differ (espeak's accent-specific phones vs CMUdict pronunciations), so
they are first aligned by edit distance; boundaries are compared between matched segments.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from emoanim.audio.align import align
from emoanim.data.tts import emotion_prosody, list_voices, synthesize
from emoanim.vocabulary import EMOTIONS, SILENCE, VOWELS, PhoneSegment

__all__ = ["SENTENCES", "match_segments", "timing_error", "main"]

# Harvard sentences (IEEE 1969 recommended practice; public domain), phonetically balanced.
SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
)


def match_segments(reference: list[PhoneSegment], estimate: list[PhoneSegment]) -> list[tuple[int, int]]:
    """Index pairs (i_ref, i_est) of an edit-distance alignment of the two label sequences.

    Equal labels cost 0, substitutions 1 (0.5 between two vowels or two consonants, so that
    accent differences still pair up), insertions/deletions 1.
    """
    a = [p.phone for p in reference]
    b = [p.phone for p in estimate]
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = _substitution_cost(a[i - 1], b[j - 1])
            cost[i, j] = min(cost[i - 1, j - 1] + sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        sub = _substitution_cost(a[i - 1], b[j - 1])
        if np.isclose(cost[i, j], cost[i - 1, j - 1] + sub):
            if sub < 1.0:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif np.isclose(cost[i, j], cost[i - 1, j] + 1):
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _substitution_cost(x: str, y: str) -> float:
    """0 for equal phones, 0.5 between two vowels or two consonants, else 1 (silence included)."""
    if x == y:
        return 0.0
    if SILENCE in (x, y):
        return 1.0
    return 0.5 if (x in VOWELS) == (y in VOWELS) else 1.0


def timing_error(reference: list[PhoneSegment], estimate: list[PhoneSegment]) -> dict:
    """Boundary error of ``estimate`` against ``reference`` (both tiling the same clip).

    Every start and end of a matched segment pair counts once (boundaries shared by two
    matched neighbours are not double counted); clip edges (0 and the clip end) are skipped
    because they are equal by construction. Returns mean/median/p90 absolute error in ms, the
    fraction within 20 and 50 ms, the mean signed error (estimate - reference, ms), the number of
    boundaries and the label match rate.
    """
    if not reference or not estimate:
        raise ValueError("both segment lists must be non-empty")
    pairs = match_segments(reference, estimate)
    t_end = reference[-1].end
    seen: set[float] = set()
    errors, signed = [], []
    for i, j in pairs:
        for t_ref, t_est in ((reference[i].start, estimate[j].start), (reference[i].end, estimate[j].end)):
            if t_ref <= 1e-6 or t_ref >= t_end - 1e-6 or t_ref in seen:
                continue
            seen.add(t_ref)
            errors.append(abs(t_ref - t_est) * 1000.0)
            signed.append((t_est - t_ref) * 1000.0)
    err = np.array(errors) if errors else np.array([np.nan])
    same = sum(reference[i].phone == estimate[j].phone for i, j in pairs)
    return {
        "mean_ms": float(np.mean(err)),
        "median_ms": float(np.median(err)),
        "p90_ms": float(np.percentile(err, 90)),
        "bias_ms": float(np.mean(signed)) if signed else float("nan"),
        "within_20ms": float(np.mean(err <= 20.0)),
        "within_50ms": float(np.mean(err <= 50.0)),
        "n_boundaries": len(errors),
        "label_match": same / max(len(reference), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=10, help="number of clips to compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-accents", action="store_true",
                        help="sample every espeak accent (default: American voices, matching CMUdict)")
    args = parser.parse_args(argv)

    voices = list_voices("espeak")
    if not args.all_accents:
        voices = [v for v in voices if v.language == "en-us"]
    if not voices:
        print("espeak-ng is not available", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    rows, methods = [], []
    t0 = time.perf_counter()
    for k in range(args.clips):
        voice = voices[int(rng.integers(len(voices)))]
        emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        level = int(rng.integers(1, 4))
        text = SENTENCES[k % len(SENTENCES)]
        clip = synthesize(text, voice, emotion_prosody(emotion, level, rng), rng=rng)
        result = align(clip.audio, clip.sample_rate, text)
        methods.append(result.method)
        e = timing_error(clip.phones, result.phones)
        rows.append(e)
        print(f"{k:3d} {voice.id:24s} {emotion:12s} L{level} {result.method:12s} "
              f"median {e['median_ms']:5.1f} ms  mean {e['mean_ms']:5.1f} ms  "
              f"<=20ms {100 * e['within_20ms']:3.0f}%  labels {100 * e['label_match']:3.0f}%")
    keys = ("mean_ms", "median_ms", "p90_ms", "bias_ms", "within_20ms", "within_50ms", "label_match")
    print(f"\n{args.clips} clips in {time.perf_counter() - t0:.1f} s; "
          f"pocketsphinx succeeded on {methods.count('pocketsphinx')}/{len(methods)}")
    for key in keys:
        vals = np.array([r[key] for r in rows])
        print(f"  {key:12s} mean over clips {np.nanmean(vals):7.3f}   median {np.nanmedian(vals):7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
