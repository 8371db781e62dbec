"""Emotional text-to-speech for the synthetic corpus: many voices, emotion prosody, phone timings.

Three offline engines are wrapped behind one call, :func:`synthesize` (``speak``):

* **espeak-ng** (``espeak``), in-process through its C library; exact phone timings from its
  phoneme events.
* **flite** (``flite``, CLI); exact timings from ``-psdur``.
* **festival** (``festival``, CLI, a Scheme script per clip); timings from ``utt.save.segs``.

``voices`` holds the speaker type, ``prosody`` how each emotion changes the delivery,
``engine`` what the wrappers share, and ``postprocess`` the steps every clip goes through:
pitch with sox where an engine has no pitch control (keeping the length, so timings stay
valid), pauses, edge silence, voice quality and loudness (which move the timings with the
audio). Generic DSP (filters, noise, levels) is ``emoanim.audio.effects``.

Every clip is deterministic for a given (text, voice, style, rng seed).
"""

from emoanim.data.tts.engine import WordSegment
from emoanim.data.tts.espeak import espeak_phonemes
from emoanim.data.tts.prosody import VOICE_QUALITIES, ProsodyStyle, emotion_prosody
from emoanim.data.tts.speak import SpeechClip, list_voices, synthesize
from emoanim.data.tts.voices import ENGINES, Voice

__all__ = [
    "ENGINES",
    "VOICE_QUALITIES",
    "ProsodyStyle",
    "SpeechClip",
    "Voice",
    "WordSegment",
    "emotion_prosody",
    "espeak_phonemes",
    "list_voices",
    "synthesize",
]
