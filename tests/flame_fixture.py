"""A small synthetic FLAME model for tests (FLAME itself is licensed and never committed).

The mesh is a FLAME-like head built from a UV sphere (radius 9 cm, face towards +Z, +X the
subject's left) that keeps the topology the FLAME rig relies on:

* an open neck boundary at the bottom;
* a mouth slit (the inner-lip contour is a boundary loop with pointed corners), made by
  giving the faces below the slit their own copies of the slit vertices;
* two eye openings made the same way, and two eyeball spheres behind them, skinned to the
  eye joints, with a pole on +Z (the pupil);
* FLAME's 5 joints (global, neck, jaw, eye, eye), regressed from vertex rings/eyeballs.

Arrays follow FLAME's layout and dtypes: v_template [V,3] f8, shapedirs [V,3,300+E] f8,
posedirs [V,3,36] f8, J_regressor scipy csc [5,V], weights [V,5] f8, kintree_table [2,5]
uint32 (root parent 4294967295), f [F,3] uint32.

Blendshapes: exp00 opens the lips, exp01 widens and raises the mouth corners, exp02 / exp03 close
the left / right eyelids, the rest are small noise; the 300 shape components are noise too, so a loader that reads expressions from the
wrong slice fails the tests. The jaw pose corrective pushes the lower lip forward.

Writers: ``write_pickle(path, fixture, style=...)`` with style "flame2020" (a Python 2 style
pickle: str opcodes for array bytes, numpy.core names, chumpy.ch.Ch and old scipy class
names) or "py3" (plain ``pickle.dump``), and ``write_npz``.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse

HEAD_RADIUS = 0.09
N_LON = 80  # 4.5 degrees per segment; column 0 faces +Z
LAST_RING = 17  # rings 1..17 at 9 degree steps from the top; ring 17 is the open neck
MOUTH_RING, MOUTH_HALF = 13, 4  # slit on ring 13 from column -4 to +4 (corners at +-4)
EYE_RING, EYE_COLUMN, EYE_HALF = 8, 8, 3  # eye slits on ring 8 around columns +-8 (36 deg)
EYEBALL_RADIUS = 0.012
NUM_SHAPE = 300


class FakeCh:
    """Pickled under the name ``chumpy.ch.Ch`` with chumpy's state layout (value in 'x')."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __getstate__(self) -> dict:
        return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}}


class FakeChumpyExpression:
    """Pickled as ``chumpy.ch_ops.add``: a derived chumpy value with no stored array."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = FakeCh(a), FakeCh(b)

    def __getstate__(self) -> dict:
        return {"a": self.a, "b": self.b, "_dirty_vars": {"a", "b"}, "_itr": None, "_depends_on_deps": {}}


class FakeCscMatrix:
    """Pickled under the old name ``scipy.sparse.csc.csc_matrix`` with scipy's state dict."""

    def __init__(self, matrix: scipy.sparse.csc_matrix) -> None:
        self.matrix = matrix

    def __getstate__(self) -> dict:
        m = self.matrix
        return {"_shape": m.shape, "data": m.data, "indices": m.indices, "indptr": m.indptr,
                "maxprint": 50, "format": "csc"}  # fmt: skip


@dataclass
class FlameFixture:
    arrays: dict  # FLAME keys -> numpy / scipy values
    upper_lip: np.ndarray  # expected groups, ordered by x
    lower_lip: np.ndarray
    eyelids: dict = field(default_factory=dict)  # "upper_left" ... -> indices ordered by x
    eyeball_left: np.ndarray = None  # the eyeball at +X
    eyeball_right: np.ndarray = None
    top: int = 0  # the top-of-head vertex
    neck_ring: np.ndarray = None  # bottom boundary ring (skinned to the global joint)

    @property
    def num_vertices(self) -> int:
        return self.arrays["v_template"].shape[0]


def _ring_point(ring: int, column: float) -> np.ndarray:
    theta = np.radians(9.0 * ring)
    phi = 2 * np.pi * column / N_LON
    r = HEAD_RADIUS * np.sin(theta)
    return np.array([r * np.sin(phi), HEAD_RADIUS * np.cos(theta), r * np.cos(phi)])


