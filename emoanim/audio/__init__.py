"""Audio loading and saving (ffmpeg-backed, any common format)."""

from emoanim.audio.io import (
    ACCEPTED_FORMATS,
    audio_duration,
    ffmpeg_exe,
    is_silent,
    load_audio,
    save_wav,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "audio_duration",
    "ffmpeg_exe",
    "is_silent",
    "load_audio",
    "save_wav",
]
