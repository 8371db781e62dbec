"""ARKit curves -> FLAME parameters, by what each action does to the face.

A user who has FLAME gets every ARKit take as a FLAME sequence without any FLAME training data: a
linear map from the 52 ARKit weights to FLAME's expression coefficients and jaw rotation, fitted
once per FLAME model (and cached beside its file) so that the FLAME mesh reproduces each ARKit
action's effect on semantic measures of the face, found on each mesh from its own geometry:

    lips      gap at three points across the mouth, the upper and lower lip's height and depth
    corners   width of the mouth, each corner's height and depth, the mouth's sideways shift
    jaw       the chin's position (sideways, down, forward)
    eyelids   how open each eye is
    brows     inner and outer height of each brow
    cheeks    each cheek's height and depth

    features(V) [F]  (metres / the distance between the eyes, so faces of any size compare)
    Jacobian of FLAME's features in (expressions, jaw rotation), by finite differences at rest;
    each ARKit action a: p_a = argmin |W (f_flame(p) - f_flame(0) - delta_a)|^2 + lambda |p|^2,
    refined by Gauss-Newton steps on the true FLAME features (the jaw is a rotation, not linear)
    FLAME(t) = sum_a w_a(t) p_a

Gaze and head rotation need no fitting: eyeLook* become FLAME's eye rotations as the ARKit rig turns
its eyeballs (``arkit.gaze_rotvecs``), and headYaw/Pitch/Roll FLAME's neck rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write, cache_dir, file_sha256
from emoanim.rigs.base import FaceRig
from emoanim.rigs.lbs import euler_to_rotvec
from emoanim.rigs.mesh import VertexNormals

RETARGET_VERSION = 1  # bump when the features or the fit change: cached maps are refitted
FEATURE_WEIGHTS = {"lips": 3.0, "corners": 2.0, "jaw": 1.0, "eyelids": 2.0, "brows": 1.0, "cheeks": 0.5}
RIDGE = 1e-3  # lambda: keeps the parameters near rest where the features do not pin them, in units of
JAW_PRIOR = (0.3, 0.1, 0.1)  # ... a typical jaw rotation (radians: opening, yaw, roll) and 1 per expression
JAW_STEP, EXPRESSION_STEP = 0.05, 0.5  # finite-difference steps (radians; FLAME coefficient units)
# Actions ARKit defines on top of another: mouthClose closes the lips of an open jaw (alone it pushes
# closed lips into each other), so its effect is measured, and fitted, on top of jawOpen.
CONTEXT = {"mouthClose": "jawOpen"}


@dataclass(frozen=True)
class Landmarks:
    """Semantic places on one rig's rest mesh (vertex indices), found from its geometry."""

    lip_pairs: np.ndarray  # [3, 2] (upper, lower) contour vertices at 25 / 50 / 75 % across the mouth
    corners: np.ndarray  # [2] the mouth's corners: subject's left (+X), right (the rig's "mouth_corners")
    chin: np.ndarray  # [N] the chin's front
    lids: np.ndarray  # [2, 2] object: (upper, lower) eyelid vertex groups, left eye then right
    brows: tuple[np.ndarray, ...]  # inner left, outer left, inner right, outer right
    cheeks: tuple[np.ndarray, ...]  # left, right
    scale: float  # the distance between the eye centres (metres)