def _lens(n: int) -> np.ndarray:
    """[n] weights along a slit's interior: 1 in the middle, smaller towards the corners."""
    return np.sin(np.pi * np.arange(1, n + 1) / (n + 1))


def _orient_outward(faces: np.ndarray, verts: np.ndarray, centre: np.ndarray) -> np.ndarray:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    normal = np.cross(b - a, c - a)
    inward = np.einsum("fk,fk->f", normal, (a + b + c) / 3 - centre) < 0
    faces = faces.copy()
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return faces


def _eyeball(centre: np.ndarray, start: int, n_lat: int = 8, n_lon: int = 12):
    """UV sphere with its poles on the Z axis: vertex 0 is the front pole (pupil)."""
    verts = [centre + [0, 0, EYEBALL_RADIUS]]
    for i in range(1, n_lat):
        a = np.pi * i / n_lat
        for j in range(n_lon):
            b = 2 * np.pi * j / n_lon
            verts.append(centre + EYEBALL_RADIUS * np.array([np.sin(a) * np.cos(b), np.sin(a) * np.sin(b), np.cos(a)]))
    verts.append(centre - [0, 0, EYEBALL_RADIUS])
    ring = lambda i, j: 1 + (i - 1) * n_lon + j % n_lon  # noqa: E731
    back = len(verts) - 1
    faces = []
    for j in range(n_lon):
        faces.append([0, ring(1, j), ring(1, j + 1)])
        faces.append([back, ring(n_lat - 1, j + 1), ring(n_lat - 1, j)])
        for i in range(1, n_lat - 1):
            faces += [[ring(i, j), ring(i + 1, j), ring(i + 1, j + 1)], [ring(i, j), ring(i + 1, j + 1), ring(i, j + 1)]]
    verts = np.array(verts)
    return verts, _orient_outward(np.array(faces), verts, centre) + start


