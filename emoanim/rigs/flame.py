"""The FLAME rig: FLAME expression coefficients and joint rotations -> head meshes.

FLAME (Li et al. 2017, flame.is.tue.mpg.de) is licensed separately, so the user passes its
model file: FLAME 2020 ``generic_model.pkl``, FLAME 2023 Open, or a ``.npz`` with the same
keys. It is read by ``safe_pickle`` (no code from the file runs, chumpy is not needed).

Parameters (``flame_param_names``), in this order, E = 50 or 100:

    exp00 .. exp{E-1}   expression coefficients (FLAME's expression blendshapes, which
                        follow the 300 identity components in ``shapedirs``)
    jaw_rx jaw_ry jaw_rz          axis-angle rotation (radians) of the jaw joint
    neck_rx neck_ry neck_rz       ... of the neck joint (turns the head on the neck)
    global_rx global_ry global_rz ... of the root joint (turns head and neck)
    leye_rx leye_ry leye_rz       ... of the eyeball on the subject's left (+X)
    reye_rx reye_ry reye_rz       ... of the eyeball on the subject's right (-X)

Each triple is FLAME's own local axis-angle vector (the ``jaw_pose``/``neck_pose``/
``global_orient``/``eye_pose`` of FLAME fitters), so fitted sequences copy over unchanged.
Positive ``jaw_rx`` opens the mouth. The identity is the template (no shape coefficients).

FLAME's frame already is the shared rig frame (+X subject's left, +Y up, +Z out of the
face, metres), so vertices come out as the model defines them.

Posing is FLAME's: vertices = template + expression offsets + pose correctives (``posedirs``
driven by (R - I) of the 4 non-root joints), joints regressed from the expressed template,
then linear blend skinning (``emoanim.rigs.lbs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from emoanim.errors import EmoAnimError
from emoanim.rigs.base import FaceRig
from emoanim.rigs.lbs import blend_shapes, lbs, rodrigues
from emoanim.rigs.safe_pickle import ChumpyObject, load_model_file

NUM_SHAPE_COMPONENTS = 300  # shapedirs[..., :300] is identity, the rest expression
SUPPORTED_EXPRESSIONS = (50, 100)
# FLAME's fixed joint order: 0 global (root), 1 neck, 2 jaw, 3 and 4 the eyeballs.
NUM_JOINTS = 5
GLOBAL, NECK, JAW = 0, 1, 2
EYE_JOINTS = (3, 4)
POSE_PARAM_GROUPS = ("jaw", "neck", "global", "leye", "reye")
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")

# Colours (linear RGB in [0, 1]).
SKIN = (0.87, 0.70, 0.60)
LIPS = (0.74, 0.42, 0.42)
EYE_WHITE = (0.94, 0.94, 0.92)
IRIS = (0.30, 0.19, 0.10)
PUPIL = (0.03, 0.03, 0.03)
IRIS_ANGLE, PUPIL_ANGLE = 0.50, 0.22  # half-angles (radians) of the discs seen from the eye centre


def flame_param_names(num_expressions: int = 50) -> tuple[str, ...]:
    """Ordered parameter names: ``exp00..`` then axis-angle triples (see the module doc)."""
    if num_expressions not in SUPPORTED_EXPRESSIONS:
        raise EmoAnimError(
            f"FLAME supports 50 or 100 expression parameters, not {num_expressions}"
        )
    expressions = tuple(f"exp{i:02d}" for i in range(num_expressions))
    poses = tuple(f"{group}_r{axis}" for group in POSE_PARAM_GROUPS for axis in "xyz")
    return expressions + poses


def flame_param_groups(num_expressions: int = 50) -> dict[str, tuple[str, ...]]:
    """FLAME's parameter groups by meaning (see ``ARKIT_GROUPS``): expressions and jaw move the lips."""
    names = flame_param_names(num_expressions)
    pose = lambda *groups: tuple(n for n in names if n.split("_r")[0] in groups)  # noqa: E731
    return {
        "mouth": tuple(n for n in names if n.startswith("exp")) + pose("jaw"),
        "eyes": pose("leye", "reye"),
        "blink": (),  # FLAME closes eyelids through expressions, not one parameter
        "gaze": pose("leye", "reye"),
        "brows": (),
        "head": pose("neck", "global"),
    }


