"""Motions: a rig's parameter curves over time, and the files they travel in.

* ``container``: the ``Motion`` (``params[T, D]`` float32 named by ``names[D]`` at ``fps`` for
  one rig), valid by construction; ``checks`` holds its checks and error wording.
* ``npz`` (``Motion.save`` / ``load_motion``): the native format. Plain arrays only, read with
  ``allow_pickle=False`` so that opening a motion someone sent you can never run code.
* ``livelink`` (``export_csv`` / ``load_csv``): the Live Link Face CSV take layout, so curves drop
  into Unreal/MetaHuman and the Blender/Maya LLF importers, and LLF recordings come back in.
* ``jsonfile`` (``export_json`` / ``load_json``): one curve per parameter, for web players.
* ``gltf`` (``export_glb``): the take on the avatar's head as binary glTF (mesh, ARKit morph targets,
  bones, animation) for Blender, three.js and Unity; export only.
* ``files`` (``load_motion_file``): any of the three, chosen by the file's suffix.
"""

from emoanim.motion.container import Motion
from emoanim.motion.files import MOTION_SUFFIXES, load_motion, load_motion_file
from emoanim.motion.gltf import export_glb
from emoanim.motion.jsonfile import export_json, load_json
from emoanim.motion.livelink import HEAD_UNITS, LLF_CURVES, LLF_HEADER, export_csv, llf_curves, load_csv

__all__ = [
    "Motion",
    "MOTION_SUFFIXES",
    "load_motion",
    "load_motion_file",
    "export_csv",
    "export_glb",
    "load_csv",
    "llf_curves",
    "export_json",
    "load_json",
    "LLF_HEADER",
    "LLF_CURVES",
    "HEAD_UNITS",
]
