"""Linear blend skinning in a few functions (after smplx's ``lbs.py``), in NumPy.

Shapes: T frames, V vertices, J joints, K blendshapes.
Both rigs (ARKit on Anny, FLAME) pose their meshes with ``lbs``; they differ only in the
blendshapes, joints and weights they feed it.
"""

from __future__ import annotations

import numpy as np


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle [..., 3] -> rotation matrices [..., 3, 3]."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)  # [..., 1]
    axis = rotvec / np.maximum(angle, 1e-8)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zeros = np.zeros_like(x)
    skew = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=-1)
    skew = skew.reshape(rotvec.shape[:-1] + (3, 3))
    sin = np.sin(angle)[..., None]
    cos = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3, dtype=rotvec.dtype), skew.shape)
    return eye + sin * skew + (1.0 - cos) * (skew @ skew)


def euler_to_rotvec(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Head angles in radians [T] -> axis-angle [T, 3] in the shared rig frame.

    yaw turns about +Y (up), pitch about +X (positive nods the chin down), roll about +Z.
    Composed as R = R_yaw @ R_pitch @ R_roll.
    """
    r_yaw = rodrigues(np.stack([np.zeros_like(yaw), yaw, np.zeros_like(yaw)], -1))
    r_pitch = rodrigues(np.stack([pitch, np.zeros_like(pitch), np.zeros_like(pitch)], -1))
    r_roll = rodrigues(np.stack([np.zeros_like(roll), np.zeros_like(roll), roll], -1))
    return matrix_to_rotvec(r_yaw @ r_pitch @ r_roll)


def matrix_to_rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> axis-angle [..., 3] (angles below pi)."""
    cos = np.clip((np.trace(rot, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)[..., None]
    vec = np.stack(
        [rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0], rot[..., 1, 0] - rot[..., 0, 1]],
        axis=-1,
    )
    sin = np.sin(angle)
    scale = np.where(sin > 1e-6, angle / np.maximum(2.0 * sin, 1e-12), 0.5)
    return vec * scale


def blend_shapes(coeffs: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """coeffs [T, K], shapedirs [K, V, 3] -> offsets [T, V, 3]."""
    k, v, _ = shapedirs.shape
    return (coeffs @ shapedirs.reshape(k, v * 3)).reshape(-1, v, 3)


def rigid_transforms(rot_mats: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Forward kinematics.

    rot_mats [T, J, 3, 3] local rotations, joints [T, J, 3] rest joint positions,
    parents [J] (parents[0] = -1, parents[j] < j). Returns the skinning transforms
    [T, J, 4, 4]: each maps a rest-pose point to its posed position under joint j.
    """
    t, j = rot_mats.shape[:2]
    rel = joints.copy()
    rel[:, 1:] -= joints[:, parents[1:]]
    local = np.zeros((t, j, 4, 4), dtype=rot_mats.dtype)
    local[..., :3, :3] = rot_mats
    local[..., :3, 3] = rel
    local[..., 3, 3] = 1.0
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    world = np.stack(world, axis=1)  # [T, J, 4, 4]
    # Remove the rest joint position so the transform applies to rest-pose vertices.
    posed_rest = np.einsum("tjab,tjb->tja", world[..., :3, :3], joints)
    world[..., :3, 3] -= posed_rest
    return world


def lbs(
    rest_vertices: np.ndarray,
    joints: np.ndarray,
    parents: np.ndarray,
    weights: np.ndarray,
    rotvecs: np.ndarray,
) -> np.ndarray:
    """Skin posed vertices.

    rest_vertices [T, V, 3] (template plus blendshape offsets), joints [T, J, 3] or [J, 3],
    parents [J], weights [V, J] (rows sum to 1), rotvecs [T, J, 3] local axis-angles.
    Returns vertices [T, V, 3].
    """
    t = rest_vertices.shape[0]
    if joints.ndim == 2:
        joints = np.broadcast_to(joints, (t,) + joints.shape)
    transforms = rigid_transforms(rodrigues(rotvecs), joints, parents)  # [T, J, 4, 4]
    j = transforms.shape[1]
    # Blend the transforms per vertex with one BLAS product, then apply them by components (2x
    # faster than einsum, which does not use BLAS for these shapes).
    per_vertex = (weights @ transforms[..., :3, :].reshape(t, j, 12)).reshape(t, -1, 3, 4)  # [T, V, 3, 4]
    posed = per_vertex[..., 3].copy()  # translation
    for b in range(3):
        posed += per_vertex[..., b] * rest_vertices[..., b : b + 1]
    return posed


def rigid_skinning(
    rest_vertices: np.ndarray,
    joints: np.ndarray,
    parents: np.ndarray,
    joint_of_vertex: np.ndarray,
    rotvecs: np.ndarray,
) -> np.ndarray:
    """``lbs`` for a mesh whose every vertex follows one joint (one-hot weights), as the ARKit head's:
    each joint's vertices move rigidly, one batched 3x3 product per joint (3x faster than blending).

    rest_vertices [T, V, 3], joints [J, 3], parents [J], joint_of_vertex [V] int, rotvecs [T, J, 3].
    Returns vertices [T, V, 3].
    """
    t = rest_vertices.shape[0]
    transforms = rigid_transforms(rodrigues(rotvecs), np.broadcast_to(joints, (t,) + joints.shape), parents)
    posed = np.empty_like(rest_vertices)
    for j in range(transforms.shape[1]):
        index = np.where(joint_of_vertex == j)[0]
        if len(index):
            rotation, translation = transforms[:, j, :3, :3], transforms[:, j, None, :3, 3]  # [T, 3, 3], [T, 1, 3]
            posed[:, index] = rest_vertices[:, index] @ rotation.transpose(0, 2, 1) + translation
    return posed
