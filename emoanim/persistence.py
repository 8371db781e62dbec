"""Saving and loading models the diffusers way: a folder with a JSON config next to fp16 safetensors.

Weights are stored in fp16 (compact checkpoints) and loaded back in fp32; configs are plain data.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_model(folder: str | Path, model: nn.Module, config: dict, *, config_file: str = CONFIG_FILE,
               weights_file: str = WEIGHTS_FILE) -> Path:
    """Write ``config`` (JSON) and the model's state dict (fp16 safetensors) into ``folder``."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    blob = save(state)
    atomic_write(folder / weights_file, lambda f: f.write(blob), binary=True)
    text = json.dumps(config, indent=1)
    atomic_write(folder / config_file, lambda f: f.write(text), binary=False)
    return folder


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


def load_state(model: nn.Module, state: dict[str, torch.Tensor], folder: str | Path, what: str) -> nn.Module:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise EmoAnimError(f"the {what} weights in {folder} do not match its config ({exc})") from None
    return model.eval()


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
