"""A tiny MEAD-layout folder of FLAME fits for the native FLAME road's end-to-end test (FLAME data is
licensed and never committed): speech-like audio, a jaw that opens with its loudness, and expressions
that differ by emotion (so there is something for the emotion space to bind).

    ACTOR/audio/EMOTION/level_N/STEM.wav                 16 kHz mono
    ACTOR/flame/front/EMOTION/level_N/STEM.npz           exp [T, E], jaw_pose [T, 3] at 30 fps
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoanim.audio import save_wav
from emoanim.bench import synthetic_speech

MEAD_EMOTIONS = ("neutral", "happy", "sad", "angry", "fear", "disgusted", "surprised", "contempt")


def write_mead_flame(root: Path, actors=("M003", "M005", "W009", "W011"), seconds: float = 1.2,
                     num_expressions: int = 50, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for a, actor in enumerate(actors):
        for e, emotion in enumerate(MEAD_EMOTIONS):
            level = 1 if emotion == "neutral" else 3
            wave = synthetic_speech(seconds + 0.05 * e + 0.02 * a)  # (a deterministic speech-like signal)
            audio = root / actor / "audio" / emotion / f"level_{level}" / "001.wav"
            audio.parent.mkdir(parents=True, exist_ok=True)
            save_wav(audio, wave, 16000)
            frames = int(np.ceil(len(wave) / 16000 * 30))
            loud = np.interp(np.arange(frames) / 30, np.arange(len(wave)) / 16000, np.abs(wave))
            loud = np.convolve(loud, np.ones(5) / 5, "same") / max(loud.max(), 1e-6)
            exp = rng.normal(0, 0.1, (frames, num_expressions)).astype(np.float32)
            exp[:, e % num_expressions] += 1.5  # each emotion its own expression
            jaw = np.zeros((frames, 3), np.float32)
            jaw[:, 0] = 0.25 * loud
            motion = root / actor / "flame" / "front" / emotion / f"level_{level}" / "001.npz"
            motion.parent.mkdir(parents=True, exist_ok=True)
            np.savez(motion, exp=exp, jaw_pose=jaw)
    return root
