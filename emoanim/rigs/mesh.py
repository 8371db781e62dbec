"""Small mesh utilities shared by the rigs and the renderer."""

from __future__ import annotations

import numpy as np


def uv_sphere(radius: float, rings: int = 16, segments: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A sphere around the origin whose pole points at +Z. Returns vertices [V, 3], faces [F, 3]."""
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]  # polar angle from +Z, poles added apart
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring_vertices = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    vertices = np.concatenate([[[0.0, 0.0, 1.0]], ring_vertices, [[0.0, 0.0, -1.0]]]) * radius
    last = len(vertices) - 1
    faces = []
    for s in range(segments):
        s1 = (s + 1) % segments
        faces.append([0, 1 + s, 1 + s1])  # front cap
        faces.append([last, 1 + (rings - 2) * segments + s1, 1 + (rings - 2) * segments + s])
        for r in range(rings - 2):
            a, b = 1 + r * segments + s, 1 + r * segments + s1
            c, d = a + segments, b + segments
            faces += [[a, c, b], [b, c, d]]
    return vertices.astype(np.float32), np.asarray(faces, dtype=np.int64)


def front_surface_z(points_xy: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    """How far out (+Z) the mesh comes in front of each point: points_xy [N, 2] -> z [N] of the front-most
    triangle that covers the point seen along Z (-inf where none does). Only the triangles whose
    bounding boxes overlap the points' are tested."""
    lo, hi = points_xy.min(0), points_xy.max(0)
    tri = vertices[faces]  # [F, 3, 3]
    keep = (tri[..., 0].max(1) >= lo[0]) & (tri[..., 0].min(1) <= hi[0]) & (tri[..., 1].max(1) >= lo[1]) & (tri[..., 1].min(1) <= hi[1])
    tri = tri[keep].astype(np.float64)
    a, e1, e2 = tri[:, 0, :2], tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2]  # [F, 2]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-14  # (triangles seen edge-on cover nothing)
    a, e1, e2, det, tri = a[ok], e1[ok], e2[ok], det[ok], tri[ok]
    out = np.full(len(points_xy), -np.inf)
    for start in range(0, len(points_xy), chunk):
        d = points_xy[start : start + chunk, None, :] - a[None]  # [n, F, 2]
        u = (d[..., 0] * e2[:, 1] - d[..., 1] * e2[:, 0]) / det  # barycentric coordinates of the point
        v = (e1[:, 0] * d[..., 1] - e1[:, 1] * d[..., 0]) / det
        inside = (u >= 0) & (v >= 0) & (u + v <= 1)
        z = tri[:, 0, 2] + u * (tri[:, 1, 2] - tri[:, 0, 2]) + v * (tri[:, 2, 2] - tri[:, 0, 2])
        out[start : start + chunk] = np.where(inside, z, -np.inf).max(1, initial=-np.inf)
    return out


class VertexNormals:
    """Area-weighted unit vertex normals for a fixed triangle list, fast enough per frame.

    The vertex/face incidence is a sparse matrix built once, so each call is two products.
    """

    def __init__(self, faces: np.ndarray, num_vertices: int) -> None:
        from scipy.sparse import csr_matrix

        self.faces = faces
        self._corners = [np.ascontiguousarray(faces[:, i]) for i in range(3)]
        rows = faces.ravel()
        cols = np.repeat(np.arange(len(faces)), 3)
        self.incidence = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (num_vertices, len(faces)))

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        """vertices [V, 3] -> normals [V, 3] float32."""
        a = vertices[self._corners[0]]
        e1, e2 = vertices[self._corners[1]] - a, vertices[self._corners[2]] - a  # [F, 3] edges
        # The cross product by components: np.cross's generality costs more than the arithmetic here.
        face_normals = np.empty_like(e1)  # length = 2 * area
        face_normals[:, 0] = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
        face_normals[:, 1] = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
        face_normals[:, 2] = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        normals = self.incidence @ face_normals
        normals /= np.maximum(np.sqrt(np.einsum("ij,ij->i", normals, normals)), 1e-12)[:, None]
        return normals.astype(np.float32, copy=False)