def find_landmarks(rig: FaceRig) -> Landmarks:
    """The semantic places on ``rig``'s rest mesh: lips and eyelids from its groups, the rest from the
    eye centres, the mouth and the surface's facing (front-facing skin only)."""
    rest = rig.vertices(rig.neutral()[None])[0].astype(np.float64)
    eyes = rest[rig.group("eyes")]
    centres = np.stack([eyes[eyes[:, 0] > 0].mean(0), eyes[eyes[:, 0] <= 0].mean(0)])  # left, right
    radius = float(np.median(np.linalg.norm(eyes[eyes[:, 0] > 0] - centres[0], axis=1)))
    scale = float(np.linalg.norm(centres[0] - centres[1]))
    upper, lower = rig.group("upper_lip"), rig.group("lower_lip")
    contour = np.concatenate([upper, lower])
    corners = rig.group("mouth_corners")
    left_x, right_x = rest[corners, 0]
    pairs = []
    for share in (0.25, 0.5, 0.75):
        x = right_x + share * (left_x - right_x)
        pairs.append([upper[np.argmin(np.abs(rest[upper, 0] - x))], lower[np.argmin(np.abs(rest[lower, 0] - x))]])
    normals = VertexNormals(rig.faces.astype(np.int64), len(rest))(rest.astype(np.float32))
    skin = np.ones(len(rest), bool)
    skin[rig.group("eyes")] = False
    front = skin & (normals[:, 2] > 0.15)  # (facing the camera: skin, not the inside of the mouth)
    mouth_y, mouth_z = rest[contour, 1].mean(), rest[contour, 2].mean()
    half = 0.5 * (left_x - right_x)

    def region(mask: np.ndarray, what: str) -> np.ndarray:
        found = np.flatnonzero(mask & front)
        if not len(found):
            raise EmoAnimError(f"cannot find the {what} on the '{rig.name}' mesh, so its ARKit actions cannot be retargeted")
        return found

    x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
    chin = region((np.abs(x) < 0.4 * half) & (y < mouth_y - 0.25 * scale) & (y > mouth_y - 0.7 * scale)
                  & (z > mouth_z - 0.5 * scale), "chin")
    chin = chin[z[chin] > np.percentile(z[chin], 60)]  # its front, not its underside
    brows, cheeks = [], []
    for centre in centres:
        side = np.sign(centre[0])
        near = (y > centre[1] + 1.3 * radius) & (y < centre[1] + 2.8 * radius) & (z > centre[2] - 2.0 * radius)
        inward = (x - centre[0]) * side
        brows.append(region(near & (inward < 0) & (inward > -1.4 * radius), "inner brow"))
        brows.append(region(near & (inward >= 0) & (inward < 1.4 * radius), "outer brow"))
        cheeks.append(region((np.abs(x - centre[0]) < 0.8 * radius) & (y < centre[1] - 1.8 * radius)
                             & (y > mouth_y + 0.25 * scale), "cheek"))
    lids = np.empty((2, 2), object)
    for i, side in enumerate(("left", "right")):
        lids[i] = rig.group(f"eyelid_upper_{side}"), rig.group(f"eyelid_lower_{side}")
    return Landmarks(np.array(pairs), corners, chin, lids, tuple(brows), tuple(cheeks), scale)


def feature_groups(marks: Landmarks) -> list[str]:
    """The group of each feature (``FEATURE_WEIGHTS``'s keys), in ``features``' order."""
    return ["lips"] * 7 + ["corners"] * 6 + ["jaw"] * 3 + ["eyelids"] * 2 + ["brows"] * len(marks.brows) + \
        ["cheeks"] * (2 * len(marks.cheeks))


def features(vertices: np.ndarray, marks: Landmarks) -> np.ndarray:
    """vertices [T, V, 3] (posed; the head not turned) -> the face's semantic measures [T, F] in units of
    the eye distance (see the module doc)."""
    v = np.asarray(vertices, np.float64) / marks.scale
    up, lo = v[:, marks.lip_pairs[:, 0]], v[:, marks.lip_pairs[:, 1]]  # [T, 3, 3]
    left, right = v[:, marks.corners[0]], v[:, marks.corners[1]]
    chin = v[:, marks.chin].mean(1)
    lids = [v[:, u, 1].mean(1) - v[:, lo_, 1].mean(1) for u, lo_ in marks.lids]
    out = [up[..., 1] - lo[..., 1],  # lip gap at three places
           up[:, 1:2, 1], lo[:, 1:2, 1], up[:, 1:2, 2], lo[:, 1:2, 2],  # each lip's middle: height, depth
           (left[:, 0] - right[:, 0])[:, None], left[:, 1:3], right[:, 1:3], (0.5 * (left[:, 0] + right[:, 0]))[:, None],
           chin, np.stack(lids, 1),
           np.stack([v[:, b, 1].mean(1) for b in marks.brows], 1),
           np.stack([v[:, c, 1].mean(1) for c in marks.cheeks] + [v[:, c, 2].mean(1) for c in marks.cheeks], 1)]
    return np.concatenate(out, axis=1)


