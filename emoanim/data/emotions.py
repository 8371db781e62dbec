"""The emotion vocabulary shared by data, models and the app (MEAD's 8 categories, 3 levels)."""

from __future__ import annotations

from emoanim.errors import EmoAnimError

EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "contemptuous",
)  # fmt: skip
INTENSITIES: tuple[int, ...] = (1, 2, 3)  # MEAD levels: 1 weak, 2 medium, 3 strong

# Other spellings people (and MEAD's folders) use for the same categories.
ALIASES: dict[str, str] = {
    "fear": "fearful", "afraid": "fearful", "scared": "fearful",
    "disgust": "disgusted", "surprise": "surprised", "contempt": "contemptuous",
    "happiness": "happy", "joy": "happy", "sadness": "sad", "anger": "angry", "calm": "neutral",
}  # fmt: skip


def canonical_emotion(name: str) -> str:
    """'Fear' / 'fearful' / 'afraid' -> 'fearful'; unknown names raise a clear error."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in EMOTIONS:
        raise EmoAnimError(f"unknown emotion '{name}'; choose one of: {', '.join(EMOTIONS)}")
    return key


def check_intensity(level: int) -> int:
    if level not in INTENSITIES:
        raise EmoAnimError(f"intensity must be 1, 2 or 3 (weak, medium, strong), got {level}")
    return int(level)
