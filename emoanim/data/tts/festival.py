"""festival (CLI, a Scheme script per clip): ``utt.save.segs`` writes segment end times.

Style goes through ``Duration_Stretch`` and ``int_lr_params`` (diphone voices) or the HTS
engine's speed option; the HTS voice has no pitch control, so sox shifts its pitch afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from emoanim.data.tts.engine import EngineOutput, ascii_text, need_binary, read_wav, run_engine, segments_from_ends
from emoanim.data.tts.voices import Voice, make_voice
from emoanim.errors import EmoAnimError

# festival voice -> (gender, accent, default Duration_Stretch, target f0 mean, target f0 std, kind)
FESTIVAL_VOICES: dict[str, tuple[str, str, float, float, float, str]] = {
    "kal_diphone": ("m", "en-us", 1.1, 105.0, 14.0, "diphone"),
    "ked_diphone": ("m", "en-us", 1.1, 105.0, 15.0, "diphone"),
    "cmu_us_slt_arctic_hts": ("f", "en-us", 1.0, 0.0, 0.0, "hts"),
}


def festival_voices() -> list[Voice]:
    exe = shutil.which("festival")
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, "--pipe"], input="(print (voice.list))\n", capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    listed = set(re.findall(r"[\w-]+", proc.stdout))
    return [make_voice(f"festival/{name}", "festival", name, info[1], "", info[0])
            for name, info in FESTIVAL_VOICES.items() if name in listed]


def _scheme_string(text: str) -> str:
    return '"' + ascii_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_synth(text: str, voice: Voice, pitch: float, pitch_range: float, rate: float,
                   timeout: float) -> EngineOutput:
    exe = need_binary("festival", "festival")
    _, _, stretch, f0_mean, f0_std, kind = FESTIVAL_VOICES.get(
        voice.engine_voice, ("?", "en-us", 1.0, 0.0, 0.0, "hts"))
    with tempfile.TemporaryDirectory(prefix="emoanim_festival_") as tmp:
        wav, segs = Path(tmp) / "out.wav", Path(tmp) / "out.segs"
        lines = [f"(voice_{voice.engine_voice})"]
        if kind == "diphone":
            lines.append(f"(Parameter.set 'Duration_Stretch {stretch / rate:.4f})")
            lines.append(
                f"(set! int_lr_params '((target_f0_mean {f0_mean * 2.0 ** (pitch / 12.0):.2f}) "
                f"(target_f0_std {f0_std * pitch_range:.2f}) (model_f0_mean 170) (model_f0_std 34)))"
            )
        else:  # HTS: its own duration model ignores Duration_Stretch; -r is the engine's speed
            lines.append(f"(set! hts_engine_params (append hts_engine_params '((\"-r\" {rate:.4f}))))")
        lines += [
            f"(set! emoanim_utt (Utterance Text {_scheme_string(text)}))",
            "(utt.synth emoanim_utt)",
            f"(utt.save.wave emoanim_utt \"{wav}\" 'riff)",
            f"(utt.save.segs emoanim_utt \"{segs}\")",
        ]
        script = Path(tmp) / "synth.scm"
        script.write_text("\n".join(lines) + "\n", encoding="ascii")
        run_engine([exe, "--batch", str(script)], timeout, f"festival ({voice.engine_voice})")
        if not wav.exists():
            raise EmoAnimError(f"festival produced no audio for voice {voice.engine_voice}: is the voice installed?")
        audio, sr = read_wav(wav, "festival")
        items = []
        for line in segs.read_text(encoding="latin-1").splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3:
                try:
                    items.append((parts[2], float(parts[0])))
                except ValueError:
                    continue
    phones = segments_from_ends(items, len(audio) / sr) if items else None
    return EngineOutput(audio, sr, phones, None, pitch_done=(kind == "diphone"))