class FlameRig(FaceRig):
    """FLAME head posed by expressions and jaw/neck/global/eye rotations (identity fixed).

    Besides ``REQUIRED_GROUPS`` (lips and eyelids from the mouth and eye boundary loops,
    corners excluded, ordered by ascending x), ``vertex_groups`` has ``eyeball_left``,
    ``eyeball_right`` and ``eyes`` (both). ``v_template`` [V, 3] is the rest mesh.
    """

    name = "flame"
    frames_per_chunk = 128  # bounds LBS memory: [chunk, V, 3, 4] floats per step

    def __init__(self, model_path: str | Path, num_expressions: int = 50) -> None:
        self.param_names = flame_param_names(num_expressions)
        self.param_groups = flame_param_groups(num_expressions)
        self.num_expressions = num_expressions
        self.model_path = Path(model_path)
        model = _read_model(load_model_file(model_path), self.model_path, num_expressions)

        self.faces = model["faces"]  # [F, 3] int32
        self.v_template = model["v_template"]  # [V, 3]
        self._expr_dirs = model["expr_dirs"]  # [E, V, 3]
        self._pose_dirs = model["pose_dirs"]  # [36, V, 3]
        self._weights = model["weights"]  # [V, 5]
        self._parents = model["parents"]  # [5], parents[0] = -1
        regressor = model["regressor"]  # [5, V]
        # Joints are linear in the vertices, so regress the template and each expression once.
        self._joints_template = regressor @ self.v_template  # [5, 3]
        self._joints_expr_dirs = np.einsum("jv,evc->ejc", regressor, self._expr_dirs)  # [E, 5, 3]

        # Which eye joint is the subject's left: the one further towards +X.
        eye_x = self._joints_template[list(EYE_JOINTS), 0]
        left, right = EYE_JOINTS if eye_x[0] >= eye_x[1] else EYE_JOINTS[::-1]
        # Parameter triple k (in POSE_PARAM_GROUPS order) rotates joint _pose_joints[k].
        self._pose_joints = np.array([JAW, NECK, GLOBAL, left, right])

        anatomy = _find_anatomy(self.v_template, self.faces, self._weights, (left, right), self.model_path)
        self.vertex_groups = anatomy.groups
        self.vertex_colors = _paint(self.v_template, anatomy)
        self.eyeball_vertices = anatomy.eyeballs  # int64 indices of both eyeballs

    # -----------------------------------------------------------------------------------
    def vertices(self, params: np.ndarray) -> np.ndarray:
        params = self.check_params(params)  # [T, D]
        out = np.empty((params.shape[0], self.v_template.shape[0], 3), dtype=np.float32)
        for start in range(0, params.shape[0], self.frames_per_chunk):
            chunk = params[start : start + self.frames_per_chunk]
            out[start : start + len(chunk)] = self._pose(chunk)
        return out

    def _pose(self, params: np.ndarray) -> np.ndarray:
        t = params.shape[0]
        expr = params[:, : self.num_expressions]  # [T, E]
        rotvecs = np.zeros((t, NUM_JOINTS, 3), dtype=np.float32)  # [T, 5, 3] in joint order
        rotvecs[:, self._pose_joints] = params[:, self.num_expressions :].reshape(t, len(POSE_PARAM_GROUPS), 3)

        shaped = self.v_template + blend_shapes(expr, self._expr_dirs)  # [T, V, 3]
        joints = self._joints_template + np.einsum("te,ejc->tjc", expr, self._joints_expr_dirs)  # [T, 5, 3]
        # Pose correctives: FLAME's feature is (R - I) of the non-root joints, flattened
        # joint-major then row-major, [T, 4 * 9 = 36].
        rot_mats = rodrigues(rotvecs[:, 1:])  # [T, 4, 3, 3]
        pose_feature = (rot_mats - np.eye(3, dtype=np.float32)).reshape(t, -1)
        posed_rest = shaped + blend_shapes(pose_feature, self._pose_dirs)  # [T, V, 3]
        return lbs(posed_rest, joints, self._parents, self._weights, rotvecs)


# ---------------------------------------------------------------------------------------
# Reading and checking the model dict.