def make_fixture(num_expressions: int = 100, seed: int = 0) -> FlameFixture:
    rng = np.random.default_rng(seed)

    # --- Head sphere: top pole, then rings 1..LAST_RING of N_LON vertices.
    verts = [np.array([0.0, HEAD_RADIUS, 0.0])]
    for i in range(1, LAST_RING + 1):
        verts += [_ring_point(i, j) for j in range(N_LON)]

    def vid(i: int, j: int) -> int:
        return 0 if i == 0 else 1 + (i - 1) * N_LON + j % N_LON

    # Slits: interior slit vertices get a copy used by the faces below the slit, which opens
    # a boundary loop whose corners (the slit ends) stay shared, like FLAME's lips and lids.
    dup: dict[int, int] = {}
    slits = [(MOUTH_RING, 0, MOUTH_HALF), (EYE_RING, EYE_COLUMN, EYE_HALF), (EYE_RING, -EYE_COLUMN, EYE_HALF)]
    slit_interior = {}
    for ring, centre_col, half in slits:
        cols = range(centre_col - half + 1, centre_col + half)
        slit_interior[(ring, centre_col)] = [vid(ring, j) for j in cols]
        for j in cols:
            dup[vid(ring, j)] = len(verts)
            verts.append(verts[vid(ring, j)].copy())
    verts = np.array(verts)

    faces = [[0, vid(1, j), vid(1, j + 1)] for j in range(N_LON)]
    for i in range(1, LAST_RING):
        for j in range(N_LON):
            top_l, top_r = vid(i, j), vid(i, j + 1)
            # Faces between ring i and i+1 lie below ring i: they use the slit copies.
            top_l, top_r = dup.get(top_l, top_l), dup.get(top_r, top_r)
            bot_l, bot_r = vid(i + 1, j), vid(i + 1, j + 1)
            faces += [[top_l, bot_l, bot_r], [top_l, bot_r, top_r]]
    faces = _orient_outward(np.array(faces), verts, np.zeros(3))
    num_head = len(verts)

    # Open the slits into lens shapes: originals up, copies down (2 mm lips, 6 mm eyes).
    for (ring, centre_col), ids in slit_interior.items():
        half_gap = 0.001 if ring == MOUTH_RING else 0.003
        profile = _lens(len(ids))
        for k, v in enumerate(ids):
            verts[v, 1] += half_gap * profile[k]
            verts[dup[v], 1] -= half_gap * profile[k]

    # --- Eyeballs behind the eye openings; the +X one first (FLAME joint 3).
    eyeball_ids, eye_centres = [], []
    for column in (EYE_COLUMN, -EYE_COLUMN):
        surface = _ring_point(EYE_RING, column)
        centre = surface * (1 - 0.008 / HEAD_RADIUS)  # sunk 8 mm: the front pokes out 4 mm
        ball, ball_faces = _eyeball(centre, start=len(verts))
        eyeball_ids.append(np.arange(len(verts), len(verts) + len(ball)))
        eye_centres.append(centre)
        verts = np.concatenate([verts, ball])
        faces = np.concatenate([faces, ball_faces])
    num_verts = len(verts)

    # --- Skinning weights [V, 5]: global, neck, jaw, eye(+X), eye(-X).
    weights = np.zeros((num_verts, 5))
    weights[:, 1] = 1.0  # the head follows the neck
    upper_lip_ids = slit_interior[(MOUTH_RING, 0)]
    lower_lip_ids = [dup[v] for v in upper_lip_ids]
    for i in range(MOUTH_RING, LAST_RING + 1):
        for j in range(N_LON):
            v = vid(i, j)
            phi = 2 * np.pi * j / N_LON
            front = np.clip((np.cos(phi) - np.cos(np.radians(75))) / (np.cos(np.radians(35)) - np.cos(np.radians(75))), 0, 1)
            jaw = {MOUTH_RING: 0.5, 14: 1.0, 15: 0.6}.get(i, 0.0) * front
            glob = {16: 0.5, 17: 1.0}.get(i, 0.0)
            weights[v] = [glob, 1 - glob - jaw, jaw, 0, 0]
    weights[upper_lip_ids] = [0, 1, 0, 0, 0]
    weights[lower_lip_ids] = [0, 0, 1, 0, 0]
    weights[eyeball_ids[0]] = [0, 0, 0, 1, 0]
    weights[eyeball_ids[1]] = [0, 0, 0, 0, 1]

    # --- Joint regressor [5, V]: each joint is the mean of some vertices.
    def mean_row(ids) -> np.ndarray:
        row = np.zeros(num_verts)
        row[np.asarray(ids)] = 1.0 / len(ids)
        return row

    ring_ids = lambda i: [vid(i, j) for j in range(N_LON)]  # noqa: E731
    regressor = np.stack([mean_row(ring_ids(17)), mean_row(ring_ids(15)), mean_row(ring_ids(11)),
                          mean_row(eyeball_ids[0]), mean_row(eyeball_ids[1])])  # fmt: skip

    # --- Blendshapes [V, 3, 300 + E]: shape noise, then expressions.
    shapedirs = np.zeros((num_verts, 3, NUM_SHAPE + num_expressions))
    shapedirs[:num_head, :, :NUM_SHAPE] = rng.normal(0, 1e-3, (num_head, 3, NUM_SHAPE))
    shapedirs[:num_head, :, NUM_SHAPE + 2 :] = rng.normal(0, 1e-4, (num_head, 3, num_expressions - 2))
    lip_profile = _lens(len(upper_lip_ids))
    shapedirs[upper_lip_ids, 1, NUM_SHAPE] = 0.004 * lip_profile  # exp00: lips part
    shapedirs[lower_lip_ids, 1, NUM_SHAPE] = -0.006 * lip_profile
    for side in (-1, 1):  # exp01: corners out and up
        shapedirs[vid(MOUTH_RING, side * MOUTH_HALF), :, NUM_SHAPE + 1] = [0.004 * side, 0.003, 0]
    for k, column in ((2, EYE_COLUMN), (3, -EYE_COLUMN)):  # exp02 / exp03: the +X / -X eye's lids close
        ids = slit_interior[(EYE_RING, column)]
        shapedirs[ids, 1, NUM_SHAPE + k] = -0.003 * _lens(len(ids))
        shapedirs[[dup[v] for v in ids], 1, NUM_SHAPE + k] = 0.003 * _lens(len(ids))

    # --- Pose correctives [V, 3, 36]: feature 9 * (joint - 1) + 3 * row + col of (R - I).
    # Jaw (joint 2) R[2, 1] = sin(angle about x): the opening jaw pushes the lower lip forward.
    posedirs = np.zeros((num_verts, 3, 36))
    posedirs[lower_lip_ids, 2, 9 + 2 * 3 + 1] = 0.01

    arrays = {
        "v_template": verts,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.uint32),
        "f": faces.astype(np.uint32),
        "J": regressor @ verts,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    order = lambda ids: np.asarray(sorted(ids, key=lambda v: verts[v, 0]), dtype=np.int64)  # noqa: E731
    eyelids = {}
    for side, column in (("left", EYE_COLUMN), ("right", -EYE_COLUMN)):
        eyelids[f"upper_{side}"] = order(slit_interior[(EYE_RING, column)])
        eyelids[f"lower_{side}"] = order([dup[v] for v in slit_interior[(EYE_RING, column)]])
    return FlameFixture(
        arrays=arrays,
        upper_lip=order(upper_lip_ids),
        lower_lip=order(lower_lip_ids),
        eyelids=eyelids,
        eyeball_left=eyeball_ids[0],
        eyeball_right=eyeball_ids[1],
        top=0,
        neck_ring=np.asarray(ring_ids(17)),
    )


