"""Make the example clips bundled in ``assets/`` (used by the app's ``gr.Examples`` and the tests).

Each clip is one sentence spoken by the repo's own TTS (``emoanim.data.tts``) with the emotional
prosody of one emotion (``emotion_prosody``: pitch level and range, rate, loudness, pauses, voice
quality), encoded in a different format so the examples also exercise the audio decoders.
Deterministic: rerunning gives the same audio (up to encoder versions).

    python assets/make_assets.py            # needs espeak-ng, flite, festival, sox (make setup)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing the package

from emoanim.audio.io import ffmpeg_exe, save_wav  # noqa: E402
from emoanim.data.tts import emotion_prosody, list_voices, synthesize  # noqa: E402
from emoanim.vocabulary import SAMPLE_RATE  # noqa: E402

# (file name, voice id, emotion, intensity, sentence, ffmpeg codec options)
CLIPS = (
    ("happy.ogg", "flite/slt", "happy", 3, "We won! I can't believe it, this is wonderful!",
     ["-c:a", "libvorbis", "-q:a", "3"]),
    ("sad.mp3", "festival/kal_diphone", "sad", 3, "I miss the old house by the river.",
     ["-c:a", "libmp3lame", "-b:a", "48k"]),
    ("angry.wav", "espeak/en-us+m3", "angry", 3, "Stop that right now! I told you twice, I mean it!",
     ["-c:a", "pcm_s16le"]),
    ("surprised.flac", "flite/awb", "surprised", 3, "Oh my, you made all of this by yourself?",
     ["-c:a", "flac"]),
)


def make_clip(name: str, voice_id: str, emotion: str, intensity: int, text: str, codec: list[str]) -> Path:
    voice = next(v for v in list_voices() if v.id == voice_id)
    style = emotion_prosody(emotion, intensity, np.random.default_rng(7))
    clip = synthesize(text, voice, style, sample_rate=SAMPLE_RATE, lead_silence=0.1, trail_silence=0.15)
    out = HERE / name
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        save_wav(wav, clip.audio, SAMPLE_RATE)
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-i", str(wav), "-ac", "1", *codec,
                        str(out)], check=True)
    size_kib = out.stat().st_size / 1024
    print(f"{out.name:16s} {clip.duration:4.1f} s  {size_kib:5.1f} KiB  {emotion} ({voice_id}): {text}")
    return out


def main() -> None:
    for spec in CLIPS:
        make_clip(*spec)


if __name__ == "__main__":
    main()
