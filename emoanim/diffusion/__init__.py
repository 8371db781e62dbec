"""Emotion-aware diffusion over facial-parameter sequences (paper Sec. III-B).

    denoiser.py     the transformer that predicts the clean sequence (or the noise)
    scheduler.py    noise levels, the prediction type and the reverse steps (pure maths)
    samplers.py     DDIM, ancestral DDPM, guidance, window inpainting: pure functions
    behaviour.py    the behaviour stream: blinks, gaze and head motion from an autoregressive mixture density
    generator.py    MotionGenerator = denoiser + scheduler + normalisation (+ behaviour stream), ``sample``
    regression.py   RegressionGenerator, the deterministic baseline on the same backbone
    sync_expert.py  the lip-sync expert (a loss for training, a judge for evaluation)
"""

from __future__ import annotations

import json
from pathlib import Path

from emoanim.diffusion.generator import GeneratorBase, GeneratorConfig, MotionGenerator
from emoanim.diffusion.regression import RegressionConfig, RegressionGenerator
from emoanim.persistence import CONFIG_FILE

GENERATORS: dict[str, type[GeneratorBase]] = {"diffusion": MotionGenerator, "regression": RegressionGenerator}


def load_generator(folder: str | Path, device: str = "cpu") -> MotionGenerator | RegressionGenerator:
    """The generator in ``folder``, of the class its config names (``kind``: diffusion or regression)."""
    try:
        kind = json.loads((Path(folder).expanduser() / CONFIG_FILE).read_text()).get("kind", "diffusion")
    except (OSError, ValueError, AttributeError):
        kind = "diffusion"  # from_pretrained says what is missing or damaged
    # An unknown kind fails in from_config with a message that names it.
    return GENERATORS.get(kind, MotionGenerator).from_pretrained(folder, device)


__all__ = ["GeneratorBase", "GeneratorConfig", "MotionGenerator", "RegressionConfig", "RegressionGenerator", "GENERATORS",
           "load_generator"]
