"""The default rig: Apple's 52 ARKit facial actions plus head rotation, on the Anny head."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write, cache_dir
from emoanim.rigs.base import FaceRig
from emoanim.rigs.lbs import blend_shapes, euler_to_rotvec, rigid_skinning, rodrigues
from emoanim.rigs.mesh import uv_sphere
from emoanim.rigs.teeth import build_teeth

# Apple's ARKit blendshape names (ARFaceAnchor.BlendShapeLocation), alphabetical as Anny ships them.
ARKIT_ACTIONS: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft",
    "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
HEAD_PARAMS: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")  # radians
ARKIT_PARAMS: tuple[str, ...] = ARKIT_ACTIONS + HEAD_PARAMS
ACTION_RANGE = (0.0, 1.0)  # ARKit weights: 0 = at rest, 1 = the full action
HEAD_RANGE = (-0.7, 0.7)  # radians (~40 degrees) of yaw, pitch and roll: a comfortable neck's range


def _named(*prefixes: str) -> tuple[str, ...]:
    return tuple(n for n in ARKIT_ACTIONS if n.startswith(prefixes))


# The parameter groups later code reads (lip-sync expert, emotion judge, plots), by meaning.
ARKIT_GROUPS: dict[str, tuple[str, ...]] = {
    "mouth": _named("jaw", "mouth", "cheekPuff"),  # what moves the lips
    "eyes": _named("eyeBlink", "eyeLook", "eyeSquint", "eyeWide"),
    "blink": ("eyeBlinkLeft", "eyeBlinkRight"),
    "gaze": _named("eyeLook"),
    "brows": _named("brow"),
    "head": HEAD_PARAMS,  # head rotation (radians), not facial expression
}


@dataclass(frozen=True)
class Avatar:
    """A named identity: Anny phenotype values in [0, 1] and a skin tone (linear RGB)."""

    phenotype: dict[str, float]
    skin: tuple[float, float, float]
    iris: tuple[float, float, float] = (0.25, 0.16, 0.09)
    description: str = ""
    hair: tuple[float, float, float] = (0.05, 0.035, 0.025)  # brows (linear RGB)
    lips: tuple[float, float, float] = (0.50, 0.19, 0.18)  # lip colour the skin blends towards


# Anny's age axis: 0 = baby, 1/3 = child, 2/3 = young adult, 1 = old; gender: 0 male, 1 female.
AVATARS: dict[str, Avatar] = {
    "alex": Avatar({"gender": 0.5, "age": 0.67}, (0.80, 0.60, 0.50), description="young adult, androgynous"),
    "maya": Avatar({"gender": 1.0, "age": 0.62, "weight": 0.45}, (0.62, 0.43, 0.32), (0.18, 0.11, 0.06), "young woman"),
    "sam": Avatar({"gender": 0.0, "age": 0.7, "muscle": 0.65}, (0.85, 0.66, 0.56), (0.20, 0.32, 0.45), "young man"),
    "grace": Avatar({"gender": 0.9, "age": 0.95, "weight": 0.55}, (0.86, 0.70, 0.62), (0.30, 0.38, 0.30), "older woman"),
    "otto": Avatar({"gender": 0.1, "age": 0.92, "weight": 0.8}, (0.72, 0.52, 0.42), description="older, heavier man"),
    "kim": Avatar({"gender": 0.6, "age": 0.42, "weight": 0.4}, (0.88, 0.72, 0.60), (0.12, 0.08, 0.05), "teenager"),
}
DEFAULT_AVATAR = "alex"

# How far each eyeLook* action turns the eyeball (radians at weight 1), as in ARKit captures.
GAZE_YAW = np.radians(30.0)
GAZE_PITCH = np.radians(25.0)
# Head angles are shared between the neck and the head joint so the neck bends smoothly.
NECK_SHARE = 0.35
TONGUE_DROP = 0.008  # metres the tongue is lowered from Anny's rest (see ArkitRig.__init__)


@dataclass
class AnnyHead:
    """What the rig needs from Anny, in the shared frame (metres, +Y up, +Z forward)."""

    rest: np.ndarray  # [V, 3] neutral face of this identity
    actions: np.ndarray  # [52, V, 3] facial-action offsets
    faces: np.ndarray  # [F, 3]
    neck_joint: np.ndarray  # [3]
    head_joint: np.ndarray  # [3]
    group_of_vertex: np.ndarray  # [V] 0 = fixed (neck base), 1 = neck, 2 = head
    eye_centers: np.ndarray  # [2, 3] left, right
    eye_radius: float
    part: dict[str, np.ndarray] = field(default_factory=dict)  # 'skin', 'tongue', 'eyes'


def _to_shared_frame(points: np.ndarray) -> np.ndarray:
    # Anny (MakeHuman/Blender): +Z up, face towards -Y. Ours: +Y up, face towards +Z.
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def _build_anny_head(avatar_name: str) -> AnnyHead:
    """Evaluate Anny once for an identity (slow: imports torch and Anny's data)."""
    import torch  # lazy: start-up time (torch, scipy and Anny: only when a head is built)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    try:
        from anny.models.phenotype import Anny
    except ImportError as exc:  # pragma: no cover - anny is a hard requirement
        raise EmoAnimError("the 'anny' package is missing: pip install -r requirements.txt") from exc

    model = Anny(rig="makehuman-head", topology="head", facial_actions="all")
    avatar = AVATARS[avatar_name]
    with torch.no_grad():
        coeffs = model.get_phenotype_blendshape_coefficients(**avatar.phenotype)  # [1, K]
        rest_model = model.get_rest_model(coeffs)
    rest = rest_model["rest_vertices"][0].numpy()  # [V, 3]
    bone_heads = rest_model["rest_bone_heads"][0].numpy()  # [B, 3]
    labels = list(model.blendshape_labels)
    action_rows = [labels.index(f"facial_action:{name}") for name in ARKIT_ACTIONS]
    actions = model.blendshapes[action_rows].numpy()  # [52, V, 3]
    faces = model.get_triangular_faces().numpy().astype(np.int64)

    # Dominant skinning bone per vertex decides which joint of ours moves it.
    bones = list(model.bone_labels)
    weights = torch.zeros(rest.shape[0], len(bones), dtype=model.vertex_bone_weights.dtype)
    weights.scatter_add_(1, model.vertex_bone_indices.long(), model.vertex_bone_weights)
    dominant = [bones[i] for i in weights.argmax(1).tolist()]
    group = np.array([0 if b in ("root", "neck01") else 1 if b.startswith("neck") else 2 for b in dominant])

    # Separate meshes (head skin, tongue, two eyeballs) are connected components.
    n = rest.shape[0]
    adjacency = coo_matrix((np.ones(faces.size), (np.repeat(faces[:, :1], 3, 1).ravel(), faces.ravel())), (n, n))
    _, component = connected_components(adjacency + adjacency.T, directed=False)
    component_bone = {}
    for c in np.unique(component):
        names = [dominant[i] for i in np.where(component == c)[0]]
        component_bone[c] = max(set(names), key=names.count)
    is_eye = np.array([component_bone[c].startswith("eye.") for c in component])
    is_tongue = np.array([component_bone[c].startswith("tongue") for c in component])
    group[is_eye | is_tongue] = 2

    centre = 0.5 * (bone_heads[bones.index("eye.L")] + bone_heads[bones.index("eye.R")])
    eye_centers = np.stack([bone_heads[bones.index("eye.L")], bone_heads[bones.index("eye.R")]])
    left_eye = rest[is_eye & (rest[:, 0] > 0)]
    eye_radius = float(np.median(np.linalg.norm(left_eye - eye_centers[0], axis=1)))

    def shared(points: np.ndarray) -> np.ndarray:
        return _to_shared_frame(points - centre).astype(np.float32)

    return AnnyHead(
        rest=shared(rest),
        actions=_to_shared_frame(actions).astype(np.float32),
        faces=faces,
        neck_joint=shared(bone_heads[bones.index("neck02")]),
        head_joint=shared(bone_heads[bones.index("head")]),
        group_of_vertex=group,
        eye_centers=shared(eye_centers),
        eye_radius=eye_radius,
        part={"eyes": np.where(is_eye)[0], "tongue": np.where(is_tongue)[0]},
    )


CACHE_VERSION = 1


@lru_cache(maxsize=8)
def load_anny_head(avatar_name: str) -> AnnyHead:
    """The baked head of an avatar, from the disk cache or built from Anny and cached.

    Baking keeps torch and Anny's large tables out of memory in every later process.
    """
    from importlib.metadata import version  # lazy: start-up time

    path = cache_dir() / f"anny-{version('anny')}-head-{avatar_name}-v{CACHE_VERSION}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            part = {key[5:]: arrays.pop(key) for key in list(arrays) if key.startswith("part_")}
            arrays["eye_radius"] = float(arrays["eye_radius"])
            return AnnyHead(**arrays, part=part)
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    head = _build_anny_head(avatar_name)
    arrays = {f.name: getattr(head, f.name) for f in fields(head) if f.name != "part"}
    arrays.update({f"part_{key}": value for key, value in head.part.items()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)
    except (OSError, EmoAnimError):
        pass  # a read-only home only costs speed
    return head


def gaze_rotvecs(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ARKit weights [T, >=52] (whole arkit params too) -> per-eye axis-angle [T, 3] (left, right) from eyeLook*.

    Yaw about +Y turns the pupil towards +X (the subject's left); pitch about +X with a negative
    angle turns it up. "Out" means away from the nose, so it has opposite signs per eye.
    """
    a = {name: actions[:, i] for i, name in enumerate(ARKIT_ACTIONS) if name.startswith("eyeLook")}
    pitch_l = -GAZE_PITCH * (a["eyeLookUpLeft"] - a["eyeLookDownLeft"])
    pitch_r = -GAZE_PITCH * (a["eyeLookUpRight"] - a["eyeLookDownRight"])
    yaw_l = GAZE_YAW * (a["eyeLookOutLeft"] - a["eyeLookInLeft"])
    yaw_r = GAZE_YAW * (a["eyeLookInRight"] - a["eyeLookOutRight"])
    zero = np.zeros_like(yaw_l)
    return euler_to_rotvec(yaw_l, pitch_l, zero), euler_to_rotvec(yaw_r, pitch_r, zero)


def _inner_lip_lines(rest: np.ndarray, jaw_open: np.ndarray, lip_surface: np.ndarray, bin_width: float = 0.002):
    """Upper and lower inner-lip contours (vertex indices sorted from the subject's right to left).

    jawOpen leaves the upper lip in place and drops the lower one, so along each vertical column
    of the visible lip surface the contact line is where the vertical motion jumps: the lowest
    vertex that stays is the upper lip's edge, the highest one that drops is the lower lip's.
    """
    drop = -jaw_open[:, 1]
    biggest = drop[lip_surface].max()
    columns = np.round(rest[:, 0] / bin_width).astype(int)
    upper, lower = [], []
    for column in np.unique(columns[lip_surface]):
        here = lip_surface & (columns == column)
        stays, drops = np.where(here & (drop < 0.3 * biggest))[0], np.where(here & (drop > 0.6 * biggest))[0]
        if len(stays) and len(drops):
            upper.append(stays[np.argmin(rest[stays, 1])])
            lower.append(drops[np.argmax(rest[drops, 1])])
    upper, lower = np.array(upper), np.array(lower)
    return upper[np.argsort(rest[upper, 0])], lower[np.argsort(rest[lower, 0])]


@dataclass(frozen=True)
class ArkitParts:
    """The posable pieces of an ``ArkitRig``, for exporters that pose them in another tool (glTF)."""

    skin_rest: np.ndarray  # [Vs, 3] neutral skin (and tongue) of the avatar, metres
    skin_actions: np.ndarray  # [52, Vs, 3] offsets of each ARKit action at weight 1
    skin_faces: np.ndarray  # [Fs, 3] int
    skin_colors: np.ndarray  # [Vs, 3] linear RGB
    skin_joint: np.ndarray  # [Vs] int: which joint moves each vertex (0 = base, 1 = neck, 2 = head)
    joints: np.ndarray  # [3, 3] base, neck and head joint positions; parents are (-1, 0, 1)
    eye_mesh: np.ndarray  # [Ve, 3] one eyeball around its centre, pupil at +Z
    eye_faces: np.ndarray  # [Fe, 3] int
    eye_colors: np.ndarray  # [Ve, 3] linear RGB
    eye_centers: np.ndarray  # [2, 3] left, right; eyes turn with the head joint


def head_rotvecs(params: np.ndarray) -> np.ndarray:
    """arkit params [T, 55] -> axis-angle of the base, neck and head joints [T, 3, 3]: the head's
    yaw/pitch/roll shared between the neck and the head so the neck bends smoothly."""
    head = euler_to_rotvec(*(params[:, len(ARKIT_ACTIONS) + i] for i in range(3)))  # [T, 3]
    return np.stack([np.zeros_like(head), NECK_SHARE * head, (1.0 - NECK_SHARE) * head], axis=1).astype(np.float32)


class ArkitRig(FaceRig):
    """52 ARKit actions (weights in [0, 1]) + headYaw/headPitch/headRoll (radians) on the Anny head.

    headYaw > 0 turns the face towards the subject's left, headPitch > 0 nods the chin down,
    headRoll > 0 tilts the top of the head towards the subject's right.
    Anny's low-poly eyeballs are replaced by smooth spheres with an iris, turned by eyeLook*.
    """

    name = "arkit"
    param_names = ARKIT_PARAMS
    param_groups = ARKIT_GROUPS

    def __init__(self, avatar: str | None = None) -> None:
        avatar = avatar or DEFAULT_AVATAR
        if avatar not in AVATARS:
            raise EmoAnimError(f"unknown avatar '{avatar}'; choose one of: {', '.join(AVATARS)}")
        self.avatar = avatar
        look = AVATARS[avatar]
        head = load_anny_head(avatar)

        # Keep the skin and tongue; drop Anny's eyeballs, whose few vertices cannot carry an iris.
        keep = np.ones(len(head.rest), bool)
        keep[head.part["eyes"]] = False
        new_index = np.cumsum(keep) - 1
        faces = head.faces[keep[head.faces].all(axis=1)]
        self._skin_faces = new_index[faces]
        self._rest = head.rest[keep]  # [Vs, 3]
        self._actions = head.actions[:, keep]  # [52, Vs, 3]
        n_skin = len(self._rest)

        sphere, sphere_faces = uv_sphere(head.eye_radius, rings=24, segments=36)  # dense enough for a highlight
        self._eye_template, self._eye_faces = sphere, sphere_faces  # [Ve, 3] with the pupil at +Z, [Fe, 3]
        self._eye_centers = head.eye_centers  # [2, 3]
        n_eye = len(sphere)
        tongue = np.zeros(len(head.rest), bool)
        tongue[head.part["tongue"]] = True
        is_tongue = tongue[keep]

        # What is measured on the skin alone (lips, brows, the mouth's inside), then the teeth join it.
        self._inside = self._covered_from_front()  # [Vs] the mouth's inside
        self.vertex_groups = groups = self._groups()  # (the eyes and teeth join below)
        skin_colors, skin_gloss = self._colors(look, is_tongue), self._glossiness(is_tongue)
        closing = [[], ["mouthRollUpper"], ["mouthRollLower"], ["mouthPressLeft", "mouthPressRight"],
                   ["mouthPucker"], ["mouthShrugUpper"], ["mouthShrugLower"]]  # the ways lips close
        closed = np.stack([self._rest + sum((self._actions[ARKIT_ACTIONS.index(a)] for a in way), 0.0)
                           for way in closing])
        teeth = build_teeth(self._rest[groups["upper_lip"]], self._rest[groups["lower_lip"]], self._rest[is_tongue],
                            self._actions[:, is_tongue], closed, self._skin_faces[~is_tongue[self._skin_faces].any(1)])
        # Anny's tongue rests against the palate and fills an open mouth; lowered onto the floor of the
        # mouth it sits behind the lower teeth, where a relaxed tongue is (after the jaw was read off it).
        self._rest[is_tongue] -= np.float32([0.0, TONGUE_DROP, 0.0])
        self._rest = np.concatenate([self._rest, teeth.vertices])  # [Vs, 3]: skin, tongue, teeth
        self._actions = np.concatenate([self._actions, teeth.offsets], axis=1)  # [52, Vs, 3]
        self._skin_faces = np.concatenate([self._skin_faces, teeth.faces + n_skin])
        n_body = len(self._rest)
        self.faces = np.concatenate(
            [self._skin_faces, sphere_faces + n_body, sphere_faces + n_body + n_eye]
        ).astype(np.int32)

        group = np.concatenate([head.group_of_vertex[keep], np.full(len(teeth.vertices) + 2 * n_eye, 2)])
        self._joint_of_vertex = group  # [V] which joint moves each vertex: 0 base, 1 neck, 2 head
        self._joints = np.stack([head.neck_joint, head.neck_joint, head.head_joint]).astype(np.float32)
        self._parents = np.array([-1, 0, 1])

        groups["eyes"] = np.arange(n_body, n_body + 2 * n_eye)
        groups["teeth"] = np.arange(n_skin, n_body)
        eye = self._eye_colors(look)
        self.vertex_colors = np.concatenate([skin_colors, teeth.colors, eye, eye]).astype(np.float32)
        self._gloss = np.concatenate([skin_gloss, np.full(len(teeth.vertices), 0.55), np.ones(2 * n_eye)]).astype(np.float32)

    @property
    def vertex_gloss(self) -> np.ndarray:
        return self._gloss

    # --- appearance -------------------------------------------------------------------------
    def _colors(self, look: Avatar, is_tongue: np.ndarray) -> np.ndarray:
        """[Vs, 3] linear RGB of the skin and tongue: painted lips and brows, a dark mouth inside."""
        skin = np.tile(np.asarray(look.skin, np.float32), (len(is_tongue), 1))
        # The mouth cavity is shaded dark so an open mouth reads as depth. A vertex is inside
        # when skin lies in front of it (closed lips cover it seen from the camera).
        inside = self._inside
        skin[inside] = (0.26, 0.045, 0.05)
        skin[is_tongue] = (0.58, 0.13, 0.15)
        # Light reaches into the mouth less the deeper it goes: darken by depth behind the lips.
        lip_front = self._rest[self.vertex_groups["upper_lip"], 2].min()
        depth = np.clip((lip_front - self._rest[:, 2]) / 0.02, 0.0, 1.0)
        skin[inside] *= (1.0 - 0.85 * depth[inside])[:, None]
        tongue_depth = np.clip((self._rest[is_tongue, 2].max() - self._rest[is_tongue, 2]) / 0.04, 0.0, 1.0)
        skin[is_tongue] *= (1.0 - 0.55 * tongue_depth)[:, None]  # its back in the dark
        lips = self._lip_weight()[:, None]  # lips: the skin towards a deeper red, fading at the corners
        skin = (1 - lips) * skin + lips * np.asarray(look.lips, np.float32)
        brows = self._brow_weight()[:, None]  # brows: painted hair colour above each eye
        return (1 - brows) * skin + brows * np.asarray(look.hair, np.float32)

    def _eye_colors(self, look: Avatar) -> np.ndarray:
        """[Ve, 3] one eyeball: white, the avatar's iris, a black pupil (the pupil at +Z)."""
        polar = np.arccos(np.clip(self._eye_template[:, 2] / np.linalg.norm(self._eye_template, axis=1), -1, 1))
        eye = np.tile(np.float32([0.93, 0.91, 0.88]), (len(polar), 1))
        eye[polar < 0.45] = look.iris
        eye[polar < 0.20] = (0.02, 0.02, 0.02)
        return eye

    def _glossiness(self, is_tongue: np.ndarray) -> np.ndarray:
        """[Vs] 0-1 of the skin: matte skin, satin lips, a wet mouth inside."""
        skin = 0.45 * self._lip_weight()
        skin[self._inside] = 0.1  # (light hardly reaches in: a highlight there reads as grey)
        skin[is_tongue] = 0.2
        return skin.astype(np.float32)

    def _lip_weight(self, upper_height: float = 0.009, lower_height: float = 0.009) -> np.ndarray:
        """[Vs] 0-1: how much each skin vertex is lip, from the inner-lip contours outwards (the lower lip
        fuller than the upper), thinning towards the corners, soft at the vermilion border."""
        rest, groups = self._rest, self.vertex_groups
        upper, lower = rest[groups["upper_lip"]], rest[groups["lower_lip"]]
        half_width = 0.5 * (upper[:, 0].max() - upper[:, 0].min())
        x, y = rest[:, 0], rest[:, 1]
        across = np.clip(1.0 - (np.abs(x) / (1.05 * half_width)) ** 2, 0.0, 1.0) ** 0.5  # 1 mid-lip, 0 at corners
        above = (y - np.interp(x, upper[:, 0], upper[:, 1])) / np.maximum(upper_height * across, 1e-6)
        below = (np.interp(x, lower[:, 0], lower[:, 1]) - y) / np.maximum(lower_height * across, 1e-6)
        front = rest[:, 2] > min(upper[:, 2].min(), lower[:, 2].min()) - 0.008
        inside = np.where(above >= -0.2, np.clip(1.25 - above, 0, 1), 0) + np.where(below >= -0.2, np.clip(1.25 - below, 0, 1), 0)
        weight = np.clip(inside, 0, 1) * (across > 0) * front * ~self._inside
        return weight.astype(np.float32)

    def _brow_weight(self) -> np.ndarray:
        """[Vs] 0-1: an arched band of brow above each eye (inner end lower and fuller than the outer)."""
        rest = self._rest
        r = float(np.linalg.norm(self._eye_template[0]))
        weight = np.zeros(len(rest), np.float32)
        for centre in self._eye_centers:
            outward = np.sign(centre[0])
            u = (rest[:, 0] - centre[0]) * outward / r  # across the eye: -1.3 inner end ... 1.6 outer end
            arch = centre[1] + r * (1.55 + 0.25 * np.cos(0.9 * (u - 0.6)))  # brow line height
            thickness = r * (0.45 - 0.12 * np.clip(u, -1.3, 1.6))
            band = np.clip(1.0 - np.abs(rest[:, 1] - arch) / thickness, 0.0, 1.0)
            span = np.clip(np.minimum(u + 1.3, 1.6 - u) / 0.35, 0.0, 1.0)
            front = rest[:, 2] > centre[2]
            weight = np.maximum(weight, np.clip(2.0 * band, 0, 1) * span * front)
        return (0.9 * weight).astype(np.float32)

    def _covered_from_front(self, radius: float = 0.003, gap: float = 0.006) -> np.ndarray:
        """[Vs] bool: skin vertices with another skin vertex straight in front (+Z) of them."""
        from scipy.spatial import cKDTree  # lazy: start-up time

        tree = cKDTree(self._rest[:, :2])
        covered = np.zeros(len(self._rest), bool)
        for i, near in enumerate(tree.query_ball_point(self._rest[:, :2], radius)):
            covered[i] = (self._rest[near, 2] > self._rest[i, 2] + gap).any()
        # Only the mouth (Anny's eyes are at y = 0): eye sockets, ears and the chin's underside
        # also hide vertices, but those are never seen from inside.
        mouth_band = (self._rest[:, 1] < -0.045) & (self._rest[:, 1] > -0.11)
        return covered & mouth_band & (np.abs(self._rest[:, 0]) < 0.035)

    # --- vertex groups ----------------------------------------------------------------------
    def _groups(self) -> dict[str, np.ndarray]:
        rest = self._rest
        # The lips are the front-most skin in a box below the nose (Anny's eyes are at y = 0), within
        # 15 mm above the lower lip's edge (the highest midline skin that jawOpen drops): on a heavy
        # face the nose's base stands further out than the lips.
        box = (np.abs(rest[:, 0]) < 0.03) & (rest[:, 1] > -0.10) & (rest[:, 1] < -0.05)
        midline = box & (np.abs(rest[:, 0]) < 0.01)
        drop = -self._actions[ARKIT_ACTIONS.index("jawOpen")][:, 1]
        lower_edge = rest[midline & (drop > 0.6 * drop[box].max()), 1].max()
        lip_front = rest[midline & (rest[:, 1] < lower_edge + 0.015), 2].max()
        surface = box & (rest[:, 2] > lip_front - 0.012) & ~self._inside
        upper, lower = _inner_lip_lines(rest, self._actions[ARKIT_ACTIONS.index("jawOpen")], surface)
        lips = rest[np.concatenate([upper, lower])]
        width = np.ptp(lips[:, 0])
        near_mouth = np.linalg.norm((rest - lips.mean(0)) * [1.0, 1.3, 1.0], axis=1) < 0.8 * width
        # The corners: where the two contours meet, at their ends (each contour is sorted left to right).
        ends = [(upper[-1], lower[-1]), (upper[0], lower[0])]  # subject's left (+X), then right
        corners = [pair[int(np.argmax(rest[list(pair), 0] * side))] for pair, side in zip(ends, (1, -1))]
        groups = {
            "upper_lip": upper,
            "lower_lip": lower,
            "mouth_corners": np.array(corners, np.int64),
            "mouth": np.where(near_mouth & ~self._inside)[0],
        }
        radius = float(np.linalg.norm(self._eye_template[0]))
        for side, centre in zip(("left", "right"), self._eye_centers):
            blink = np.linalg.norm(self._actions[ARKIT_ACTIONS.index(f"eyeBlink{side.title()}")], axis=1)
            rim = np.linalg.norm(rest - centre, axis=1) < 1.3 * radius
            rim &= rest[:, 2] > centre[2] + 0.3 * radius
            moving = rim & (blink > 0.5 * blink.max())
            groups[f"eyelid_upper_{side}"] = np.where(moving & (rest[:, 1] > centre[1]))[0]
            groups[f"eyelid_lower_{side}"] = np.where(rim & ~moving & (rest[:, 1] < centre[1] - 0.3 * radius))[0]
        return groups

    def parts(self) -> ArkitParts:
        n_skin, n_eye = len(self._rest), len(self._eye_template)
        return ArkitParts(
            skin_rest=self._rest, skin_actions=self._actions, skin_faces=self._skin_faces.astype(np.int32),
            skin_colors=self.vertex_colors[:n_skin], skin_joint=self._joint_of_vertex[:n_skin],
            joints=self._joints, eye_mesh=self._eye_template, eye_faces=self._eye_faces.astype(np.int32),
            eye_colors=self.vertex_colors[n_skin : n_skin + n_eye], eye_centers=self._eye_centers,
        )

    # --- posing -----------------------------------------------------------------------------
    def vertices(self, params: np.ndarray) -> np.ndarray:
        params = self.check_params(params)
        actions = params[:, : len(ARKIT_ACTIONS)]
        skin = self._rest + blend_shapes(actions, self._actions)  # [T, Vs, 3]
        gaze_l, gaze_r = gaze_rotvecs(actions)
        eye_l = self._eye_template @ rodrigues(gaze_l).transpose(0, 2, 1) + self._eye_centers[0]
        eye_r = self._eye_template @ rodrigues(gaze_r).transpose(0, 2, 1) + self._eye_centers[1]
        rest = np.concatenate([skin, eye_l, eye_r], axis=1).astype(np.float32)
        return rigid_skinning(rest, self._joints, self._parents, self._joint_of_vertex, head_rotvecs(params))

    def vertices_at(self, params: np.ndarray, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index)
        if not (index < len(self._rest)).all():  # eye vertices: pose the whole mesh
            return super().vertices_at(params, index)
        params = self.check_params(params)
        skin = self._rest[index] + blend_shapes(params[:, : len(ARKIT_ACTIONS)], self._actions[:, index])
        return rigid_skinning(skin.astype(np.float32), self._joints, self._parents, self._joint_of_vertex[index],
                              head_rotvecs(params))
