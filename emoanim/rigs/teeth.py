"""Teeth for a head that has none: two dental arches built behind the lips, in a few pure functions.

The upper arch is fixed to the skull; the lower one follows the jaw. A blendshape head has no jaw
bone, so the jaw's motion is read off the head itself: the tongue rides the jaw, and for each action
that moves the tongue rigidly (jawOpen, jawForward, jawLeft/Right, not tongueOut) the rigid motion
that best maps the tongue's rest onto its moved vertices (Kabsch) carries the lower teeth.

    arch(...)        -> vertices [S * C, 3], faces [F, 3], tooth boundary weight [S * C]
    jaw_motions(...) -> for each action: (rotation [3, 3], translation [3]) or None
    build_teeth(...) -> Teeth: vertices, per-action offsets [K, Vt, 3], faces, colours, gloss

Units are metres in the rigs' shared frame (+X the subject's left, +Y up, +Z out of the face).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from emoanim.rigs.mesh import front_surface_z

# Crown widths (mm) from the midline outwards: central and lateral incisor, canine, two premolars.
UPPER_TEETH_MM = (8.5, 6.5, 7.5, 7.0, 6.5)
LOWER_TEETH_MM = (5.0, 5.5, 7.0, 7.0, 7.0)
ENAMEL = (0.72, 0.68, 0.60)  # linear RGB: off-white, a little warm
GAP = (0.30, 0.24, 0.21)  # between teeth
POKE_DEPTH = 0.008  # metres: skin at most this far behind a tooth point is skin the point pokes through
SECTION = 13  # points in an arch's cross-section (arch())
TRANSLUCENT = (0.42, 0.43, 0.46)  # the thin biting edge, where enamel lets the dark mouth show through
GUM = (0.62, 0.28, 0.28)


@dataclass(frozen=True)
class Teeth:
    vertices: np.ndarray  # [Vt, 3] upper arch then lower arch
    offsets: np.ndarray  # [K, Vt, 3] each action's offsets at weight 1 (the lower arch's jaw motion)
    faces: np.ndarray  # [Ft, 3] int64 into ``vertices``
    colors: np.ndarray  # [Vt, 3] linear RGB


def arch(front_z: float, edge_y: Callable[[np.ndarray], np.ndarray], crown: float, gum: float, half_width: float, depth: float,
         thickness: float, widths_mm: tuple[float, ...], scale: float, upper: bool,
         samples: int = 49) -> tuple[np.ndarray, ...]:
    """One dental arch: an elliptical band (front at ``front_z``, sides ``depth`` further back at
    x = +-``half_width``) swept with a rounded crown cross-section. The biting edge is at ``edge_y(x)``; the
    crown rises (upper) or falls (lower) ``crown`` from it, then ``gum`` more of gum.

    Returns vertices [samples * SECTION, 3], faces [F, 3], and weights [V] in 0-1 of: the gap between two
    teeth, the gum, the biting edge (translucent enamel)."""
    away = 1.0 if upper else -1.0  # from the biting edge towards the gum
    # Along the arch: the angle of an ellipse, sampled so that the spacing is even in arc length.
    phi = np.linspace(-1.25, 1.25, 4 * samples)
    x, z = half_width * np.sin(phi) / np.sin(1.25), front_z - depth * (1 - np.cos(phi)) / (1 - np.cos(1.25))
    arc = np.concatenate([[0], np.cumsum(np.hypot(np.diff(x), np.diff(z)))])
    arc -= np.interp(0.0, x, arc)  # 0 at the midline
    s = np.linspace(arc[0], arc[-1], samples)
    x, z = np.interp(s, arc, x), np.interp(s, arc, z)
    tangent = np.gradient(np.stack([x, z], 1), axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)  # outwards (labial) in the xz-plane
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)

    # Tooth boundaries at the crown widths from the midline; each crown's corners are rounded off.
    edges = np.cumsum(np.asarray(widths_mm) * 1e-3 * scale)
    to_edge = np.min(np.abs(np.abs(s)[:, None] - np.concatenate([[0.0], edges])[None]), axis=1)  # [S]
    boundary = np.clip(1.0 - to_edge / (0.6e-3 * scale), 0.0, 1.0)
    corner = 0.7e-3 * scale * np.clip(1.0 - to_edge / (1.8e-3 * scale), 0.0, 1.0) ** 2  # shorter at the corners

    # The cross-section, from the labial gum down the front, round the biting edge (a half-round of
    # the crown's thickness) and up the back: (offset along the outward normal, height from the edge).
    r, top = 0.5 * thickness, crown + gum
    theta = np.linspace(0.0, np.pi, 7)[1:-1]
    out = np.r_[np.zeros(4), -r * (1 - np.cos(theta)), np.full(4, -thickness)]
    height = np.r_[np.linspace(top, r, 4), r * (1 - np.sin(theta)), np.linspace(r, top, 4)]
    labial = np.r_[np.ones(4), np.zeros(5), -np.ones(4)]
    out = out + labial * 0.15 * thickness * np.sin(np.pi * np.clip(height / crown, 0.0, 1.0))  # convex crowns
    out = out - np.tan(np.radians(15.0)) * height  # crowns lean back towards the gum, as incisors do
    section = len(out)  # = SECTION

    lift = height[None] + corner[:, None] * np.clip(1.0 - height[None] / crown, 0.0, None)  # [S, C]
    edge = edge_y(x)[:, None]  # [S, 1]
    vertices = np.stack([x[:, None] + normal[:, :1] * out[None], edge + away * lift,
                         z[:, None] + normal[:, 1:] * out[None]], -1).reshape(-1, 3)
    faces = []
    for i in range(samples - 1):
        for j in range(section - 1):
            a, b, c, d = i * section + j, (i + 1) * section + j, i * section + j + 1, (i + 1) * section + j + 1
            faces += [[a, b, c], [c, b, d]]
    faces = np.asarray(faces, np.int64)
    mid = (samples // 2) * section + 2  # a vertex on the front of the front teeth: its normal must face +Z
    tri = vertices[faces[(faces == mid).any(1)]]
    if np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]).sum(0)[2] < 0:
        faces = faces[:, ::-1]
    gum_weight = np.clip((lift.ravel() - crown) / (0.35 * gum), 0.0, 1.0)
    edge_weight = np.clip(1.0 - lift.ravel() / (0.25 * crown), 0.0, 1.0)
    return (vertices.astype(np.float32), faces, np.repeat(boundary, section).astype(np.float32),
            gum_weight.astype(np.float32), edge_weight.astype(np.float32))


def kabsch(rest: np.ndarray, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The rigid motion (rotation [3, 3], translation [3]) that best maps ``rest`` [N, 3] onto ``moved``,
    and its mean residual (metres)."""
    mr, mm = rest.mean(0), moved.mean(0)
    u, _, vt = np.linalg.svd((rest - mr).T @ (moved - mm))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))])
    rotation = vt.T @ d @ u.T
    translation = mm - rotation @ mr
    residual = float(np.linalg.norm(rest @ rotation.T + translation - moved, axis=1).mean())
    return rotation, translation, residual


