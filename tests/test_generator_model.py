"""The shipped generator on speech it never heard: lips close on /p b m/, open on vowels, the
emotion label shows on the face, guidance strengthens it, an emotion timeline turns smoothly, and
the face blinks (at a natural rate, fully, at other times for another seed, also on real speech)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emoanim.audio.content import load_content_encoder
from emoanim.binding.space import EmotionSpace
from emoanim.data import tts
from emoanim.vocabulary import EMOTIONS
from emoanim.data.synth import split_voices
from emoanim.diffusion import MotionGenerator
from emoanim.timing import frames_for_duration

pytestmark = pytest.mark.slow  # the shipped model on synthesised speech: tens of seconds

CKPT = Path(__file__).resolve().parents[1] / "checkpoints"
OPEN_VOWELS = {"aa", "ae", "ah", "ao", "aw", "ay"}


@pytest.fixture(scope="module")
def models():
    return (load_content_encoder(CKPT / "content_encoder"), MotionGenerator.from_pretrained(CKPT / "generator"),
            EmotionSpace.from_pretrained(CKPT / "emotion_space"))


@pytest.fixture(scope="module")
def speech():
    voice = [v for v in split_voices(tts.list_voices(), 0)["test"] if v.engine == "espeak"][0]  # never trained on
    return tts.synthesize("Bob and Pam may buy my big map on Monday, but Tom wants a hot cup of coffee.",
                          voice, tts.ProsodyStyle(), rng=np.random.default_rng(0))


def test_lips_close_on_bilabials_and_open_on_vowels(models, speech, arkit_rig):
    content_encoder, generator, space = models
    content = content_encoder.encode(speech.audio)
    frames = frames_for_duration(speech.duration, generator.fps)
    params = generator.sample(content, space.embed(emotion="neutral"), frames, seed=0)
    v = arkit_rig.vertices(params)
    gap = 1000 * (v[:, arkit_rig.group("upper_lip"), 1].mean(1) - v[:, arkit_rig.group("lower_lip"), 1].mean(1))
    at = lambda p: gap[min(int((p.start + p.end) / 2 * generator.fps), frames - 1)]
    bilabial = [at(p) for p in speech.phones if p.phone in ("p", "b", "m")]
    vowels = [at(p) for p in speech.phones if p.phone in OPEN_VOWELS and p.duration > 0.06]
    assert len(bilabial) >= 6 and len(vowels) >= 4
    assert np.median(bilabial) < 0.5 * np.median(vowels), (np.median(bilabial), np.median(vowels))
    assert np.median(vowels) > 4.0  # mm


def test_label_shows_on_the_face_and_guidance_strengthens_it(models, speech):
    content_encoder, generator, space = models
    content = content_encoder.encode(speech.audio)
    frames = frames_for_duration(speech.duration, generator.fps)
    col = {n: i for i, n in enumerate(generator.param_names)}
    take = lambda emotion, s=2.0: generator.sample(content, space.embed(emotion=emotion, intensity=3), frames,
                                                   guidance=s, seed=1)
    happy, sad, surprised = take("happy"), take("sad"), take("surprised")
    smile = lambda p: p[:, [col["mouthSmileLeft"], col["mouthSmileRight"]]].mean()
    assert smile(happy) > smile(sad) + 0.15
    assert happy[:, col["cheekSquintLeft"]].mean() > sad[:, col["cheekSquintLeft"]].mean()
    assert surprised[:, col["browInnerUp"]].mean() > happy[:, col["browInnerUp"]].mean()
    # The motion encoder (the emotion judge) recognises each generated emotion.
    for emotion, params in (("happy", happy), ("sad", sad), ("surprised", surprised)):
        with torch.no_grad():
            logits, _ = space.motion_encoder.predict(torch.from_numpy(params)[None])
        assert EMOTIONS[int(logits.argmax())] == emotion
    assert smile(take("happy", 3.0)) > smile(take("happy", 0.5))


def test_timeline_turns_happy_into_sad_smoothly(models, speech):
    """happy at 0 s -> sad (3) at 5 s over a 10 s take: smiling in the first 4 s, frowning with raised
    inner brows in the last 4 s, and the change of emotion is no jump."""
    from emoanim.binding.timeline import style_track

    content_encoder, generator, space = models
    wave = np.concatenate([speech.audio, speech.audio])[: 10 * 16000]  # 10 s of speech
    content = content_encoder.encode(wave)
    fps, frames = generator.fps, frames_for_duration(10.0, generator.fps)
    col = {n: i for i, n in enumerate(generator.param_names)}
    track = style_track([(0.0, space.embed(emotion="happy", intensity=3)), (5.0, space.embed(emotion="sad",
                                                                                            intensity=3))], frames, fps)
    params = generator.sample(content, track, frames, seed=0)
    first, last = slice(0, int(4 * fps)), slice(int(6 * fps), frames)
    smile = params[:, [col["mouthSmileLeft"], col["mouthSmileRight"]]].mean(1)
    frown = params[:, [col["mouthFrownLeft"], col["mouthFrownRight"]]].mean(1)
    brow = params[:, col["browInnerUp"]]
    assert smile[first].mean() > smile[last].mean() + 0.15
    assert frown[last].mean() > frown[first].mean() + 0.1 and brow[last].mean() > brow[first].mean() + 0.1
    expression = [col[n] for n in ("mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
                                   "browInnerUp", "cheekSquintLeft", "cheekSquintRight")]
    step = np.abs(np.diff(params[:, expression], axis=0)).max(1)  # the largest change per frame
    transition = slice(int(3.5 * fps), int(5.5 * fps))
    rest = np.concatenate([step[: transition.start], step[transition.stop :]])
    assert step[transition].max() <= rest.max(), (step[transition].max(), rest.max())


SENTENCES = ("Bob and Pam may buy my big map on Monday, but Tom wants a hot cup of coffee.",
             "The old farmer kept seven brown horses behind the barn near the river.",
             "Please call me back before noon, because the meeting has been moved to Friday.",
             "We walked along the beach at sunset and watched the boats come home.")


@pytest.fixture(scope="module")
def takes(models):
    """Takes of four unseen-voice sentences x four emotions x two seeds (the default sampler); every take has
    its own seed (with one seed pair for all, every take draws the same noise: one draw's statistics)."""
    content_encoder, generator, space = models
    voices = [v for v in split_voices(tts.list_voices(), 0)["test"] if v.engine in ("espeak", "flite")][:2]
    out = []
    for k, text in enumerate(SENTENCES):
        speech = tts.synthesize(text, voices[k % len(voices)], tts.ProsodyStyle(), rng=np.random.default_rng(k))
        content = content_encoder.encode(speech.audio)
        frames = frames_for_duration(speech.duration, generator.fps)
        for emotion in ("neutral", "happy", "sad", "angry"):
            style = space.embed(emotion=emotion, intensity=2)
            out.append([generator.sample(content, style, frames, seed=2 * len(out) + s) for s in (0, 1)])
    return out


def test_blinks_at_a_natural_rate_with_a_natural_shape(models, takes):
    from emoanim.eval.metrics import blink_events

    generator = models[1]
    lid = generator.param_names.index("eyeBlinkLeft")
    events = [e for pair in takes for p in pair for e in blink_events(p[:, lid], generator.fps)]
    seconds = sum(len(p) for pair in takes for p in pair) / generator.fps
    assert 0.2 <= len(events) / seconds <= 0.6, len(events) / seconds  # people blink ~0.3-0.45 times a second
    assert np.mean([e["peak"] >= 0.8 for e in events]) >= 0.7  # full closures, not twitches
    closing = np.median([e["close_s"] for e in events if e["close_s"]])
    opening = np.median([e["open_s"] for e in events if e["open_s"]])
    assert closing <= 0.2 and opening >= closing  # a fast close, a slower opening


def test_another_seed_blinks_at_other_times(models, takes):
    generator = models[1]
    lid = generator.param_names.index("eyeBlinkLeft")
    onsets = lambda p: set(np.where((p[1:, lid] >= 0.5) & (p[:-1, lid] < 0.5))[0])  # noqa: E731
    differ = [onsets(a) != onsets(b) for a, b in takes if onsets(a) or onsets(b)]
    assert len(differ) >= 8 and np.mean(differ) >= 0.75


def test_head_and_gaze_move_and_every_value_is_in_the_rigs_range(models, takes):
    generator = models[1]
    names = generator.param_names
    head = [names.index(n) for n in ("headYaw", "headPitch", "headRoll")]
    look = names.index("eyeLookOutLeft")
    params = np.concatenate([p for pair in takes for p in pair])
    assert params[:, head].std(0).min() > 0.005  # the head moves (radians), in every axis
    assert params[:, look].std() > 0.01  # so do the eyes
    assert params[:, :52].min() >= 0.0 and params[:, :52].max() <= 1.0 and np.abs(params[:, head]).max() <= 0.7


def test_blinks_on_real_speech(models):
    from emoanim.audio.io import load_audio

    content_encoder, generator, space = models
    wave = load_audio(Path(__file__).parent / "data" / "librivox_ss01_0870.wav", 16000)  # a human reader, 7 s
    content = content_encoder.encode(wave)
    frames = frames_for_duration(wave.size / 16000, generator.fps)
    lid = generator.param_names.index("eyeBlinkLeft")
    blinks = [int(((p[1:, lid] >= 0.5) & (p[:-1, lid] < 0.5)).sum())
              for p in (generator.sample(content, space.embed(emotion="neutral"), frames, seed=s) for s in range(3))]
    assert sum(blinks) >= 2, blinks  # ~7 blinks expected over three 7 s takes
