"""Emotion timelines: keyframes -> one emotion vector per frame, and the keyframe syntax of the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from emoanim.binding.timeline import slerp, style_track
from emoanim.errors import EmoAnimError
from emoanim.pipeline import EmotionSource, check_timeline, describe_emotion, parse_keyframe


def unit(seed: int, dim: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v)


def test_keyframes_hold_then_ease_into_the_next():
    a, b = unit(0), unit(1)
    track = style_track([(5.0, b), (0.0, a)], num_frames=250, fps=25.0, transition_s=1.0)  # any order
    assert track.shape == (250, 16) and np.allclose(np.linalg.norm(track, axis=1), 1.0, atol=1e-5)
    assert np.allclose(track[:100], a, atol=1e-6)  # 0-4 s: the first keyframe holds
    assert np.allclose(track[125:], b, atol=1e-6)  # from 5 s on: the second
    towards_b = track[100:126] @ b
    assert np.all(np.diff(towards_b) > 0)  # 4-5 s: steadily from a to b
    steps = np.linalg.norm(np.diff(track, axis=0), axis=1)
    assert steps.max() < 2.5 * np.arccos(a @ b) / 25  # no jump: the ease spreads the turn over the second
    assert np.allclose(style_track([(0.0, a)], 10, 25.0), a, atol=1e-6)


def test_short_gaps_are_all_transition_and_slerp_stays_on_the_sphere():
    a, b = unit(2), unit(3)
    track = style_track([(0.0, a), (0.4, b)], 25, 25.0, transition_s=1.0)
    assert np.allclose(track[0], a, atol=1e-6) and np.allclose(track[10], b, atol=1e-6)
    mid = slerp(a, b, np.array([0.5]))[0]
    assert np.isclose(np.linalg.norm(mid), 1.0) and np.isclose(mid @ a, mid @ b)
    with pytest.raises(EmoAnimError, match="opposite"):
        slerp(a, -a, np.array([0.5]))


@pytest.mark.parametrize("keys, message", [
    ([], "at least one"),
    ([(0.0, np.ones(4))], "unit vectors"),
    ([(1.0, unit(0)), (1.0, unit(1))], "same time"),
    ([(-1.0, unit(0))], "from the start"),
])
def test_bad_tracks_are_refused(keys, message):
    with pytest.raises(EmoAnimError, match=message):
        style_track(keys, 10, 25.0)


def test_cli_keyframe_syntax():
    t, s = parse_keyframe("0:happy:3")
    assert t == 0.0 and (s.kind, s.emotion, s.intensity) == ("label", "happy", 3)
    t, s = parse_keyframe("5:sad")
    assert t == 5.0 and s.intensity == 2
    t, s = parse_keyframe("2.5:text:quietly furious, barely: holding it")  # colons in the words are kept
    assert t == 2.5 and s.kind == "text" and s.text == "quietly furious, barely: holding it"
    assert parse_keyframe("1:audio:ref.wav")[1].path == "ref.wav" and parse_keyframe("3:auto")[1].kind == "auto"
    for bad, message in (("soon:happy", "time in seconds"), ("1:happy:loud", "intensity is 1, 2 or 3"),
                         ("1:", "give an emotion"), ("1:motion:", "give the motion file")):
        with pytest.raises(EmoAnimError, match=message):
            parse_keyframe(bad)


def test_timeline_checks_and_description():
    keys = check_timeline([(5, EmotionSource.label("sad", 3)), (0, EmotionSource.label("happy", 3))])
    assert [t for t, _ in keys] == [0.0, 5.0]
    assert describe_emotion(keys) == "timeline 0 s happy (intensity 3) → 5 s sad (intensity 3)"
    with pytest.raises(EmoAnimError, match="after the end of the speech"):
        check_timeline([(0, EmotionSource.label("happy")), (12, EmotionSource.label("sad"))], duration=10.0)
    with pytest.raises(EmoAnimError, match="EmotionSource"):
        check_timeline([(0, "happy")])
    with pytest.raises(EmoAnimError, match="empty"):
        check_timeline([])
