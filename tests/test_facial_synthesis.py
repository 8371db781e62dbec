"""Rule-based facial motion (emoanim.data.facial), checked on the ARKit rig's geometry."""

import math
import time

import numpy as np
import pytest

from emoanim.data.facial import prosody_features, synthesize_motion
from emoanim.vocabulary import VOWELS, PhoneSegment
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS

SR = 16000
FPS = 25.0
I = {name: i for i, name in enumerate(ARKIT_PARAMS)}
N_ACT = len(ARKIT_ACTIONS)


def utterance(spec: list[tuple[str, float]], sr: int = SR, seed: int = 0):
    """Phones from (phone, duration) pairs and a matching synthetic voice: a gliding harmonic
    tone, loud on vowels, quiet on consonants, near-silent in pauses."""
    phones, t = [], 0.0
    for phone, dur in spec:
        phones.append(PhoneSegment(phone, t, t + dur))
        t += dur
    n = int(round(t * sr))
    tt = np.arange(n) / sr
    f0 = 125.0 + 20.0 * np.sin(2 * np.pi * 0.6 * tt)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    amp = np.zeros(n)
    for p in phones:
        level = 0.0 if p.phone == "sil" else 0.5 if p.phone in VOWELS else 0.12
        amp[int(p.start * sr) : int(p.end * sr)] = level
    amp = np.convolve(amp, np.ones(160) / 160, mode="same")
    noise = np.random.default_rng(seed).standard_normal(n)
    return phones, (amp * voice + 0.001 * noise).astype(np.float32)


def random_utterance(rng: np.random.Generator, seconds: float):
    """Syllables (C V) in phrases separated by pauses, for long-clip statistics."""
    cons = ["p", "b", "m", "t", "d", "n", "k", "g", "s", "z", "f", "v", "l", "r", "w", "sh", "th", "hh"]
    vow = ["aa", "ae", "ah", "eh", "ih", "iy", "uw", "ow", "ay", "ey", "er", "ao"]
    spec, t = [("sil", 0.3)], 0.3
    while t < seconds - 0.5:
        for _ in range(rng.integers(3, 10)):
            spec += [(str(rng.choice(cons)), rng.uniform(0.05, 0.1)), (str(rng.choice(vow)), rng.uniform(0.08, 0.22))]
        spec.append(("sil", rng.uniform(0.2, 0.7)))
        t = sum(d for _, d in spec)
    return utterance(spec, seed=int(rng.integers(1 << 30)))


SENTENCE = [
    ("sil", 0.5), ("m", 0.08), ("aa", 0.18), ("m", 0.08), ("aa", 0.2), ("p", 0.07), ("aa", 0.16),
    ("sil", 0.35), ("f", 0.1), ("ay", 0.22), ("v", 0.09), ("sil", 0.35), ("b", 0.07), ("uw", 0.22),
    ("sil", 0.3), ("b", 0.07), ("iy", 0.2), ("sil", 0.3), ("t", 0.06), ("aa", 0.2), ("sil", 0.6),
]  # fmt: skip


@pytest.fixture(scope="module")
def sentence():
    return utterance(SENTENCE)


def centre_frames(phones, phone):
    return [int(round(0.5 * (p.start + p.end) * FPS)) for p in phones if p.phone == phone]


def lip_gap_mm(rig, verts):
    up, lo = rig.group("upper_lip"), rig.group("lower_lip")
    return 1000 * (verts[:, up, 1].mean(1) - verts[:, lo, 1].mean(1))


def mouth_width_mm(rig, verts):
    up = rig.group("upper_lip")
    return 1000 * np.linalg.norm(verts[:, up[0]] - verts[:, up[-1]], axis=1)


def no_head(m):
    m = m.copy()
    m[:, N_ACT:] = 0.0
    return m


def motions(phones, audio, emotion, intensity, seeds):
    return [synthesize_motion(phones, audio, SR, emotion, intensity, np.random.default_rng(s)) for s in seeds]


# --- output contract --------------------------------------------------------------------------


def test_shape_dtype_range_and_determinism(sentence):
    phones, audio = sentence
    m = synthesize_motion(phones, audio, SR, "happy", 2, np.random.default_rng(7))
    assert m.shape == (math.ceil(len(audio) / SR * FPS - 1e-6), len(ARKIT_PARAMS)) and m.dtype == np.float32
    assert np.isfinite(m).all()
    assert m[:, :N_ACT].min() >= 0.0 and m[:, :N_ACT].max() <= 1.0
    assert np.abs(m[:, N_ACT:]).max() <= 0.35
    again = synthesize_motion(phones, audio, SR, "happy", 2, np.random.default_rng(7))
    np.testing.assert_array_equal(m, again)
    other = synthesize_motion(phones, audio, SR, "happy", 2, np.random.default_rng(8))
    assert np.abs(m - other).mean() > 1e-3
    m30 = synthesize_motion(phones, audio, SR, "fear", 1, np.random.default_rng(0), fps=30.0)
    assert m30.shape[0] == math.ceil(len(audio) / SR * 30.0 - 1e-6)


