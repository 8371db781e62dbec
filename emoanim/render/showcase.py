"""Pictures and videos for checking a rig by eye: every ARKit action, labelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from emoanim.fileio import atomic_write
from emoanim.render.clip import render_video
from emoanim.render.renderer import FaceRenderer, RenderConfig
from emoanim.rigs.base import FaceRig

# The poses of the README's still strip: what the rig looks like at a glance.
DOC_POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "jawOpen": {"jawOpen": 1.0},
    "smile": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5, "jawOpen": 0.2},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "brows down": {"browDownLeft": 1.0, "browDownRight": 1.0},
}


def label(image: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of an RGB frame."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(12, image.shape[0] // 22))
    draw.text((8, 6), text, fill=(30, 30, 40), font=font)
    return np.asarray(canvas)


def render_poses(rig: FaceRig, poses: dict[str, dict[str, float]], config: RenderConfig) -> list[np.ndarray]:
    """One labelled still per named pose."""
    with FaceRenderer(rig, config) as renderer:
        params = np.concatenate([rig.params_from_dict(values) for values in poses.values()])
        return [label(renderer.render(v), name) for name, v in zip(poses, rig.vertices(params))]


def grid(images: list[np.ndarray], columns: int) -> np.ndarray:
    """Tile equally sized images row by row, padding the last row with white."""
    rows = -(-len(images) // columns)
    blank = np.full_like(images[0], 255)
    cells = images + [blank] * (rows * columns - len(images))
    return np.concatenate([np.concatenate(cells[r * columns : (r + 1) * columns], 1) for r in range(rows)], 0)


def save_png(image: np.ndarray, path: str | Path) -> Path:
    return atomic_write(path, lambda f: Image.fromarray(image).save(f, format="PNG"), binary=True)


HEAD_EXTREME = 0.35  # radians (20 degrees): how far the sweeps and stills turn the head


def action_extremes(rig: FaceRig) -> dict[str, float]:
    """How far to raise each parameter to show it: weights to 1, head angles to ``HEAD_EXTREME``."""
    head = set(rig.group_params("head"))
    return {name: HEAD_EXTREME if name in head else 1.0 for name in rig.param_names}


def action_sweep(rig: FaceRig, fps: float = 25.0, seconds_per_action: float = 1.0) -> tuple[np.ndarray, list[str]]:
    """Each parameter raised to its extreme and back, one after another.

    Returns params [T, D] and the label of each frame. Head angles sweep to ``HEAD_EXTREME`` rad.
    """
    n = max(2, int(round(seconds_per_action * fps)))
    ramp = np.sin(np.linspace(0.0, np.pi, n)) ** 2  # eased 0 -> 1 -> 0
    extremes = action_extremes(rig)
    frames, labels = [], []
    for i, name in enumerate(rig.param_names):
        block = np.tile(rig.neutral(), (n, 1))
        block[:, i] += ramp * extremes[name]
        frames.append(block)
        labels += [name] * n
    return np.concatenate(frames), labels


def render_showcase(rig: FaceRig, out_path: str | Path, config: RenderConfig, fps: float = 25.0) -> Path:
    """An MP4 that raises every parameter of the rig in turn, each frame labelled with its name."""
    params, labels = action_sweep(rig, fps)
    return render_video(
        rig, params, fps, out_path, config=config, overlay=lambda index, image: label(image, labels[index])
    )