def jaw_motions(tongue_rest: np.ndarray, tongue_offsets: np.ndarray, min_move: float = 5e-4,
                max_residual: float = 1e-3) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """tongue_rest [N, 3], tongue_offsets [K, N, 3] -> per action the jaw's rigid motion at weight 1,
    or None where the tongue stays (or deforms, as in tongueOut: not the jaw)."""
    motions: list[tuple[np.ndarray, np.ndarray] | None] = []
    for offsets in tongue_offsets:
        if np.linalg.norm(offsets, axis=1).mean() < min_move:
            motions.append(None)
            continue
        rotation, translation, residual = kabsch(tongue_rest, tongue_rest + offsets)
        motions.append((rotation, translation) if residual < max_residual else None)
    return motions


def push_behind(arch_vertices: np.ndarray, skins: np.ndarray, faces: np.ndarray, margin: float) -> np.ndarray:
    """arch_vertices [S, C, 3] (one arch: S cross-sections of C points) moved back (-Z) just enough to lie
    ``margin`` behind the front-most skin in front of them in every one of ``skins`` [P, Vs, 3] (the
    mouth closed in its ways; ``faces`` [F, 3] their triangles). Each cross-section moves as one, and
    the moves are smoothed along the arch, so the teeth keep their shape."""
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d  # lazy: start-up time

    points = arch_vertices.reshape(-1, 3)
    push = np.zeros(len(points))
    for skin in skins:
        front = front_surface_z(points[:, :2], skin, faces)
        # Skin just behind a point means the point pokes through it; skin far behind is the back of the
        # mouth seen through lips that part a little (mouthPress): there the teeth may show.
        poking = front > points[:, 2] - POKE_DEPTH
        push = np.maximum(push, np.where(poking, points[:, 2] - (front - margin), 0.0))
    need = push.reshape(arch_vertices.shape[:2]).max(1)  # [S]
    smooth = np.maximum(gaussian_filter1d(maximum_filter1d(need, 7), 2.0), need)
    moved = arch_vertices.copy()
    moved[..., 2] -= smooth[:, None]
    return moved


