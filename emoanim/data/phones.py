"""Phones: the ARPAbet set every data component speaks, and timed phone segments."""

from __future__ import annotations

from dataclasses import dataclass

# CMUdict's 39 ARPAbet phones (no stress digits), lower case, plus "sil" for silence/pauses.
ARPABET: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh",
    "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th",
    "uh", "uw", "v", "w", "y", "z", "zh",
)  # fmt: skip
SILENCE = "sil"
PHONES: tuple[str, ...] = (SILENCE,) + ARPABET
VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"})
BILABIALS = frozenset({"p", "b", "m"})
LABIODENTALS = frozenset({"f", "v"})
ROUNDED = frozenset({"uw", "ow", "w", "uh", "oy", "ao"})


@dataclass(frozen=True)
class PhoneSegment:
    """One phone from ``start`` to ``end`` seconds. ``phone`` is in PHONES."""

    phone: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def normalize_phone(label: str) -> str:
    """'AH0' / 'ah1' / 'SIL' / '<sil>' / 'SP' -> ARPAbet lower case without stress, or 'sil'."""
    key = label.strip().lower().strip("<>").rstrip("012")
    if key in ("sil", "sp", "spn", "pau", "h#", "", "noise", "nsn", "+spn+", "+nsn+"):
        return SILENCE
    if key not in ARPABET:
        raise ValueError(f"not an ARPAbet phone: {label!r}")
    return key
