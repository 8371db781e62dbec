"""glTF export: the file passes the Khronos validator, and posing it by the glTF rules gives the rig's face."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emoanim.errors import EmoAnimError
from emoanim.motion.container import Motion
from emoanim.motion.gltf import export_glb
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS, ArkitRig
from emoanim.rigs import rig_param_names

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = ROOT / ".cache" / "node" / "node_modules" / "gltf-validator"  # `make test-deps` installs it


def _take(frames: int = 30) -> Motion:
    t = np.linspace(0.0, 1.0, frames, dtype=np.float32)
    params = np.zeros((frames, len(ARKIT_PARAMS)), np.float32)
    params[:, ARKIT_PARAMS.index("jawOpen")] = t
    params[:, ARKIT_PARAMS.index("mouthSmileLeft")] = 1.0 - t
    params[:, ARKIT_PARAMS.index("eyeBlinkRight")] = np.sin(np.pi * t)
    params[:, ARKIT_PARAMS.index("eyeLookUpLeft")] = 0.6 * t
    params[:, ARKIT_PARAMS.index("eyeLookOutRight")] = 0.4
    params[:, ARKIT_PARAMS.index("headYaw")] = 0.4 * t - 0.2
    params[:, ARKIT_PARAMS.index("headPitch")] = 0.15
    params[:, ARKIT_PARAMS.index("headRoll")] = -0.1 * t
    return Motion(params, ARKIT_PARAMS, 25.0, "arkit")


def _array(gltf, index: int) -> np.ndarray:
    """An accessor's data (tightly packed float / uint views, as the exporter writes them)."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    blob = gltf.binary_blob()
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16}[accessor.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[accessor.type]
    data = np.frombuffer(blob, dtype, accessor.count * width, view.byteOffset + (accessor.byteOffset or 0))
    return data.reshape(accessor.count, width) if width > 1 else data


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _pose(gltf, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """The face's and left eye's vertices at ``frame``, posed by the glTF rules from the file alone."""
    animation = gltf.animations[0]
    animated = {}
    for channel in animation.channels:
        out = _array(gltf, animation.samplers[channel.sampler].output)
        animated[(channel.target.node, channel.target.path)] = out
    names = gltf.meshes[0].extras["targetNames"]

    def local(i: int) -> np.ndarray:
        node = gltf.nodes[i]
        m = np.eye(4)
        if (i, "rotation") in animated:
            m[:3, :3] = _quat_matrix(animated[(i, "rotation")][frame])
        elif node.rotation:
            m[:3, :3] = _quat_matrix(np.array(node.rotation))
        m[:3, 3] = node.translation or (0.0, 0.0, 0.0)
        return m

    parent = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}

    def world(i: int) -> np.ndarray:
        return local(i) if i not in parent else world(parent[i]) @ local(i)

    primitive = gltf.meshes[0].primitives[0]
    weights = animated[(5, "weights")].reshape(-1, len(names))[frame]
    vertices = _array(gltf, primitive.attributes.POSITION).astype(np.float64)
    for w, target in zip(weights, primitive.targets):
        vertices = vertices + w * _array(gltf, target["POSITION"])
    skin = gltf.skins[0]
    inverse_bind = _array(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_matrices = np.stack([world(j) @ ib for j, ib in zip(skin.joints, inverse_bind)])
    joint_of_vertex = _array(gltf, primitive.attributes.JOINTS_0)[:, 0]
    homogeneous = np.concatenate([vertices, np.ones((len(vertices), 1))], 1)
    face = np.einsum("vab,vb->va", joint_matrices[joint_of_vertex], homogeneous)[:, :3]
    eye_node = next(i for i, n in enumerate(gltf.nodes) if n.name == "eyeLeft")
    eye = _array(gltf, gltf.meshes[gltf.nodes[eye_node].mesh].primitives[0].attributes.POSITION)
    eye = (world(eye_node) @ np.concatenate([eye, np.ones((len(eye), 1))], 1).T).T[:, :3]
    return face, eye


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from pygltflib import GLTF2

    take = _take()
    path = export_glb(take, tmp_path_factory.mktemp("glb") / "take.glb", avatar="maya")
    return take, path, GLTF2().load_binary(str(path))


def test_glb_holds_the_arkit_shapes_bones_and_take(exported):
    take, path, gltf = exported
    assert path.read_bytes()[:4] == b"glTF"
    assert gltf.meshes[0].extras["targetNames"] == list(ARKIT_ACTIONS)  # Apple's names, Apple's order
    assert len(gltf.meshes[0].primitives[0].targets) == 52
    assert [gltf.nodes[j].name for j in gltf.skins[0].joints] == ["base", "neck", "head"]
    animation = gltf.animations[0]
    times = _array(gltf, animation.samplers[0].input)
    assert len(times) == take.num_frames and times[-1] == pytest.approx((take.num_frames - 1) / take.fps)
    weights = [_array(gltf, animation.samplers[c.sampler].output) for c in animation.channels if c.target.path == "weights"]
    np.testing.assert_allclose(weights[0].reshape(take.num_frames, 52), take.params[:, :52], atol=1e-6)


@pytest.mark.parametrize("frame", [0, 17, 29])
def test_posing_the_glb_gives_the_rigs_face(exported, frame):
    """Morph targets + skinning + eye nodes, evaluated by the glTF rules, land where the rig puts the
    vertices, including the turned head, the open jaw and the gaze."""
    take, _, gltf = exported
    rig = ArkitRig("maya")
    expected = rig.vertices(take.params[frame : frame + 1])[0]
    face, eye = _pose(gltf, frame)
    n_skin = len(rig.parts().skin_rest)
    np.testing.assert_allclose(face, expected[:n_skin], atol=2e-5)
    np.testing.assert_allclose(eye, expected[n_skin : n_skin + len(eye)], atol=2e-5)


@pytest.mark.skipif(shutil.which("node") is None or not VALIDATOR.is_dir(), reason="needs node and `make test-deps`")
def test_khronos_validator_finds_no_errors(exported):
    _, path, _ = exported
    env = {**os.environ, "NODE_PATH": str(VALIDATOR.parent)}
    out = subprocess.run(["node", str(ROOT / "tools" / "validate_gltf.js"), str(path)], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    report = json.loads(out.stdout)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["animationCount"] == 1 and report["info"]["hasMorphTargets"] and report["info"]["hasSkins"]


def test_only_arkit_takes_export(tmp_path):
    flame = Motion(np.zeros((30, 65), np.float32), rig_param_names("flame", 50), 25.0, "flame")
    with pytest.raises(EmoAnimError, match="arkit"):
        export_glb(flame, tmp_path / "x.glb")
    assert not (tmp_path / "x.glb").exists()


THREE = ROOT / ".cache" / "node" / "node_modules" / "three"  # `make test-deps` installs three.js
THREE_PAGE = """<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"three": "./three/build/three.module.js", "three/addons/": "./three/examples/jsm/"}}</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
const gltf = await new GLTFLoader().loadAsync("take.glb");
const mixer = new THREE.AnimationMixer(gltf.scene);
mixer.clipAction(gltf.animations[0]).play();
let face = null;
gltf.scene.traverse((o) => { if (o.isSkinnedMesh) face = o; });
function at(time) {  // three.js's own posing (morph targets, then skinning) of every vertex at `time`
  mixer.setTime(time);
  gltf.scene.updateMatrixWorld(true);
  face.skeleton.update();
  const v = new THREE.Vector3(), points = [];
  for (let i = 0; i < face.geometry.attributes.position.count; i++) {
    face.getVertexPosition(i, v);
    v.applyMatrix4(face.matrixWorld);
    points.push(v.x, v.y, v.z);
  }
  return { jaw: face.morphTargetInfluences[face.morphTargetDictionary["jawOpen"]], points };
}
window.result = { names: Object.keys(face.morphTargetDictionary), duration: gltf.animations[0].duration,
                  start: at(0), later: at(17 / 25) };
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(not THREE.is_dir(), reason="needs three.js from `make test-deps`")
def test_three_js_plays_the_take_in_a_real_browser(exported, tmp_path):
    """Headless chromium loads the .glb with three.js's GLTFLoader and plays it: the face changes between
    two times, and three.js puts every vertex where the rig does."""
    import functools
    import http.server
    import threading

    sync_api = pytest.importorskip("playwright.sync_api")
    from tools.browser import MISSING, find_chromium, free_port, launch_chromium

    if find_chromium() is None:
        pytest.skip(MISSING)
    take, path, _ = exported
    shutil.copy(path, tmp_path / "take.glb")
    (tmp_path / "index.html").write_text(THREE_PAGE)
    (tmp_path / "three").symlink_to(THREE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_api.sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            page.wait_for_function("window.result !== undefined", timeout=60_000)
            result = page.evaluate("window.result")
            browser.close()
    finally:
        server.shutdown()
    assert result["names"] == list(ARKIT_ACTIONS)
    assert result["duration"] == pytest.approx((take.num_frames - 1) / take.fps, abs=1e-4)
    start, later = (np.array(result[k]["points"]).reshape(-1, 3) for k in ("start", "later"))
    assert result["start"]["jaw"] == pytest.approx(0.0, abs=1e-6)
    assert result["later"]["jaw"] == pytest.approx(take.params[17, ARKIT_PARAMS.index("jawOpen")], abs=1e-5)
    assert np.abs(later - start).max() > 0.01  # the head turned and the jaw opened: centimetres
    rig = ArkitRig("maya")
    n_skin = len(rig.parts().skin_rest)
    for frame, points in ((0, start), (17, later)):
        np.testing.assert_allclose(points, rig.vertices(take.params[frame : frame + 1])[0, :n_skin], atol=1e-4)


def test_render_command_writes_only_the_glb(exported, tmp_path, capsys):
    from emoanim.cli import main

    take, _, _ = exported
    take.save(tmp_path / "take.npz")
    assert main(["render", "--motion", str(tmp_path / "take.npz"), "--glb-out", str(tmp_path / "out.glb"),
                 "--avatar", "sam"]) == 0
    assert (tmp_path / "out.glb").read_bytes()[:4] == b"glTF" and not list(tmp_path.glob("*.mp4"))
    assert "out.glb" in capsys.readouterr().out
    assert main(["render", "--motion", str(tmp_path / "take.npz"), "--glb-out", str(tmp_path / "out.gltf")]) != 0
    assert "should end in .glb" in capsys.readouterr().err
