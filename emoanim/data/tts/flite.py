"""flite (CLI): ``-psdur`` prints each segment with its end time, so its timings are exact.

Style goes through ``duration_stretch``, ``f0_shift`` and ``int_f0_target_stddev``; rms ignores
f0 features, so its pitch is shifted afterwards with sox.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from emoanim.data.tts.engine import EngineOutput, ascii_text, need_binary, read_wav, run_engine, segments_from_ends
from emoanim.data.tts.voices import Voice, make_voice

# flite voice -> (gender, default duration_stretch, default int_f0 stddev in Hz, pitch control).
# Defaults come from flite's voice definitions (kal: 1.1 stretch / 14 Hz; cg voices: measured).
# rms ignores f0 features, so its pitch is shifted with sox instead.
FLITE_VOICES: dict[str, tuple[str, float, float, bool]] = {
    "kal": ("m", 1.1, 11.0, True),
    "kal16": ("m", 1.1, 14.0, True),
    "awb": ("m", 1.0, 25.0, True),
    "rms": ("m", 1.0, 0.0, False),
    "slt": ("f", 1.0, 27.0, True),
}


def flite_voices() -> list[Voice]:
    exe = shutil.which("flite")
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, "-lv"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    listed = set(proc.stdout.replace("Voices available:", " ").split())
    return [make_voice(f"flite/{name}", "flite", name, "en-us", "", info[0])
            for name, info in FLITE_VOICES.items() if name in listed]


def flite_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                timeout: float) -> EngineOutput:
    exe = need_binary("flite", "flite")
    _, stretch, f0_std, has_f0 = FLITE_VOICES.get(voice.engine_voice, ("?", 1.0, 0.0, False))
    cmd = [exe, "-voice", voice.engine_voice, "--setf", f"duration_stretch={stretch / rate:.4f}"]
    if has_f0:
        cmd += ["--setf", f"f0_shift={2.0 ** (pitch / 12.0):.4f}",
                "--setf", f"int_f0_target_stddev={f0_std * pitch_range:.2f}"]
    with tempfile.TemporaryDirectory(prefix="emoanim_flite_") as tmp:
        out = Path(tmp) / "out.wav"
        proc = run_engine(cmd + ["-psdur", "-t", ascii_text(text), "-o", str(out)], timeout, "flite")
        audio, sr = read_wav(out, "flite")
    items = []
    for tok in proc.stdout.decode("utf-8", "replace").split():
        name, _, end = tok.rpartition(":")
        try:
            items.append((name, float(end)))
        except ValueError:
            continue
    phones = segments_from_ends(items, len(audio) / sr) if items else None
    return EngineOutput(audio, sr, phones, None, pitch_done=has_f0)
