"""Face rigs: parameters -> meshes. ``load_rig`` builds one by name.

``rig_param_names`` answers which parameters a rig has without building its mesh, so that
motion files can be validated cheaply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.rigs.base import PARAM_GROUPS, FaceRig

RIG_NAMES = ("arkit", "flame")
DEFAULT_RIG = "arkit"


def _check_rig_name(name: str) -> None:
    if name not in RIG_NAMES:
        raise EmoAnimError(f"unknown rig '{name}'; choose one of: {', '.join(RIG_NAMES)}")


def rig_param_names(name: str, num_expressions: int = 50) -> tuple[str, ...]:
    """Ordered parameter names of a rig, without loading any model file."""
    _check_rig_name(name)
    if name == "arkit":
        from emoanim.rigs.arkit import ARKIT_PARAMS  # lazy: start-up time (here and below; FLAME loads scipy)

        return ARKIT_PARAMS
    from emoanim.rigs.flame import flame_param_names

    return flame_param_names(num_expressions)


def rig_param_groups(name: str, num_expressions: int = 50) -> dict[str, tuple[str, ...]]:
    """A rig's parameter groups (``FaceRig.param_groups``), without loading any model file."""
    _check_rig_name(name)
    if name == "arkit":
        from emoanim.rigs.arkit import ARKIT_GROUPS

        return dict(ARKIT_GROUPS)
    from emoanim.rigs.flame import flame_param_groups

    return flame_param_groups(num_expressions)


def params_in_groups(name: str, names: Sequence[str], groups: Sequence[str]) -> np.ndarray:
    """[D] bool: which of ``names`` belong to any of the rig's parameter ``groups`` (``rig_param_groups``;
    an unknown group name is an error)."""
    known = rig_param_groups(name, num_expressions=100)  # (the largest FLAME: any size's names)
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise EmoAnimError(f"unknown parameter group(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    members = {n for g in groups for n in known[g]}
    return np.array([n in members for n in names], bool)


def rig_param_ranges(name: str, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(low [D], high [D]): the values each of ``names`` may take on rig ``name`` (ARKit weights in
    [0, 1], head angles within the neck's range; FLAME's coefficients are unbounded)."""
    _check_rig_name(name)
    low, high = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    if name == "arkit":
        from emoanim.rigs.arkit import ACTION_RANGE, ARKIT_ACTIONS, HEAD_PARAMS, HEAD_RANGE

        for k, n in enumerate(names):
            low[k], high[k] = ACTION_RANGE if n in ARKIT_ACTIONS else HEAD_RANGE if n in HEAD_PARAMS else (low[k], high[k])
    return low, high


def load_rig(
    name: str = DEFAULT_RIG,
    avatar: str | None = None,
    flame_model: str | Path | None = None,
    num_expressions: int = 50,
) -> FaceRig:
    """Build a rig by name. ``avatar`` picks an Anny identity (arkit); FLAME needs its model file."""
    _check_rig_name(name)
    if name == "arkit":
        from emoanim.rigs.arkit import ArkitRig

        return ArkitRig(avatar=avatar)
    if avatar is not None:
        raise EmoAnimError("avatars are only available for the 'arkit' rig; FLAME's identity comes from its model file")
    if flame_model is None:
        raise EmoAnimError(
            "the 'flame' rig needs a FLAME model file: pass --flame-model PATH "
            "(FLAME 2020 generic_model.pkl or FLAME 2023 Open, from flame.is.tue.mpg.de)"
        )
    from emoanim.rigs.flame import FlameRig

    return FlameRig(flame_model, num_expressions=num_expressions)


__all__ = ["FaceRig", "PARAM_GROUPS", "rig_param_groups", "RIG_NAMES", "DEFAULT_RIG", "load_rig", "rig_param_names"]