# ---------------------------------------------------------------------------------------
# Writers.


class _Py2StylePickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for FLAME 2020: bytes as str opcodes, Python 2
    module names, and the chumpy / old scipy class names for our fake classes."""

    dispatch = pickle._Pickler.dispatch.copy()
    RENAMES = {
        id(FakeCh): ("chumpy.ch", "Ch"),
        id(FakeCscMatrix): ("scipy.sparse.csc", "csc_matrix"),
        id(FakeChumpyExpression): ("chumpy.ch_ops", "add"),
        id(np.ndarray.__reduce__(np.zeros(1))[0]): ("numpy.core.multiarray", "_reconstruct"),
    }

    def save_py2_str(self, obj: bytes | str) -> None:
        # Python 2 had one str type for text and bytes; array data and names both used it.
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if self.proto == 0:  # text protocol: S'...' with Python escapes
            self.write(pickle.STRING + repr(data)[1:].encode("ascii") + b"\n")
        elif len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str  # our keys and dtype codes are ASCII

    def save_global(self, obj, name=None) -> None:
        if id(obj) in self.RENAMES:
            module, name = self.RENAMES[id(obj)]
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def write_pickle(
    path: Path, fixture: FlameFixture, style: str = "flame2020", protocol: int = 2, overrides: dict | None = None
) -> Path:
    """style "flame2020": Python 2 style with chumpy arrays; "py3": plain pickle.dump.

    ``overrides`` replaces or adds entries after the style's conversions.
    """
    arrays = dict(fixture.arrays)
    with open(path, "wb") as fh:
        if style == "flame2020":
            # FLAME 2020 keeps v_template and shapedirs as chumpy arrays.
            arrays["v_template"] = FakeCh(arrays["v_template"])
            arrays["shapedirs"] = FakeCh(arrays["shapedirs"])
            arrays["J_regressor"] = FakeCscMatrix(arrays["J_regressor"])
            arrays.update(overrides or {})
            _Py2StylePickler(fh, protocol=protocol).dump(arrays)
        elif style == "py3":
            arrays.update(overrides or {})
            pickle.dump(arrays, fh, protocol=protocol)
        else:
            raise ValueError(style)
    return Path(path)


def write_npz(path: Path, fixture: FlameFixture) -> Path:
    arrays = dict(fixture.arrays)
    arrays["J_regressor"] = arrays["J_regressor"].toarray()
    np.savez(path, **arrays)
    return Path(path)
