"""glTF 2.0 binary (.glb) of a take: the avatar's head, its 52 ARKit shapes, its bones and the take.

What the file holds (it opens animated in Blender, three.js, Unity, Godot and the Khronos viewer)::

    scene
    └── base (the neck's root: stays still)        ┐
        └── neck        rotation: 35 % of the head  │ joints of the skin
            └── head    rotation: the rest          ┘
                ├── eyeLeft   rotation: the gaze (eyeLook*)   eyeball mesh
                └── eyeRight  rotation: the gaze
    face (skinned mesh node): skin and tongue, 52 morph targets named as Apple names them
                              (mesh.extras.targetNames, which Blender and three.js read)
    animation "take": morph weights [T, 52] and four rotations [T, 4], LINEAR, at the take's frame times

Positions are metres, +Y up, the face looking down +Z (glTF's own convention). Posing the file with
the glTF rules gives the rig's own vertices (``ArkitRig.vertices``) up to float rounding; the tests
check that, and the Khronos validator checks the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.motion.container import Motion
from emoanim.rigs.arkit import ARKIT_ACTIONS, ArkitRig, gaze_rotvecs, head_rotvecs

JOINT_NAMES = ("base", "neck", "head")
EYE_NAMES = ("eyeLeft", "eyeRight")
GENERATOR = "EmoAnim"

# glTF constants (the spec's numeric enums)
FLOAT, UNSIGNED_INT, UNSIGNED_SHORT = 5126, 5125, 5123
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def quaternions(rotvecs: np.ndarray) -> np.ndarray:
    """Axis-angle [..., 3] -> unit quaternions [..., 4] in glTF's (x, y, z, w) order."""
    from scipy.spatial.transform import Rotation  # lazy: start-up time

    shape = rotvecs.shape[:-1]
    return Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_quat().reshape(*shape, 4).astype(np.float32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V, 3] unit normals (area-weighted face normals), which viewers would otherwise facet."""
    import trimesh  # lazy: start-up time

    return np.asarray(trimesh.Trimesh(vertices, faces, process=False).vertex_normals, np.float32)


class _Buffer:
    """One binary buffer and the accessors into it, built up as the file is written."""

    def __init__(self, gltf) -> None:
        self.gltf, self.chunks, self.size = gltf, [], 0

    def add(self, array: np.ndarray, kind: str, component: int, target: int | None = None,
            bounds: bool = False) -> int:
        """Append ``array`` ([N] or [N, k]) as one buffer view and accessor; returns the accessor index."""
        from pygltflib import Accessor, BufferView  # lazy: start-up time

        data = np.ascontiguousarray(array).tobytes()
        view = BufferView(buffer=0, byteOffset=self.size, byteLength=len(data), target=target)
        self.gltf.bufferViews.append(view)
        self.chunks.append(data + b"\0" * (-len(data) % 4))  # 4-byte alignment
        self.size += len(self.chunks[-1])
        flat = np.asarray(array).reshape(len(array), -1)
        accessor = Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component, count=len(array),
                            type=kind)
        if bounds:  # required for POSITION and animation inputs
            accessor.min, accessor.max = flat.min(0).tolist(), flat.max(0).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def bytes(self) -> bytes:
        return b"".join(self.chunks)


def export_glb(motion: Motion, path: str | Path, avatar: str | None = None) -> Path:
    """Write ``motion`` (an arkit take) on ``avatar``'s head as a binary glTF at ``path``."""
    from pygltflib import (  # lazy: start-up time
        GLTF2, Animation, AnimationChannel, AnimationChannelTarget, AnimationSampler, Asset, Attributes, Buffer,
        Material, Mesh, Node, PbrMetallicRoughness, Primitive, Scene, Skin,
    )

    if motion.rig != "arkit":
        raise EmoAnimError(f"glTF export is for arkit takes (ARKit shapes on the Anny head), not '{motion.rig}' ones")
    if motion.num_frames < 1:
        raise EmoAnimError("the take has no frames: nothing to export")
    rig = ArkitRig(avatar)
    parts = rig.parts()
    params = motion.for_rig().params.astype(np.float32)  # [T, 55] in the rig's order

    gltf = GLTF2(asset=Asset(generator=GENERATOR, version="2.0"), scene=0)
    buffer = _Buffer(gltf)
    material = Material(name="skin", pbrMetallicRoughness=PbrMetallicRoughness(metallicFactor=0.0, roughnessFactor=0.6))
    gltf.materials.append(material)

    # The face: positions, normals, vertex colours, rigid skin weights and the 52 morph targets.
    rest = parts.skin_rest.astype(np.float32)
    joints_0 = np.zeros((len(rest), 4), np.uint16)
    joints_0[:, 0] = parts.skin_joint
    weights_0 = np.zeros((len(rest), 4), np.float32)
    weights_0[:, 0] = 1.0
    attributes = Attributes(
        POSITION=buffer.add(rest, "VEC3", FLOAT, ARRAY_BUFFER, bounds=True),
        NORMAL=buffer.add(vertex_normals(rest, parts.skin_faces), "VEC3", FLOAT, ARRAY_BUFFER),
        COLOR_0=buffer.add(parts.skin_colors.astype(np.float32), "VEC3", FLOAT, ARRAY_BUFFER),
        JOINTS_0=buffer.add(joints_0, "VEC4", UNSIGNED_SHORT, ARRAY_BUFFER),
        WEIGHTS_0=buffer.add(weights_0, "VEC4", FLOAT, ARRAY_BUFFER),
    )
    targets = [{"POSITION": buffer.add(offsets.astype(np.float32), "VEC3", FLOAT, ARRAY_BUFFER, bounds=True)}
               for offsets in parts.skin_actions]
    faces = buffer.add(parts.skin_faces.astype(np.uint32).reshape(-1), "SCALAR", UNSIGNED_INT, ELEMENT_ARRAY_BUFFER)
    gltf.meshes.append(Mesh(name="face", primitives=[Primitive(attributes=attributes, indices=faces, material=0,
                                                               targets=targets)],
                            weights=[0.0] * len(ARKIT_ACTIONS), extras={"targetNames": list(ARKIT_ACTIONS)}))

    # The eyeballs: one mesh, used by both eye nodes.
    eye = parts.eye_mesh.astype(np.float32)
    eye_attributes = Attributes(
        POSITION=buffer.add(eye, "VEC3", FLOAT, ARRAY_BUFFER, bounds=True),
        NORMAL=buffer.add(eye / np.linalg.norm(eye, axis=1, keepdims=True), "VEC3", FLOAT, ARRAY_BUFFER),
        COLOR_0=buffer.add(parts.eye_colors.astype(np.float32), "VEC3", FLOAT, ARRAY_BUFFER),
    )
    eye_faces = buffer.add(parts.eye_faces.astype(np.uint32).reshape(-1), "SCALAR", UNSIGNED_INT, ELEMENT_ARRAY_BUFFER)
    gltf.meshes.append(Mesh(name="eyeball", primitives=[Primitive(attributes=eye_attributes, indices=eye_faces,
                                                                  material=0)]))

    # Nodes: 0 base, 1 neck, 2 head, 3-4 eyes, 5 the skinned face (its own transform is ignored by the spec).
    joints = parts.joints.astype(np.float32)
    gltf.nodes += [
        Node(name="base", translation=joints[0].tolist(), children=[1]),
        Node(name="neck", translation=(joints[1] - joints[0]).tolist(), children=[2]),
        Node(name="head", translation=(joints[2] - joints[1]).tolist(), children=[3, 4]),
        *(Node(name=name, mesh=1, translation=(centre - joints[2]).tolist())
          for name, centre in zip(EYE_NAMES, parts.eye_centers.astype(np.float32))),
        Node(name="face", mesh=0, skin=0),
    ]
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (3, 1, 1))
    inverse_bind[:, :3, 3] = -joints
    gltf.skins.append(Skin(name="head", joints=[0, 1, 2], skeleton=0,
                           inverseBindMatrices=buffer.add(inverse_bind.transpose(0, 2, 1).reshape(3, 16), "MAT4",
                                                          FLOAT)))  # column-major
    gltf.scenes.append(Scene(name="take", nodes=[0, 5]))

    # The take: one time axis for every channel.
    times = buffer.add((np.arange(motion.num_frames) / motion.fps).astype(np.float32), "SCALAR", FLOAT, bounds=True)
    rotations = head_rotvecs(params)  # [T, 3, 3]: base, neck, head
    gaze = gaze_rotvecs(params)
    channels = [(5, "weights", buffer.add(params[:, : len(ARKIT_ACTIONS)].reshape(-1), "SCALAR", FLOAT))]
    channels += [(node, "rotation", buffer.add(quaternions(r), "VEC4", FLOAT))
                 for node, r in ((1, rotations[:, 1]), (2, rotations[:, 2]), (3, gaze[0]), (4, gaze[1]))]
    gltf.animations.append(Animation(
        name="take",
        samplers=[AnimationSampler(input=times, output=output, interpolation="LINEAR") for _, _, output in channels],
        channels=[AnimationChannel(sampler=i, target=AnimationChannelTarget(node=node, path=what))
                  for i, (node, what, _) in enumerate(channels)],
    ))

    blob = buffer.bytes()
    gltf.buffers.append(Buffer(byteLength=len(blob)))
    gltf.set_binary_blob(blob)
    return atomic_write(Path(path), lambda f: f.write(b"".join(gltf.save_to_bytes())), binary=True)


__all__ = ["export_glb", "quaternions"]
