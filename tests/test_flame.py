"""The FLAME rig and its safe model loader, on a synthetic FLAME-format fixture.

A test against the real FLAME model runs when one is placed under ``<repo>/../shared/flame/``.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flame_fixture  # noqa: E402

from emoanim.errors import EmoAnimError  # noqa: E402
from emoanim.rigs import load_rig, rig_param_names  # noqa: E402
from emoanim.rigs.base import REQUIRED_GROUPS  # noqa: E402
from emoanim.rigs.flame import FlameRig, flame_param_names  # noqa: E402
from emoanim.rigs.lbs import rodrigues  # noqa: E402
from emoanim.rigs.safe_pickle import load_model_file, restricted_loads  # noqa: E402

REAL_FLAME_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "flame"


@pytest.fixture(scope="module")
def fixture() -> flame_fixture.FlameFixture:
    return flame_fixture.make_fixture(num_expressions=100)


@pytest.fixture(scope="module")
def model_path(fixture, tmp_path_factory) -> Path:
    """The FLAME 2020 look-alike: Python 2 style pickle with chumpy arrays."""
    return flame_fixture.write_pickle(tmp_path_factory.mktemp("flame") / "generic_model.pkl", fixture)


@pytest.fixture(scope="module")
def rig(model_path) -> FlameRig:
    return FlameRig(model_path)


def lip_gap(rig: FlameRig, verts: np.ndarray) -> float:
    """Mean distance between paired upper and lower inner-lip vertices (same count, x order)."""
    upper, lower = rig.group("upper_lip"), rig.group("lower_lip")
    return float(np.linalg.norm(verts[upper] - verts[lower], axis=1).mean())


# --- parameters --------------------------------------------------------------------------


def test_param_names():
    names = flame_param_names(50)
    assert len(names) == 50 + 15 and len(set(names)) == len(names)
    assert names[0] == "exp00" and names[49] == "exp49" and names[50:53] == ("jaw_rx", "jaw_ry", "jaw_rz")
    assert {"neck_ry", "global_rx", "leye_ry", "reye_ry"} <= set(names)
    assert len(flame_param_names(100)) == 115 and flame_param_names(100)[99] == "exp99"
    assert rig_param_names("flame", 100) == flame_param_names(100)
    with pytest.raises(EmoAnimError, match="50 or 100"):
        flame_param_names(75)


def test_num_expressions_75_is_refused(model_path):
    with pytest.raises(EmoAnimError, match="50 or 100"):
        FlameRig(model_path, num_expressions=75)


# --- loading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "style, protocol",
    [("flame2020", 2), ("flame2020", 0), ("py3", 2), ("py3", 5), ("npz", None)],
)
def test_loads_every_format(fixture, tmp_path, style, protocol):
    if style == "npz":
        path = flame_fixture.write_npz(tmp_path / "flame.npz", fixture)
    else:
        path = flame_fixture.write_pickle(tmp_path / "flame.pkl", fixture, style=style, protocol=protocol)
    rig = FlameRig(path, num_expressions=100)
    v = fixture.num_vertices
    assert rig.num_params == 115
    assert rig.faces.shape == fixture.arrays["f"].shape and rig.faces.dtype == np.int32
    assert rig.vertex_colors.shape == (v, 3) and rig.vertex_colors.dtype == np.float32
    assert np.array_equal(rig.group("upper_lip"), fixture.upper_lip)
    verts = rig.vertices(np.zeros((3, rig.num_params)))
    assert verts.shape == (3, v, 3) and verts.dtype == np.float32
    np.testing.assert_allclose(verts[1], fixture.arrays["v_template"], atol=1e-6)


def test_chumpy_is_not_installed():
    # The fixture's chumpy objects must be handled by the stand-in, not a real import.
    assert "chumpy" not in sys.modules


def test_derived_chumpy_values(fixture, tmp_path):
    # A chumpy expression without a stored array is fine where FLAME does not need it ...
    expression = flame_fixture.FakeChumpyExpression(np.zeros(3), np.ones(3))
    path = flame_fixture.write_pickle(tmp_path / "extra.pkl", fixture, overrides={"J": expression})
    assert FlameRig(path).num_vertices == fixture.num_vertices
    # ... and a clear error where it does.
    path = flame_fixture.write_pickle(tmp_path / "derived.pkl", fixture, overrides={"posedirs": expression})
    with pytest.raises(EmoAnimError, match=r"'posedirs' is a chumpy expression \(chumpy\.ch_ops\.add\)"):
        FlameRig(path)


def test_load_rig_registry(model_path):
    rig = load_rig("flame", flame_model=model_path, num_expressions=50)
    assert isinstance(rig, FlameRig) and rig.num_params == 65
    with pytest.raises(EmoAnimError, match="needs a FLAME model"):
        load_rig("flame")


def test_fewer_expressions_than_asked(tmp_path):
    small = flame_fixture.make_fixture(num_expressions=50)
    path = flame_fixture.write_pickle(tmp_path / "flame.pkl", small)
    assert FlameRig(path, num_expressions=50).num_params == 65
    with pytest.raises(EmoAnimError, match="only 50 FLAME expression components"):
        FlameRig(path, num_expressions=100)


def test_missing_file(tmp_path):
    with pytest.raises(EmoAnimError, match="not found"):
        FlameRig(tmp_path / "nope.pkl")


def test_missing_keys(fixture, tmp_path):
    arrays = {k: v for k, v in fixture.arrays.items() if k not in ("posedirs", "weights")}
    path = tmp_path / "partial.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(EmoAnimError, match="lacks posedirs, weights"):
        FlameRig(path)
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(EmoAnimError, match="not a FLAME model file"):
        FlameRig(path)


def test_wrong_shapes(fixture, tmp_path):
    arrays = dict(fixture.arrays, weights=fixture.arrays["weights"][:, :4])
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(EmoAnimError, match="'weights' has shape"):
        FlameRig(path)


def test_truncated_and_garbage_files(model_path, tmp_path):
    data = model_path.read_bytes()
    for name, content in [("half.pkl", data[: len(data) // 2]), ("empty.pkl", b""), ("junk.pkl", b"\x80\x02hello")]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(EmoAnimError, match="truncated or corrupt"):
            FlameRig(path)
    npz = flame_fixture.write_npz(tmp_path / "flame.npz", flame_fixture.make_fixture(50))
    (tmp_path / "half.npz").write_bytes(npz.read_bytes()[:2000])
    with pytest.raises(EmoAnimError, match="truncated or corrupt"):
        FlameRig(tmp_path / "half.npz")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, v_template=np.array([{"a": 1}], dtype=object))
    with pytest.raises(EmoAnimError, match="pickled Python objects"):
        load_model_file(path)


# --- the unpickler refuses code ----------------------------------------------------------


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_refuses_os_system(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = {"v_template": np.zeros((3, 3)), "f": _RunsCommand(f"touch {marker}")}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(EmoAnimError, match=r"os\.system|posix\.system"):
        FlameRig(path)
    assert not marker.exists()


def test_refuses_hand_written_global(tmp_path):
    marker = tmp_path / "pwned"
    data = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    with pytest.raises(EmoAnimError, match=r"'os\.system'"):
        restricted_loads(data)
    # Names outside the allow-list are refused even from allowed modules.
    for module, name in [(b"numpy", b"load"), (b"builtins", b"eval"), (b"copyreg", b"__newobj__")]:
        with pytest.raises(EmoAnimError, match="refusing"):
            restricted_loads(b"c" + module + b"\n" + name + b"\n(S'x'\ntR.")
    assert not marker.exists()


def test_reconstructor_only_builds_stand_ins():
    # copy_reg._reconstructor(builtins.set, object, None) would make an arbitrary class.
    data = b"ccopy_reg\n_reconstructor\n(c__builtin__\nset\nc__builtin__\nobject\nNtR."
    with pytest.raises(EmoAnimError, match="corrupt"):
        restricted_loads(data)


# --- posing ------------------------------------------------------------------------------


def test_zero_params_reproduce_template(rig, fixture):
    verts = rig.vertices(rig.neutral())
    np.testing.assert_allclose(verts[0], fixture.arrays["v_template"], atol=1e-6)


def test_jaw_opens_the_mouth(rig):
    rest = rig.vertices(rig.neutral())[0]
    frames = rig.vertices(_jaw(rig, [0.0, 0.15, 0.3]))
    gaps = [lip_gap(rig, f) for f in frames]
    assert gaps[0] < gaps[1] < gaps[2] and gaps[2] > gaps[0] + 0.01
    lower, upper = rig.group("lower_lip"), rig.group("upper_lip")
    assert frames[2][lower, 1].mean() < rest[lower, 1].mean() - 0.01  # the lower lip drops
    np.testing.assert_allclose(frames[2][upper], rest[upper], atol=1e-6)  # the upper lip stays


def _jaw(rig: FlameRig, angles: list[float]) -> np.ndarray:
    params = np.zeros((len(angles), rig.num_params), dtype=np.float32)
    params[:, rig.param_index("jaw_rx")] = angles
    return params


def test_expression_reads_the_expression_slice(rig):
    rest = rig.vertices(rig.neutral())[0]
    opened = rig.vertices(rig.params_from_dict({"exp00": 1.0}))[0]
    assert lip_gap(rig, opened) > lip_gap(rig, rest) + 0.006  # exp00 parts the lips up to 1 cm
    other = rig.vertices(rig.params_from_dict({"exp30": 1.0}))[0]
    assert np.abs(other - rest).max() < 2e-3  # other components are small


def test_pose_correctives_are_applied(model_path, fixture):
    rig = FlameRig(model_path)
    params = rig.params_from_dict({"jaw_rx": 0.3})
    with_correctives = rig.vertices(params)[0]
    rig._pose_dirs = np.zeros_like(rig._pose_dirs)
    without = rig.vertices(params)[0]
    moved = np.flatnonzero(np.abs(with_correctives - without).max(axis=1) > 1e-5)
    assert np.array_equal(np.sort(moved), np.sort(fixture.lower_lip))


def test_neck_rotates_the_head(rig, fixture):
    rest = rig.vertices(rig.neutral())[0]
    posed = rig.vertices(rig.params_from_dict({"neck_ry": 0.4}))[0]
    joint = fixture.arrays["J"][1]
    expected = (rodrigues(np.array([0.0, 0.4, 0.0])) @ (rest[fixture.top] - joint)) + joint
    np.testing.assert_allclose(posed[fixture.top], expected, atol=1e-6)
    assert posed[fixture.eyeball_left, 0].mean() > rest[fixture.eyeball_left, 0].mean() + 0.01  # eyes follow
    np.testing.assert_allclose(posed[fixture.neck_ring], rest[fixture.neck_ring], atol=1e-6)  # the neck base stays


def test_global_rotation_is_rigid(rig, fixture):
    rest = rig.vertices(rig.neutral())[0]
    posed = rig.vertices(rig.params_from_dict({"global_rx": 0.2, "global_rz": -0.1}))[0]
    root = fixture.arrays["J"][0]
    rot = rodrigues(np.array([0.2, 0.0, -0.1]))
    np.testing.assert_allclose(posed, (rest - root) @ rot.T + root, atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_eye_rotation_moves_only_that_eyeball(rig, fixture, side):
    rest = rig.vertices(rig.neutral())[0]
    posed = rig.vertices(rig.params_from_dict({f"{side[0]}eye_ry": 0.3}))[0]
    moved = np.flatnonzero(np.abs(posed - rest).max(axis=1) > 1e-7)
    eyeball = fixture.eyeball_left if side == "left" else fixture.eyeball_right
    # Only that eyeball moves (all of it but the few vertices on the rotation axis).
    assert set(moved) <= set(eyeball) and len(moved) > 0.8 * len(eyeball)
    centre = rest[eyeball].mean(axis=0)
    np.testing.assert_allclose(
        np.linalg.norm(posed[eyeball] - centre, axis=1), np.linalg.norm(rest[eyeball] - centre, axis=1), atol=1e-6
    )


def test_frames_are_independent_and_chunked(model_path):
    rig = FlameRig(model_path)
    rng = np.random.default_rng(1)
    params = rng.normal(0, 0.1, (5, rig.num_params)).astype(np.float32)
    rig.frames_per_chunk = 2
    together = rig.vertices(params)
    for t in range(5):
        np.testing.assert_allclose(together[t], rig.vertices(params[t])[0], atol=1e-6)


def test_bad_params(rig):
    with pytest.raises(EmoAnimError, match="expects parameters"):
        rig.vertices(np.zeros((2, 3)))
    with pytest.raises(EmoAnimError, match="no parameter"):
        rig.param_index("jawOpen")


# --- groups and colours ------------------------------------------------------------------


def test_vertex_groups_follow_topology(rig, fixture):
    assert set(REQUIRED_GROUPS) <= set(rig.vertex_groups)
    for name, ids in rig.vertex_groups.items():
        assert ids.dtype == np.int64 and len(ids) >= (2 if name == "mouth_corners" else 5), name
    left, right = rig.v_template[rig.group("mouth_corners")]  # the slit's ends: shared by both lips' loops
    assert left[0] > rig.v_template[fixture.upper_lip, 0].max() and right[0] < rig.v_template[fixture.upper_lip, 0].min()
    assert np.array_equal(rig.group("upper_lip"), fixture.upper_lip)
    assert np.array_equal(rig.group("lower_lip"), fixture.lower_lip)
    for key, ids in fixture.eyelids.items():
        part, side = key.split("_")
        assert np.array_equal(rig.group(f"eyelid_{part}_{side}"), ids), key
    x = rig.v_template[:, 0]
    assert np.all(np.diff(x[rig.group("upper_lip")]) > 0)  # left to right by x
    mouth = set(rig.group("mouth").tolist())
    assert set(fixture.upper_lip) | set(fixture.lower_lip) <= mouth
    assert not mouth & set(rig.eyeball_vertices.tolist())
    assert x[rig.group("eyelid_upper_left")].mean() > 0 > x[rig.group("eyelid_upper_right")].mean()


def test_vertex_colors(rig, fixture):
    colors = rig.vertex_colors
    assert colors.min() >= 0 and colors.max() <= 1
    for eyeball in (fixture.eyeball_left, fixture.eyeball_right):
        brightness = colors[eyeball].mean(axis=1)
        dark, white = eyeball[brightness < 0.4], eyeball[brightness > 0.85]
        assert len(dark) > 0 and len(white) > len(dark)
        centre = rig.v_template[eyeball].mean(axis=0)
        assert np.all(rig.v_template[dark, 2] > centre[2])  # iris and pupil face +Z
    skin = np.setdiff1d(np.arange(rig.num_vertices), np.concatenate([rig.eyeball_vertices, rig.group("mouth")]))
    assert np.all(colors[skin].mean(axis=1) > 0.5)


# --- the real model, when one is provided ------------------------------------------------


def _real_flame_file() -> Path | None:
    if not REAL_FLAME_DIR.is_dir():
        return None
    files = sorted(REAL_FLAME_DIR.glob("*.pkl")) + sorted(REAL_FLAME_DIR.glob("*.npz"))
    return files[0] if files else None


def test_real_flame_model():
    path = _real_flame_file()
    if path is None:
        pytest.skip(f"no FLAME model (*.pkl or *.npz) under {REAL_FLAME_DIR}")
    rig = FlameRig(path, num_expressions=50)
    assert rig.num_vertices == 5023 and rig.faces.shape == (9976, 3)
    assert set(REQUIRED_GROUPS) <= set(rig.vertex_groups)
    rest = rig.vertices(rig.neutral())[0]
    np.testing.assert_allclose(rest, rig.v_template, atol=1e-5)
    upper, lower = rig.group("upper_lip"), rig.group("lower_lip")
    assert 4 <= len(upper) <= 40 and 4 <= len(lower) <= 40
    assert rest[upper, 1].mean() > rest[lower, 1].mean() - 1e-3
    opened = rig.vertices(rig.params_from_dict({"jaw_rx": 0.3}))[0]
    gap = lambda v: np.linalg.norm(v[upper].mean(0) - v[lower].mean(0))  # noqa: E731
    assert gap(opened) > gap(rest) + 0.005  # the jaw opens the lips by more than 5 mm
    assert opened[lower, 1].mean() < rest[lower, 1].mean()
    for side, sign in (("left", 1), ("right", -1)):
        up, low = rig.group(f"eyelid_upper_{side}"), rig.group(f"eyelid_lower_{side}")
        assert rest[up, 1].mean() > rest[low, 1].mean()
        assert sign * rest[up, 0].mean() > 0
    assert 0 < len(rig.eyeball_vertices) < 1500
    assert rig.vertex_colors.shape == (5023, 3)
