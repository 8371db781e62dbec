"""The one interface every face model ("rig") offers to the rest of EmoAnim.

A rig maps a parameter sequence ``params[T, D]`` (ordered by ``param_names``) to posed
meshes ``[T, V, 3]`` in metres. Every rig returns vertices in one shared frame, so the
renderer needs no per-rig camera logic:

    +X = the subject's left, +Y = up, +Z = out of the face (towards the camera).

Named vertex groups give later code (metrics, losses, tests) the places it measures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from emoanim.errors import EmoAnimError

# Parameter groups every rig names (possibly empty): what moves the lips, the eyes (blinks, gaze), the
# brows and the head. Models and plots find channels through these, never through name prefixes.
PARAM_GROUPS = ("mouth", "eyes", "blink", "gaze", "brows", "head")

# Vertex groups every rig must provide (index arrays into the vertex list).
REQUIRED_GROUPS = (
    "upper_lip",  # inner upper-lip midline, left to right
    "lower_lip",  # inner lower-lip midline, left to right
    "mouth",  # the whole mouth region (lips and their surroundings)
    "mouth_corners",  # [2]: where the lips meet at the subject's left (+X), then right
    "eyelid_upper_left",
    "eyelid_lower_left",
    "eyelid_upper_right",
    "eyelid_lower_right",
)


class FaceRig(ABC):
    """A face model: parameters -> vertices, plus what a renderer and metrics need."""

    name: str
    param_names: tuple[str, ...]
    faces: np.ndarray  # [F, 3] int32 triangles
    vertex_colors: np.ndarray  # [V, 3] float32 in [0, 1] (skin, eyes, mouth interior)
    vertex_groups: dict[str, np.ndarray]  # name -> int64 vertex indices
    param_groups: dict[str, tuple[str, ...]]  # PARAM_GROUPS name -> parameter names (mouth, eyes, brows, head, ...)

    @property
    def num_params(self) -> int:
        return len(self.param_names)

    @property
    def num_vertices(self) -> int:
        return int(self.vertex_colors.shape[0])

    @property
    def vertex_gloss(self) -> np.ndarray:
        """[V] float32 in [0, 1]: how glossy each vertex is (0 = matte skin ... 1 = a wet eye), for the
        renderer's highlights. Rigs that know their eyes and lips override it."""
        return np.zeros(self.num_vertices, dtype=np.float32)

    def neutral(self) -> np.ndarray:
        """[D] float32: the relaxed, closed-mouth face looking straight ahead."""
        return np.zeros(self.num_params, dtype=np.float32)

    def param_index(self, name: str) -> int:
        try:
            return self.param_names.index(name)
        except ValueError:
            raise EmoAnimError(
                f"rig '{self.name}' has no parameter '{name}'; "
                f"it has: {', '.join(self.param_names)}"
            ) from None

    def group_params(self, group: str) -> tuple[str, ...]:
        """The parameter names of one of ``PARAM_GROUPS``."""
        if group not in PARAM_GROUPS:
            raise EmoAnimError(f"unknown parameter group '{group}'; choose one of: {', '.join(PARAM_GROUPS)}")
        return tuple(self.param_groups.get(group, ()))

    def group_indices(self, group: str) -> np.ndarray:
        """Indices into ``param_names`` of one of ``PARAM_GROUPS``."""
        return np.array([self.param_names.index(n) for n in self.group_params(group)], dtype=np.int64)

    def params_from_dict(self, values: dict[str, float], frames: int = 1) -> np.ndarray:
        """[frames, D] neutral parameters with the named entries set."""
        params = np.tile(self.neutral(), (frames, 1))
        for key, value in values.items():
            params[:, self.param_index(key)] = value
        return params

    def check_params(self, params: np.ndarray) -> np.ndarray:
        """Validate and return params as float32 [T, D]."""
        params = np.asarray(params)
        if params.ndim == 1:
            params = params[None]
        if params.ndim != 2 or params.shape[1] != self.num_params:
            raise EmoAnimError(
                f"rig '{self.name}' expects parameters of shape [frames, {self.num_params}], "
                f"got {list(params.shape)}"
            )
        if not np.isfinite(params).all():
            raise EmoAnimError("parameters contain NaN or infinite values")
        return params.astype(np.float32, copy=False)

    @abstractmethod
    def vertices(self, params: np.ndarray) -> np.ndarray:
        """params [T, D] -> vertices [T, V, 3] float32, metres, in the shared frame."""

    def vertices_at(self, params: np.ndarray, index: np.ndarray) -> np.ndarray:
        """params [T, D] -> the vertices ``index`` only, [T, len(index), 3] metres (metrics pose the
        lips alone; rigs override this when they can skip the rest of the mesh)."""
        return self.vertices(params)[:, np.asarray(index)]

    def group(self, name: str) -> np.ndarray:
        try:
            return self.vertex_groups[name]
        except KeyError:
            raise EmoAnimError(
                f"rig '{self.name}' has no vertex group '{name}'; "
                f"it has: {', '.join(sorted(self.vertex_groups))}"
            ) from None