def _read_model(raw: dict[str, Any], path: Path, num_expressions: int) -> dict[str, np.ndarray]:
    """Check a loaded FLAME dict and return float32 arrays in the layout ``vertices`` uses."""
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise EmoAnimError(
            f"{path} is not a FLAME model file: it lacks {', '.join(missing)} "
            f"(a FLAME model has {', '.join(REQUIRED_KEYS)})"
        )

    def array(key: str, dtype: Any = np.float32) -> np.ndarray:
        value = raw[key]
        if isinstance(value, ChumpyObject):
            raise EmoAnimError(
                f"{path}: '{key}' is a chumpy expression ({value.chumpy_name}) without stored "
                "values; re-save the model with plain numpy arrays"
            )
        if scipy.sparse.issparse(value):
            value = value.toarray()
        try:
            value = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            raise EmoAnimError(f"{path} is not a FLAME model file: '{key}' is not a numeric array") from None
        if dtype is np.float32 and not np.isfinite(value).all():
            raise EmoAnimError(f"{path} is a broken FLAME model: '{key}' contains NaN or infinite values")
        return value

    def bad_shape(key: str, value: np.ndarray, expected: str) -> EmoAnimError:
        return EmoAnimError(
            f"{path} is not a FLAME model file: '{key}' has shape {list(value.shape)}, expected {expected}"
        )

    v_template = array("v_template")
    if v_template.ndim != 2 or v_template.shape[1] != 3 or len(v_template) == 0:
        raise bad_shape("v_template", v_template, "[V, 3]")
    v = len(v_template)

    shapedirs = array("shapedirs")  # [V, 3, 300 + E_file]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (v, 3):
        raise bad_shape("shapedirs", shapedirs, f"[{v}, 3, {NUM_SHAPE_COMPONENTS} + expressions]")
    available = shapedirs.shape[2] - NUM_SHAPE_COMPONENTS
    if available < num_expressions:
        hint = " (use 50: --num-expressions 50)" if available >= 50 else ""
        raise EmoAnimError(
            f"{path} has only {max(available, 0)} FLAME expression components, fewer than "
            f"the {num_expressions} asked for{hint}"
        )
    expr_dirs = shapedirs[:, :, NUM_SHAPE_COMPONENTS : NUM_SHAPE_COMPONENTS + num_expressions]

    weights = array("weights")
    if weights.shape != (v, NUM_JOINTS):
        raise bad_shape("weights", weights, f"[{v}, {NUM_JOINTS}] (FLAME's 5 joints)")
    posedirs = array("posedirs")
    pose_features = 9 * (NUM_JOINTS - 1)
    if posedirs.shape != (v, 3, pose_features):
        raise bad_shape("posedirs", posedirs, f"[{v}, 3, {pose_features}]")
    regressor = array("J_regressor")
    if regressor.shape != (NUM_JOINTS, v):
        raise bad_shape("J_regressor", regressor, f"[{NUM_JOINTS}, {v}]")
    faces = array("f", np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise bad_shape("f", faces, "[F, 3]")
    if faces.min() < 0 or faces.max() >= v:
        raise EmoAnimError(f"{path} is a broken FLAME model: faces refer to vertices outside 0..{v - 1}")

    return {
        "v_template": v_template,
        "expr_dirs": np.ascontiguousarray(expr_dirs.transpose(2, 0, 1)),  # [E, V, 3]
        "pose_dirs": np.ascontiguousarray(posedirs.transpose(2, 0, 1)),  # [36, V, 3]
        "weights": weights,
        "regressor": regressor,
        "parents": _parents(array("kintree_table", np.int64), path),
        "faces": faces.astype(np.int32),
    }


def _parents(kintree: np.ndarray, path: Path) -> np.ndarray:
    """kintree_table [2, J] (row 0 parent ids, row 1 joint ids) -> parents [J], root -1.

    FLAME stores the root's parent as 2**32 - 1 (an unsigned -1).
    """
    if kintree.shape != (2, NUM_JOINTS):
        raise EmoAnimError(
            f"{path} is not a FLAME model file: 'kintree_table' has shape {list(kintree.shape)}, "
            f"expected [2, {NUM_JOINTS}]"
        )
    column_of = {int(joint): col for col, joint in enumerate(kintree[1])}
    parents = np.array([column_of.get(int(p), -1) for p in kintree[0]], dtype=np.int64)
    # lbs needs the root first and every parent before its child.
    if parents[0] != -1 or any(not 0 <= parents[j] < j for j in range(1, NUM_JOINTS)):
        raise EmoAnimError(f"{path} is a broken FLAME model: its joint tree is not FLAME's")
    return parents


# ---------------------------------------------------------------------------------------
# Anatomy from topology and skinning: lips, eyelids, eyeballs.
#
# FLAME's face mesh has holes: the mouth (the inner-lip contour is a boundary loop), the two
# eye openings, and the neck. Eyeballs are separate meshes skinned to the eye joints. The
# groups below come from those facts only, so they need no hard-coded FLAME vertex ids.


class _Anatomy:
    def __init__(self) -> None:
        self.groups: dict[str, np.ndarray] = {}
        self.eyeballs = np.zeros(0, dtype=np.int64)
        self.eye_centres: list[np.ndarray] = []  # left, right
        self.eye_radii: list[float] = []
        self.eyeball_of: list[np.ndarray] = []  # left, right vertex indices
        self.mouth_loop = np.zeros(0, dtype=np.int64)
        self.mouth_width = 0.0


def _find_anatomy(
    verts: np.ndarray, faces: np.ndarray, weights: np.ndarray, eye_joints: tuple[int, int], path: Path
) -> _Anatomy:
    anatomy = _Anatomy()
    dominant = weights.argmax(axis=1)  # [V] the joint that moves each vertex most

    # Eyeballs: vertices the eye joints dominate. Left first (eye_joints is (left, right)).
    for joint in eye_joints:
        ids = np.flatnonzero(dominant == joint)
        if len(ids) == 0:
            raise EmoAnimError(f"{path} is not a usable FLAME model: no eyeball vertices for joint {joint}")
        anatomy.eyeball_of.append(ids)
        anatomy.eye_centres.append(verts[ids].mean(axis=0))
        anatomy.eye_radii.append(float(np.linalg.norm(verts[ids] - anatomy.eye_centres[-1], axis=1).mean()))
    is_eyeball = np.zeros(len(verts), dtype=bool)
    is_eyeball[np.concatenate(anatomy.eyeball_of)] = True
    anatomy.eyeballs = np.flatnonzero(is_eyeball).astype(np.int64)
    anatomy.groups["eyeball_left"] = anatomy.eyeball_of[0].astype(np.int64)
    anatomy.groups["eyeball_right"] = anatomy.eyeball_of[1].astype(np.int64)
    anatomy.groups["eyes"] = anatomy.eyeballs  # both, as the arkit rig names them

    loops = [loop for loop in _boundary_loops(faces) if not is_eyeball[loop].any()]

    # Eye openings: the loop nearest each eyeball centre (it rims the eyeball).
    for side, centre, radius in zip(("left", "right"), anatomy.eye_centres, anatomy.eye_radii):
        near = [loop for loop in loops if np.linalg.norm(verts[loop].mean(0) - centre) < 2.5 * radius]
        if near:
            loop = min(near, key=lambda lp: np.linalg.norm(verts[lp].mean(0) - centre))
            loops = [lp for lp in loops if lp is not loop]
            upper, lower = _split_upper_lower(loop, verts)
        else:  # a closed eye region: take the skin just in front of the eyeball
            upper, lower = _eyelids_near_eyeball(verts, is_eyeball, centre, radius)
        anatomy.groups[f"eyelid_upper_{side}"] = upper
        anatomy.groups[f"eyelid_lower_{side}"] = lower

    # Mouth: the inner-lip loop joins the jaw-driven lower lip to the head-driven upper lip,
    # so it holds vertices on both sides of jaw dominance; the neck boundary does not. It
    # lies well below the eyes and is the frontmost such loop.
    jaw_driven = dominant == JAW
    candidates = [lp for lp in loops if 0 < jaw_driven[lp].mean() < 1] or loops
    below_eyes = min(c[1] - 2 * r for c, r in zip(anatomy.eye_centres, anatomy.eye_radii))
    candidates = [lp for lp in candidates if verts[lp, 1].mean() < below_eyes]
    if not candidates:
        raise EmoAnimError(f"{path} is not a usable FLAME model: no mouth opening (inner-lip boundary) found")
    mouth_loop = max(candidates, key=lambda lp: verts[lp, 2].mean())  # the frontmost
    upper, lower = _split_upper_lower(mouth_loop, verts)
    anatomy.groups["upper_lip"], anatomy.groups["lower_lip"] = upper, lower
    anatomy.mouth_loop = mouth_loop.astype(np.int64)
    anatomy.groups["mouth_corners"] = mouth_loop[[np.argmax(verts[mouth_loop, 0]), np.argmin(verts[mouth_loop, 0])]].astype(np.int64)
    anatomy.mouth_width = float(np.ptp(verts[mouth_loop, 0]))

    # The mouth region: skin within 40% of the mouth width of the inner-lip contour.
    distance = _distance_to(verts, verts[mouth_loop])
    anatomy.groups["mouth"] = np.flatnonzero((distance < 0.4 * anatomy.mouth_width) & ~is_eyeball).astype(np.int64)
    return anatomy


def _boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Closed chains of boundary edges (edges used by one face), each as ordered vertex ids."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = unique[counts == 1]  # [B, 2]
    neighbours: dict[int, list[int]] = {}
    for a, b in boundary.tolist():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)

    loops, seen = [], set()
    for start in sorted(neighbours):
        if start in seen:
            continue
        # Walk the chain; on a clean mesh every boundary vertex has exactly two neighbours.
        loop, previous, current = [start], None, start
        seen.add(start)
        while True:
            options = [n for n in neighbours[current] if n != previous and n not in seen]
            if not options:
                break
            previous, current = current, options[0]
            loop.append(current)
            seen.add(current)
        if len(loop) >= 3:
            loops.append(np.array(loop, dtype=np.int64))
    return loops


