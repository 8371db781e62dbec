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


class VertexNormals:
    """Area-weighted unit vertex normals for a fixed triangle list, fast enough per frame.

    The vertex/face incidence is a sparse matrix built once, so each call is two products.
    """

    def __init__(self, faces: np.ndarray, num_vertices: int) -> None:
        from scipy.sparse import csr_matrix

        self.faces = faces
        rows = faces.ravel()
        cols = np.repeat(np.arange(len(faces)), 3)
        self.incidence = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (num_vertices, len(faces)))

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        """vertices [V, 3] -> normals [V, 3] float32."""
        tri = vertices[self.faces]  # [F, 3, 3]
        face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
        normals = self.incidence @ face_normals
        return (normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

