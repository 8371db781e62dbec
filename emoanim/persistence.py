"""Saving and loading models the diffusers way: a folder with a JSON config next to fp16 safetensors.

    folder/config.json        the architecture only (a config dataclass as plain data)
    folder/model.safetensors  the weights, fp16 (compact checkpoints), loaded back in fp32
    folder/training.json      how the model was trained and what it scored (optional; never read to build it)

Every model uses ``Pretrained`` for ``save_pretrained`` / ``from_pretrained``; writes are atomic.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.nn import config_from_dict

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TRAINING_FILE = "training.json"


def save_model(folder: str | Path, model: nn.Module, config: dict, *, config_file: str = CONFIG_FILE,
               weights_file: str = WEIGHTS_FILE, training: dict | None = None) -> Path:
    """Write ``config`` (JSON), the model's state dict (fp16 safetensors) and, when given, the
    ``training`` record (JSON) into ``folder``."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    blob = save(state)
    atomic_write(folder / weights_file, lambda f: f.write(blob), binary=True)
    text = json.dumps(config, indent=1)
    atomic_write(folder / config_file, lambda f: f.write(text), binary=False)
    if training is not None:
        write_training(folder, training)
    return folder


def write_training(folder: str | Path, training: dict) -> Path:
    """``folder/training.json``: the command, data, seed and metrics of a training run."""
    text = json.dumps(training, indent=1, default=str)
    return atomic_write(Path(folder) / TRAINING_FILE, lambda f: f.write(text), binary=False)


def read_training(folder: str | Path) -> dict:
    """The training record of a checkpoint folder ({} when it has none)."""
    path = Path(folder).expanduser() / TRAINING_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError) as exc:
        raise EmoAnimError(f"the training record {path} is damaged ({exc})") from None


def read_model(folder: str | Path, what: str, *, config_file: str = CONFIG_FILE,
               weights_file: str = WEIGHTS_FILE) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, fp32 state dict) from a folder written by ``save_model``; clear errors otherwise."""
    from safetensors.torch import load_file

    folder = Path(folder).expanduser()
    try:
        config = json.loads((folder / config_file).read_text())
        state = load_file(str(folder / weights_file))
    except FileNotFoundError:
        raise EmoAnimError(f"no {what} in {folder} (needs {config_file} and {weights_file})") from None
    except (json.JSONDecodeError, OSError, Exception) as exc:  # safetensors raises its own error types
        raise EmoAnimError(f"the {what} in {folder} is damaged ({exc})") from None
    return config, {k: v.float() for k, v in state.items()}


def upgrade_checkpoint(folder: str | Path, renames: dict[str, str] | None = None,
                       convert: Callable[[dict], dict] | None = None,
                       config_file: str = CONFIG_FILE, weights_file: str = WEIGHTS_FILE) -> bool:
    """Bring a checkpoint folder written by EmoAnim 0.1 to today's layout, once; True if it changed.

    - training results kept in ``config.json`` (the ``metrics`` key) move to ``training.json``;
    - ``convert`` (the model module's ``upgrade_config``) rewrites settings that were moved or dropped;
    - weight names that were renamed (``renames``: old prefix -> new prefix) are renamed. Values are
      untouched: fp16 -> fp32 -> fp16 is exact.
    Loaders read today's layout only: this is the one place that knows the old one.
    """
    folder = Path(folder)
    config, state = read_model(folder, "checkpoint", config_file=config_file, weights_file=weights_file)
    changed = False
    training = read_training(folder)
    for key in [k for k in ("metrics",) if k in config]:
        training.update(config.pop(key) or {})
        changed = True
    if convert is not None:
        converted = convert(config)
        changed, config = changed or converted != config, converted
    new_state, renamed = {}, False
    for name, value in state.items():
        for old, new in (renames or {}).items():
            if name.startswith(old):
                name, renamed = new + name[len(old):], True
                break
        new_state[name] = value
    if renamed:
        from safetensors.torch import save  # lazy: start-up time

        blob = save({k: v.to(torch.float16).contiguous() for k, v in new_state.items()})
        atomic_write(folder / weights_file, lambda f: f.write(blob), binary=True)
    if changed or renamed:
        text = json.dumps(config, indent=1)
        atomic_write(folder / config_file, lambda f: f.write(text), binary=False)
        if training:
            write_training(folder, training)
    return changed or renamed


def load_state(model: nn.Module, state: dict[str, torch.Tensor], folder: str | Path, what: str) -> nn.Module:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise EmoAnimError(f"the {what} weights in {folder} do not match its config ({exc})") from None
    return model.eval()


class Pretrained:
    """``save_pretrained`` / ``from_pretrained`` for a model built from one config dataclass.

    A model class sets ``config_class`` (its config dataclass) and ``what`` (its name in messages),
    keeps its config in ``self.config`` and takes it as the only argument of ``__init__``.
    """

    config_class: type
    what: str = "model"
    config_file: str = CONFIG_FILE
    weights_file: str = WEIGHTS_FILE

    def save_pretrained(self, folder: str | Path, training: dict | None = None) -> Path:
        return save_model(folder, self, dataclasses.asdict(self.config), config_file=self.config_file,
                          weights_file=self.weights_file, training=training)

    @classmethod
    def from_config(cls, config):
        """A fresh model from a config dataclass or its dict form."""
        return cls(config_from_dict(cls.config_class, config, cls.what))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu"):
        config, state = read_model(folder, cls.what, config_file=cls.config_file, weights_file=cls.weights_file)
        model = cls.from_config(config)
        return load_state(model, state, folder, cls.what).to(device)


def load_transformers_model(model_class: type, folder: str | Path, what: str, example: str) -> nn.Module:
    """A ``transformers`` model from a local checkpoint folder (never downloaded), with clear errors."""
    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise EmoAnimError(f"no {what} checkpoint in {folder} (needs config.json and model weights): "
                           f"download one, e.g. {example}, and give its folder")
    try:
        return model_class.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmoAnimError(f"could not load the {what} checkpoint in {folder} ({exc})") from None