def test_smooth_trajectories(sentence):
    phones, audio = sentence
    for emotion in ("neutral", "angry", "surprised"):
        m = synthesize_motion(phones, audio, SR, emotion, 3, np.random.default_rng(3))
        step = np.abs(np.diff(m, axis=0))
        assert step[:, I["jawOpen"]].max() < 0.3
        assert step[:, N_ACT:].max() < 0.03  # rad per frame (< 45 deg/s)
        brows = [I[n] for n in ("browInnerUp", "browDownLeft", "browOuterUpLeft")]
        assert step[:, brows].max() < 0.15


def test_fast():
    phones, audio = random_utterance(np.random.default_rng(0), 5.0)
    audio = audio[: 5 * SR]
    synthesize_motion(phones, audio, SR, "angry", 3, np.random.default_rng(0))  # warm-up
    timings = []
    for i in range(5):
        t0 = time.perf_counter()
        synthesize_motion(phones, audio, SR, "sad", 2, np.random.default_rng(i))
        timings.append(time.perf_counter() - t0)
    assert min(timings) < 0.05


# --- articulation, measured on the rig --------------------------------------------------------


def test_bilabials_close_and_open_vowels_open(arkit_rig, sentence):
    phones, audio = sentence
    for emotion, intensity in (("neutral", 1), ("happy", 3), ("surprised", 3), ("disgusted", 3), ("sad", 3)):
        for seed in range(3):
            m = synthesize_motion(phones, audio, SR, emotion, intensity, np.random.default_rng(seed))
            gap = lip_gap_mm(arkit_rig, arkit_rig.vertices(m))
            closed = [f for ph in "mpb" for f in centre_frames(phones, ph)]
            assert gap[closed].max() < 2.0, (emotion, gap[closed])
            if emotion in ("neutral", "happy", "surprised"):
                assert gap[centre_frames(phones, "aa")].min() > 6.0, (emotion, gap[centre_frames(phones, "aa")])
            m_at = m[closed]
            assert (m_at[:, I["jawOpen"]] < 0.4).all()
            np.testing.assert_allclose(m_at[:, I["mouthClose"]], m_at[:, I["jawOpen"]], atol=0.08)


def test_labiodentals_tuck_lower_lip(arkit_rig, sentence):
    phones, audio = sentence
    lo = arkit_rig.group("lower_lip")
    m = no_head(synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(0)))
    for f in centre_frames(phones, "f") + centre_frames(phones, "v"):
        assert m[f, I["mouthRollLower"]] > 0.3
        assert m[f, I["jawOpen"]] < 0.25
        # The lower lip rises and moves back towards the upper teeth compared with the same jaw alone.
        pose = arkit_rig.vertices(m[f : f + 1])[0]
        open_only = arkit_rig.vertices(arkit_rig.params_from_dict({"jawOpen": float(m[f, I["jawOpen"]])}))[0]
        assert 1000 * (pose[lo, 1].mean() - open_only[lo, 1].mean()) > 0.4
        assert pose[lo, 2].mean() < open_only[lo, 2].mean()


def test_rounding_narrows_the_mouth(arkit_rig, sentence):
    phones, audio = sentence
    widths = {"uw": [], "iy": [], "aa": []}
    for seed in range(3):
        m = no_head(synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(seed)))
        width = mouth_width_mm(arkit_rig, arkit_rig.vertices(m))
        assert m[centre_frames(phones, "uw"), I["mouthPucker"]].min() > 0.4
        for ph in widths:
            widths[ph] += list(width[centre_frames(phones, ph)])
    assert max(widths["uw"]) < min(widths["iy"]) - 3.0
    assert max(widths["uw"]) < min(widths["aa"]) - 3.0


def test_jaw_follows_loudness():
    phones, audio = utterance([("sil", 0.3)] + [("m", 0.08), ("aa", 0.2)] * 6 + [("sil", 0.3)])
    quiet = audio.copy()
    half = len(audio) // 2
    quiet[half:] *= 0.2  # the second half 14 dB quieter, relative to the first
    m = synthesize_motion(phones, quiet, SR, "neutral", 1, np.random.default_rng(0))
    aa = centre_frames(phones, "aa")
    first = [f for f in aa if f / FPS < half / SR]
    second = [f for f in aa if f / FPS > half / SR + 0.1]
    assert m[second, I["jawOpen"]].mean() < 0.85 * m[first, I["jawOpen"]].mean()