def build_teeth(upper_lip: np.ndarray, lower_lip: np.ndarray, tongue_rest: np.ndarray,
                tongue_offsets: np.ndarray, closed: np.ndarray, faces: np.ndarray) -> Teeth:
    """Teeth sized and placed from the head's own mouth.

    upper_lip, lower_lip [N, 3]: the inner-lip contours; tongue_rest [Nt, 3], tongue_offsets [K, Nt, 3];
    closed [P, Vs, 3]: the skin with the mouth closed in each of its ways (at rest, lips rolled in,
    pressed, puckered), faces [F, 3] its triangles: the teeth are kept behind every one of them, so
    they never show through."""
    half_mouth = 0.5 * (upper_lip[:, 0].max() - upper_lip[:, 0].min())
    scale = float(np.clip(half_mouth / 0.0215, 0.7, 1.2))  # crown sizes follow the mouth's width
    # At rest the teeth are a little apart (the "freeway space", 2-3 mm): each biting edge follows its
    # lip's inner contour, off it, so closed lips show no enamel through the seam between them.
    def along(contour: np.ndarray, margin: float) -> Callable[[np.ndarray], np.ndarray]:
        order = np.argsort(contour[:, 0])
        return lambda x: np.interp(x, contour[order, 0], contour[order, 1]) + margin

    front = upper_lip[:, 2].min() - 0.008 * scale
    common = dict(half_width=0.027 * scale, depth=0.016 * scale, thickness=0.0055 * scale, scale=scale)
    up_v, up_f, up_gap, up_gum, up_edge = arch(front, along(upper_lip, 0.0005 * scale), 0.0100 * scale, 0.004 * scale,
                                      widths_mm=UPPER_TEETH_MM, upper=True, **common)
    lo_v, lo_f, lo_gap, lo_gum, lo_edge = arch(front - 0.0012 * scale, along(lower_lip, -0.0025 * scale), 0.0085 * scale,
                                      0.004 * scale, widths_mm=LOWER_TEETH_MM, upper=False,
                                      **{**common, "half_width": 0.9 * common["half_width"]})
    up_v, lo_v = (push_behind(v.reshape(-1, SECTION, 3), closed, faces, 0.0015 * scale).reshape(-1, 3) for v in (up_v, lo_v))
    vertices = np.concatenate([up_v, lo_v])
    lower = np.r_[np.zeros(len(up_v), bool), np.ones(len(lo_v), bool)]
    offsets = np.zeros((len(tongue_offsets), len(vertices), 3), np.float32)
    for k, motion in enumerate(jaw_motions(tongue_rest, tongue_offsets)):
        if motion is not None:
            rotation, translation = motion
            offsets[k, lower] = lo_v @ rotation.T.astype(np.float32) + translation - lo_v
    gap, gum = np.concatenate([up_gap, lo_gap])[:, None], np.concatenate([up_gum, lo_gum])[:, None]
    edge = 0.6 * np.concatenate([up_edge, lo_edge])[:, None]
    colors = (1 - edge) * np.asarray(ENAMEL) + edge * np.asarray(TRANSLUCENT)
    colors = (1 - gap) * colors + gap * np.asarray(GAP)
    colors = (1 - gum) * colors + gum * np.asarray(GUM)
    colors *= 1.0 - 0.6 * np.clip((front - vertices[:, 2:]) / common["depth"], 0.0, 1.0)  # less light further in
    faces = np.concatenate([up_f, lo_f + len(up_v)])
    return Teeth(vertices, offsets, faces, colors.astype(np.float32))


__all__ = ["Teeth", "arch", "push_behind", "build_teeth", "jaw_motions", "kabsch"]
