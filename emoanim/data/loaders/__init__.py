"""Importers that turn real dataset folders into the corpus format (``emoanim.data.corpus``).

* ``import_arkit_dataset``: ARKit blendshapes + audio, laid out like EmoTalk's 3D-ETF (RAVDESS, HDTF),
  ``.npy`` arrays or Live Link Face CSVs -> an 'arkit' corpus. Layout: ``emoanim.data.loaders.arkit_etf``.
* ``import_mead_flame``: FLAME fits (e.g. EMOCA) of MEAD + its audio -> a 'flame' corpus.
  Layout: ``emoanim.data.loaders.mead``.
* ``import_videos``: talking-face videos (MEAD, RAVDESS or your own) -> an 'arkit' corpus of curves
  tracked by MediaPipe and the videos' audio. Layout: ``emoanim.data.loaders.video``.

All resample motion to the corpus fps (25 by default), decode audio to 16 kHz mono, split by
speaker, never unpickle, skip bad clips with a reason (``ImportReport.summary()``), and resume an
interrupted import when run again with the same settings.
"""

from emoanim.data.loaders.arkit_etf import (
    EMOTALK_BLENDSHAPES,
    ETF_FPS,
    import_arkit_dataset,
    load_arkit_coefficients,
    parse_ravdess_name,
    read_names_file,
)
from emoanim.data.loaders.common import ClipError, ImportReport, Skipped, assign_splits
from emoanim.data.loaders.mead import MEAD_FPS, import_mead_flame, load_flame_clip
from emoanim.data.loaders.video import import_videos

__all__ = [
    "EMOTALK_BLENDSHAPES",
    "ETF_FPS",
    "MEAD_FPS",
    "ClipError",
    "ImportReport",
    "Skipped",
    "assign_splits",
    "import_arkit_dataset",
    "import_mead_flame",
    "import_videos",
    "load_arkit_coefficients",
    "load_flame_clip",
    "parse_ravdess_name",
    "read_names_file",
]