def test_silence_is_closed_and_relaxed(arkit_rig):
    phones, audio = utterance([("sil", 3.0)])
    neutral_gap = lip_gap_mm(arkit_rig, arkit_rig.vertices(arkit_rig.neutral()[None]))[0]
    for seed in range(3):
        m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(seed))
        mouth = [I[n] for n in ARKIT_ACTIONS if n.startswith(("mouth", "jaw", "tongue"))]
        assert m[:, mouth].max() < 0.1
        gap = lip_gap_mm(arkit_rig, arkit_rig.vertices(m))
        assert np.abs(gap - neutral_gap).max() < 1.0
    # Trailing pause of a sentence: the mouth returns to rest.
    phones, audio = utterance(SENTENCE)
    m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(0))
    assert m[-5:, I["jawOpen"]].max() < 0.05 and m[-5:, I["mouthClose"]].max() < 0.05


def test_lips_anticipate_acoustic_onset():
    phones, audio = utterance([("sil", 1.0), ("b", 0.07), ("uw", 0.25), ("sil", 0.6)])
    m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(0))
    before = int(round((1.0 - 0.1) * FPS))  # 100 ms before the /b/
    assert m[before, I["mouthPucker"]] > 0.1  # rounding for /uw/ has started
    assert m[int(0.5 * FPS), I["mouthPucker"]] < 0.05  # but not in the middle of the pause


# --- expression -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def expression_geometry(arkit_rig):
    """Per emotion (intensity 3) clip-mean corner height, brow height, eye opening (mm)."""
    phones, audio = utterance(SENTENCE)
    up = arkit_rig.group("upper_lip")
    neutral_v = arkit_rig.vertices(arkit_rig.neutral()[None])[0]
    raised = {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0}
    brows_up = arkit_rig.vertices(arkit_rig.params_from_dict(raised))[0]
    moved = np.linalg.norm(brows_up - neutral_v, axis=1)
    brow = np.where(moved > 0.5 * moved.max())[0]
    lid_u = np.concatenate([arkit_rig.group("eyelid_upper_left"), arkit_rig.group("eyelid_upper_right")])
    lid_l = np.concatenate([arkit_rig.group("eyelid_lower_left"), arkit_rig.group("eyelid_lower_right")])
    out = {}
    for emotion in ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted"):
        rows = []
        for m in motions(phones, audio, emotion, 3, range(4)):
            v = arkit_rig.vertices(no_head(m))
            corners = 1000 * v[:, [up[0], up[-1]], 1].mean()
            brow_y = 1000 * v[:, brow, 1].mean()
            eye = 1000 * np.median(v[:, lid_u, 1].mean(1) - v[:, lid_l, 1].mean(1))
            rows.append((corners, brow_y, eye))
        out[emotion] = np.mean(rows, axis=0)
    return out


def test_emotions_on_the_face(expression_geometry):
    g = expression_geometry
    corners, brow, eye = 0, 1, 2
    assert g["happy"][corners] > g["neutral"][corners] + 1.0  # smile raises the corners
    assert g["sad"][corners] < g["neutral"][corners] - 0.2  # AU15 pulls them down
    assert g["angry"][brow] < g["neutral"][brow] - 0.5  # AU4
    assert g["surprised"][brow] > g["neutral"][brow] + 1.0  # AU1+2
    assert g["surprised"][eye] > g["neutral"][eye] + 0.5  # AU5
    assert g["fearful"][eye] > g["neutral"][eye] + 0.3


def test_emotion_parameters(sentence):
    phones, audio = sentence

    def mean(emotion, names, intensity=3):
        ms = motions(phones, audio, emotion, intensity, range(6))
        return float(np.mean([m[:, [I[n] for n in names]].mean() for m in ms]))

    assert mean("sad", ["browInnerUp"]) > mean("neutral", ["browInnerUp"]) + 0.2
    assert mean("sad", ["mouthFrownLeft", "mouthFrownRight"]) > 0.15
    assert mean("angry", ["browDownLeft", "browDownRight"]) > 0.3
    assert mean("disgusted", ["noseSneerLeft", "noseSneerRight"]) > 0.2
    assert mean("fearful", ["mouthStretchLeft", "mouthStretchRight"]) > 0.2
    # Contempt is one-sided: per clip, one smile corner clearly dominates.
    for m in motions(phones, audio, "contemptuous", 3, range(6)):
        left, right = m[:, I["mouthSmileLeft"]].mean(), m[:, I["mouthSmileRight"]].mean()
        assert max(left, right) > 2.0 * min(left, right)
    # Neutral is near zero.
    assert mean("neutral", ["browDownLeft", "mouthSmileLeft", "noseSneerLeft", "eyeWideLeft", "cheekSquintLeft"]) < 0.05