def _split_upper_lower(loop: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a closed loop at its leftmost and rightmost vertices (the corners) into two arcs.

    Returns (upper, lower): the arc with the higher mean y first, corners excluded, each
    ordered by x (ascending). Corners belong to neither lip nor lid.
    """
    x = verts[loop, 0]
    a, b = sorted((int(np.argmin(x)), int(np.argmax(x))))
    arc1 = loop[a + 1 : b]
    arc2 = np.concatenate([loop[b + 1 :], loop[:a]])
    if len(arc1) == 0 or len(arc2) == 0:  # a degenerate loop: split by height instead
        middle = np.median(verts[loop, 1])
        arc1, arc2 = loop[verts[loop, 1] >= middle], loop[verts[loop, 1] < middle]
    if verts[arc1, 1].mean() < verts[arc2, 1].mean():
        arc1, arc2 = arc2, arc1
    by_x = lambda ids: ids[np.argsort(verts[ids, 0], kind="stable")].astype(np.int64)  # noqa: E731
    return by_x(arc1), by_x(arc2)


def _eyelids_near_eyeball(
    verts: np.ndarray, is_eyeball: np.ndarray, centre: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fallback without an eye opening: skin in front of the eyeball, split at its centre."""
    near = ~is_eyeball & (np.linalg.norm(verts - centre, axis=1) < 1.6 * radius) & (verts[:, 2] > centre[2])
    ids = np.flatnonzero(near)
    upper, lower = ids[verts[ids, 1] >= centre[1]], ids[verts[ids, 1] < centre[1]]
    by_x = lambda ids: ids[np.argsort(verts[ids, 0], kind="stable")].astype(np.int64)  # noqa: E731
    return by_x(upper), by_x(lower)


def _distance_to(verts: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[V] distance from each vertex to the nearest of ``points`` [P, 3]."""
    return np.sqrt(((verts[:, None, :] - points[None, :, :]) ** 2).sum(-1)).min(axis=1)


def _paint(verts: np.ndarray, anatomy: _Anatomy) -> np.ndarray:
    """[V, 3] float32 colours: skin, reddish lips, white eyeballs with iris and pupil."""
    colors = np.tile(np.array(SKIN, dtype=np.float32), (len(verts), 1))

    # Lips: fade from the inner-lip contour out to 15% of the mouth width.
    lip = np.clip(1.0 - _distance_to(verts, verts[anatomy.mouth_loop]) / (0.15 * anatomy.mouth_width), 0, 1)
    lip[anatomy.eyeballs] = 0.0
    colors += (np.array(LIPS, dtype=np.float32) - colors) * np.sqrt(lip)[:, None].astype(np.float32)

    # Eyeballs look along +Z at rest: the iris and pupil are discs around that direction.
    for centre, ids in zip(anatomy.eye_centres, anatomy.eyeball_of):
        direction = verts[ids] - centre
        cos_to_front = direction[:, 2] / np.maximum(np.linalg.norm(direction, axis=1), 1e-12)
        colors[ids] = EYE_WHITE
        colors[ids[cos_to_front > np.cos(IRIS_ANGLE)]] = IRIS
        colors[ids[cos_to_front > np.cos(PUPIL_ANGLE)]] = PUPIL
    return colors


__all__ = ["FlameRig", "flame_param_names", "SUPPORTED_EXPRESSIONS"]
