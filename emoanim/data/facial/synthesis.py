"""Speech + emotion -> ARKit-52 + head rotation motion for the synthetic talking-face corpus.

    synthesize_motion(phones, audio, sample_rate, emotion, intensity, rng) -> [T, 55] float32

Layers, each in its own module: articulation (phones -> mouth and jaw, Cohen-Massaro
coarticulation, loudness-scaled jaw), expression (a per-clip draw of the emotion's FACS
prototype with dynamics), behaviour (blinks, gaze, head, prosodic brows). They are summed, then
two physical couplings are applied: lips stay sealed on /p b m/ whatever the jaw and the
expression do, and a blink closes the lids over any expression (and cancels eyeWide).
"""

from __future__ import annotations

import numpy as np

from emoanim.audio.effects import as_mono
from emoanim.data.facial.articulation import apply_lip_closure, articulate, fill_silence
from emoanim.data.facial.behaviour import HEAD_LIMIT, behaviour
from emoanim.data.facial.expression import envelope, expression_track, sample_profile
from emoanim.data.facial.prosody import pitch_accents, prosody_features, stressed_syllables
from emoanim.errors import EmoAnimError
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import MOTION_FPS, PHONES, PhoneSegment, canonical_emotion, check_intensity, normalize_phone

_INDEX = {name: i for i, name in enumerate(ARKIT_PARAMS)}
N_ACTIONS = len(ARKIT_ACTIONS)


def _clean_phones(phones: list[PhoneSegment]) -> list[PhoneSegment]:
    out = []
    for seg in phones:
        phone = seg.phone
        if phone not in PHONES:
            try:
                phone = normalize_phone(phone)
            except ValueError as exc:
                raise EmoAnimError(f"{exc}; phones must be ARPAbet or 'sil'") from None
        out.append(PhoneSegment(phone, float(seg.start), float(seg.end)))
    return out


def synthesize_motion(
    phones: list[PhoneSegment],
    audio: np.ndarray,
    sample_rate: int,
    emotion: str,
    intensity: int,
    rng: np.random.Generator,
    fps: float = MOTION_FPS,
) -> np.ndarray:
    """[T, 55] float32 motion in ARKIT_PARAMS order, T = ceil(len(audio) / sample_rate * fps)
    (float noise ignored, as emoanim.render.video.frames_for_duration).

    Action weights are in [0, 1], head angles in radians within +-0.35. The result depends only
    on the inputs and the state of ``rng`` (which it advances).
    """
    emotion = canonical_emotion(emotion)
    intensity = check_intensity(intensity)
    if sample_rate <= 0 or fps <= 0:
        raise EmoAnimError("sample_rate and fps must be positive")
    audio = as_mono(audio)
    duration = len(audio) / float(sample_rate)
    frames = max(1, frames_for_duration(duration, fps))
    phones = fill_silence(_clean_phones(phones), frames / fps)

    prosody = prosody_features(audio, sample_rate, fps)
    stresses = stressed_syllables(phones, prosody)
    accents = pitch_accents(prosody)

    profile = sample_profile(emotion, intensity, rng)
    env = envelope(profile, frames, fps)
    art = articulate(phones, frames, fps, prosody["loudness"][:frames], profile.articulation, rng)
    expr = expression_track(profile, frames, fps, *stresses, rng)
    beh = behaviour(profile, frames, fps, env, art.speaking, stresses, accents, rng)

    out = beh.params.copy()
    out[:, :N_ACTIONS] += art.weights + expr
    actions = out[:, :N_ACTIONS]
    np.clip(actions, 0.0, 1.0, out=actions)
    apply_lip_closure(actions, art.closure, press=rng.uniform(0.15, 0.35))

    # Lids: blinks close over whatever the expression does (eyeBlink composes like opacity).
    for side, blink in (("Left", beh.blink[:, 0]), ("Right", beh.blink[:, 1])):
        i = _INDEX["eyeBlink" + side]
        actions[:, i] = 1.0 - (1.0 - actions[:, i]) * (1.0 - blink)
        actions[:, _INDEX["eyeWide" + side]] *= 1.0 - blink
    np.clip(actions, 0.0, 1.0, out=actions)
    np.clip(out[:, N_ACTIONS:], -HEAD_LIMIT, HEAD_LIMIT, out=out[:, N_ACTIONS:])
    return out.astype(np.float32)