def test_intensity_scales_expression(sentence):
    phones, audio = sentence
    cases = (("happy", ["mouthSmileLeft", "mouthSmileRight"]), ("angry", ["browDownLeft", "browDownRight"]))
    for emotion, names in cases:
        strength = {}
        for level in (1, 3):
            ms = motions(phones, audio, emotion, level, range(8))
            strength[level] = np.mean([m[:, [I[n] for n in names]].mean() for m in ms])
        assert strength[3] > 1.8 * strength[1], (emotion, strength)


def test_expression_varies_per_clip(sentence):
    phones, audio = sentence
    means = np.array([m[:, :N_ACT].mean(0) for m in motions(phones, audio, "happy", 2, range(8))])
    smile = means[:, I["mouthSmileLeft"]]
    assert smile.std() > 0.1 * smile.mean()


# --- behaviour --------------------------------------------------------------------------------


def count_blinks(m, fps=FPS):
    closed = m[:, I["eyeBlinkLeft"]] > 0.5
    return np.where(closed[1:] & ~closed[:-1])[0] + 1


def test_blink_rate_and_double_blinks():
    rng = np.random.default_rng(123)
    total_time, onsets_all, doubles = 0.0, 0, 0
    for seed in range(30):
        phones, audio = random_utterance(rng, 20.0)
        m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(seed))
        onsets = count_blinks(m)
        total_time += len(m) / FPS
        onsets_all += len(onsets)
        doubles += int((np.diff(onsets) / FPS < 0.45).sum())
    rate = onsets_all / total_time
    assert 0.28 <= rate <= 0.45, rate
    assert doubles >= 3


def test_blink_shape_is_fast_close_slow_open():
    phones, audio = random_utterance(np.random.default_rng(5), 30.0)
    m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(5), fps=100.0)
    lid = m[:, I["eyeBlinkLeft"]]
    closing, opening = [], []
    for onset in count_blinks(m, fps=100.0):
        start = onset
        while start > 0 and lid[start - 1] > 0.05:
            start -= 1
        peak = start + int(np.argmax(lid[start : start + 30]))
        end = peak
        while end < len(lid) - 1 and lid[end] > 0.05 and end - peak < 60:
            end += 1
        closing.append(peak - start)
        opening.append(end - peak)
    assert len(closing) >= 5
    assert 5 <= np.median(closing) <= 14  # ~50-140 ms
    assert np.median(opening) > 1.3 * np.median(closing)


def test_gaze_is_conjugate_and_small(sentence):
    phones, audio = sentence
    m = synthesize_motion(phones, audio, SR, "neutral", 1, np.random.default_rng(2))
    h_left = m[:, I["eyeLookOutLeft"]] - m[:, I["eyeLookInLeft"]]
    h_right = m[:, I["eyeLookInRight"]] - m[:, I["eyeLookOutRight"]]
    np.testing.assert_allclose(h_left, h_right, atol=0.06)  # both eyes turn the same way
    assert np.abs(h_left).max() < 0.5
    assert np.abs(np.diff(h_left)).max() > 0.01  # saccades happen


def test_sad_head_and_gaze_go_down(sentence):
    phones, audio = sentence
    sad = motions(phones, audio, "sad", 3, range(6))
    neutral = motions(phones, audio, "neutral", 3, range(6))
    pitch = lambda ms: np.mean([m[:, I["headPitch"]].mean() for m in ms])  # noqa: E731
    assert pitch(sad) > pitch(neutral) + 0.03  # headPitch > 0 nods down
    head_sd = lambda ms: np.mean([m[:, I["headYaw"]].std() for m in ms])  # noqa: E731
    assert head_sd(motions(phones, audio, "angry", 3, range(6))) > head_sd(sad)


def test_prosody_features():
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    audio = np.where(t < 1.0, 0.5 * np.sin(2 * np.pi * 150.0 * t), 0.0)
    p = prosody_features(audio, sr, 25.0)
    assert p["rms"].shape == (38,) and p["f0"].shape == (38,)
    voiced = p["voiced"][3:22]
    assert voiced.all()
    np.testing.assert_allclose(p["f0"][3:22], 150.0, rtol=0.02)
    assert not p["voiced"][28:].any()
    assert p["loudness"][10] > 0.9 and p["loudness"][30] < 0.1