@dataclass(frozen=True)
class ArkitToFlame:
    """The fitted map: FLAME parameters (``flame_param_names`` order) from ARKit parameters."""

    matrix: np.ndarray  # [E + 3, 52]: FLAME expressions and jaw rotation per unit of each ARKit action
    residual: np.ndarray  # [52]: how far each action's fit is from the ARKit effect (weighted feature units)
    num_expressions: int

    def __call__(self, arkit_params: np.ndarray) -> np.ndarray:
        """arkit params [T, 55] -> FLAME params [T, E + 15] (expressions, jaw, neck, global, eyes)."""
        from emoanim.rigs.arkit import ARKIT_ACTIONS, gaze_rotvecs  # lazy: the ARKit rig module is large

        params = np.asarray(arkit_params, np.float64)
        actions, head = params[:, : len(ARKIT_ACTIONS)], params[:, len(ARKIT_ACTIONS) :]
        face = actions @ self.matrix.T  # [T, E + 3]
        neck = euler_to_rotvec(head[:, 0], head[:, 1], head[:, 2])  # the whole head turn, on FLAME's neck
        left, right = gaze_rotvecs(actions)
        out = np.concatenate([face, neck, np.zeros_like(neck), left, right], axis=1)
        return out.astype(np.float32)

    def save(self, path: Path, sha256: str) -> None:
        arrays = {"matrix": self.matrix, "residual": self.residual, "num_expressions": self.num_expressions,
                  "version": RETARGET_VERSION, "flame_sha256": sha256}
        atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)

    @classmethod
    def load(cls, path: Path, sha256: str, num_expressions: int) -> "ArkitToFlame | None":
        """The map cached at ``path`` if it was fitted for this FLAME file and this version, else None."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if (int(data["version"]) != RETARGET_VERSION or str(data["flame_sha256"]) != sha256
                        or int(data["num_expressions"]) != num_expressions):
                    return None
                return cls(data["matrix"].astype(np.float64), data["residual"], num_expressions)
        except (OSError, ValueError, KeyError):
            return None


def fit_arkit_to_flame(flame: FaceRig, arkit: FaceRig, iterations: int = 3) -> ArkitToFlame:
    """Fit the map (module doc): each ARKit action's feature change, reproduced on ``flame``."""
    from emoanim.rigs.arkit import ARKIT_ACTIONS  # lazy: the ARKit rig module is large

    num_actions = len(ARKIT_ACTIONS)
    arkit_marks, flame_marks = find_landmarks(arkit), find_landmarks(flame)
    poses = np.zeros((num_actions + 1, arkit.num_params), np.float32)
    poses[1:, :num_actions] = np.eye(num_actions)
    target = features(arkit.vertices(poses), arkit_marks)
    target = target[1:] - target[0]  # [A, F]: what each action does to the face

    num_expressions = int(getattr(flame, "num_expressions"))
    k = num_expressions + 3  # expressions, then the jaw's rotation (flame_param_names' order)
    weights = np.array([FEATURE_WEIGHTS[g] for g in feature_groups(flame_marks)])

    def flame_features(face: np.ndarray) -> np.ndarray:  # face [N, k] -> features [N, F] minus the rest's
        params = np.zeros((len(face), flame.num_params), np.float32)
        params[:, :k] = face
        return features(flame.vertices(params), flame_marks) - rest_features

    rest_features = features(flame.vertices(flame.neutral()[None]), flame_marks)[0]
    steps = np.r_[np.full(num_expressions, EXPRESSION_STEP), np.full(3, JAW_STEP)]
    jacobian = (flame_features(np.diag(steps)) / steps[:, None]).T  # [F, k]
    wj = weights[:, None] * jacobian
    prior = np.r_[np.ones(num_expressions), JAW_PRIOR]
    solve = np.linalg.solve(wj.T @ wj + RIDGE * np.diag(prior**-2.0), wj.T)  # [k, F]: weighted ridge least squares
    face = (solve @ (weights * target).T).T  # [A, k]
    for _ in range(iterations):  # Gauss-Newton on the true features (the jaw turns, FLAME is not linear in it)
        face = face + (solve @ (weights * (target - flame_features(face))).T).T
    residual = np.linalg.norm(weights * (target - flame_features(face)), axis=1)
    for action, base in CONTEXT.items():  # refit these on top of their base action, at full weight both
        a, b = ARKIT_ACTIONS.index(action), ARKIT_ACTIONS.index(base)
        both = poses[1 + b].copy()
        both[a] = 1.0
        on_base = features(arkit.vertices(both[None]), arkit_marks)[0] - features(arkit.vertices(poses[1 + b][None]), arkit_marks)[0]
        base_features = flame_features(face[b : b + 1])[0]
        extra = face[a].copy()
        for _ in range(iterations + 1):
            extra = extra + solve @ (weights * (on_base - (flame_features((face[b] + extra)[None])[0] - base_features)))
        face[a] = extra
        residual[a] = np.linalg.norm(weights * (on_base - (flame_features((face[b] + extra)[None])[0] - base_features)))
    return ArkitToFlame(face.T, residual, num_expressions)


def arkit_to_flame(flame: FaceRig, arkit: Callable[[], FaceRig], log: Callable[[str], None] | None = None) -> ArkitToFlame:
    """The map for this FLAME model: read from beside its file (or EmoAnim's cache) when fitted
    before, else fitted (a second) on the default ARKit head ``arkit()`` builds and saved there."""
    model = Path(getattr(flame, "model_path"))
    sha = file_sha256(model)
    name = f"{model.stem}.emoanim-arkit-v{RETARGET_VERSION}-{flame.num_expressions}.npz"
    places = [model.with_name(name), cache_dir() / "flame" / f"{sha[:16]}-{name}"]
    for place in places:
        cached = ArkitToFlame.load(place, sha, flame.num_expressions)
        if cached is not None:
            return cached
    if log is not None:
        log(f"fitting the ARKit -> FLAME map for {model.name} (once; cached beside it)")
    fitted = fit_arkit_to_flame(flame, arkit())
    for place in places:
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            fitted.save(place, sha)
            break
        except (OSError, EmoAnimError):
            continue  # a read-only folder: try the next place (or fit again next time)
    return fitted


__all__ = ["ArkitToFlame", "Landmarks", "arkit_to_flame", "features", "find_landmarks", "fit_arkit_to_flame"]
