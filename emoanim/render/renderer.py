"""Headless offscreen rendering of a rig's meshes with pyrender.

What makes CPU rendering (OSMesa/llvmpipe) faster than real time:
- one scene per video: the mesh's vertex buffer is overwritten in place every frame instead of
  building a new scene;
- the lighting is computed per vertex in NumPy (``render.shading``) and drawn flat, instead of
  pyrender's per-pixel PBR shader (6x slower in llvmpipe);
- only the colour buffer is read back (pyrender also reads and linearises the depth buffer).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.render.platform import choose_gl_platform, stable_context_ids
from emoanim.render.shading import Lighting, VertexShader
from emoanim.render.video import check_frame_size
from emoanim.rigs.base import FaceRig
from emoanim.rigs.mesh import VertexNormals

RGB = tuple[float, float, float]  # a colour: red, green, blue in [0, 1] (what OpenGL and pyrender take)


@dataclass(frozen=True)
class RenderConfig:
    """How frames look. Checked when made, so a bad size or colour fails before any slow work."""

    width: int = 512  # pixels (even: H.264)
    height: int = 512
    background: RGB = (0.93, 0.94, 0.96)  # RGB in [0, 1]; parse_color turns '#RRGGBB' into this
    yfov_degrees: float = 18.0  # the camera's vertical field of view
    margin: float = 1.08  # how much room to leave around the face

    def __post_init__(self) -> None:
        check_frame_size(self.width, self.height)
        object.__setattr__(self, "background", check_color(self.background))

    @classmethod
    def square(cls, size: int | None = None, **fields) -> "RenderConfig":
        """``size`` x ``size`` pixels (None: the default size); other fields as given."""
        return cls(**fields) if size is None else cls(width=size, height=size, **fields)


def check_color(rgb, what: str = "the background colour") -> RGB:
    """Three numbers in [0, 1] -> an RGB tuple of floats (a 0-255 tuple is an error, not a guess)."""
    try:
        values = tuple(float(v) for v in rgb)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise EmoAnimError(f"{what} must be three numbers from 0 to 1 (red, green, blue), got {rgb!r}: "
                           "for 0-255 values or '#RRGGBB' use emoanim.render.renderer.parse_color")
    return values  # type: ignore[return-value]


def parse_color(text: str) -> RGB:
    """'#RRGGBB' or 'r,g,b' (0-255) -> RGB floats in [0, 1]."""
    text = text.strip()
    try:
        if text.startswith("#") and len(text) == 7:
            return check_color([int(text[i : i + 2], 16) / 255.0 for i in (1, 3, 5)])
        parts = [float(p) for p in text.split(",")]
        if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
            return check_color([p / 255.0 for p in parts])
    except ValueError:
        pass
    raise EmoAnimError(f"cannot read colour '{text}': use '#RRGGBB' or 'R,G,B' with values 0-255")


def preload_gl() -> None:
    """Choose the GL platform and import pyrender (0.4 s): what a first renderer would do, so a caller
    can do it ahead, e.g. in a thread while the motion is made."""
    choose_gl_platform()
    import pyrender  # noqa: F401  (lazy: start-up time)


class FaceRenderer:
    """Renders one rig's meshes to RGB frames. Use as a context manager (it owns a GL context)."""

    def __init__(self, rig: FaceRig, config: RenderConfig | None = None, lighting: Lighting | None = None) -> None:
        self.rig = rig
        self.config = config or RenderConfig()  # checked when it was made
        choose_gl_platform()
        try:
            import pyrender  # lazy: start-up time (PyOpenGL); the platform must be chosen first
        except Exception as exc:  # ImportError, or PyOpenGL failing to find the GL library
            raise EmoAnimError(
                f"offscreen OpenGL is unavailable ({exc}); install libosmesa6 (CPU) or libegl1 (GPU), "
                "or set PYOPENGL_PLATFORM=osmesa|egl"
            ) from exc
        self._pyrender = pyrender
        stable_context_ids()
        self._normals = VertexNormals(rig.faces, rig.num_vertices)
        self._shader = VertexShader(rig.vertex_colors, rig.vertex_gloss, lighting)
        neutral = rig.vertices(rig.neutral()[None])[0]
        self.scene = self._build_scene(neutral)
        self._eye = self.camera_pose[:3, 3].astype(np.float32)
        self._primitive = pyrender.Primitive(
            positions=neutral, normals=self._normals(neutral), color_0=self.vertex_data(neutral)[:, 6:],
            indices=rig.faces, material=pyrender.MetallicRoughnessMaterial(baseColorFactor=(1.0, 1.0, 1.0, 1.0)),
        )
        self.scene.add(pyrender.Mesh([self._primitive]))
        try:
            self._renderer = pyrender.OffscreenRenderer(self.config.width, self.config.height)
        except Exception as exc:
            raise EmoAnimError(
                f"could not create an offscreen OpenGL context with PYOPENGL_PLATFORM="
                f"{os.environ.get('PYOPENGL_PLATFORM')} ({exc}); try PYOPENGL_PLATFORM=osmesa "
                "(set before anything imports OpenGL)"
            ) from exc

    def _build_scene(self, neutral: np.ndarray):
        pr = self._pyrender
        cfg = self.config
        scene = pr.Scene(bg_color=(*cfg.background, 1.0))  # (lit in NumPy: no lights in the scene)
        # Frame the face: from the chin to the brows, centred between eyes and mouth.
        face = neutral[neutral[:, 2] > np.percentile(neutral[:, 2], 40)]
        lo, hi = face.min(0), face.max(0)
        centre = np.array([0.0, 0.5 * (lo[1] + hi[1]), 0.0])
        half = 0.5 * max(hi[1] - lo[1], (hi[0] - lo[0]) * cfg.height / cfg.width) * cfg.margin
        yfov = np.radians(cfg.yfov_degrees)
        distance = half / np.tan(yfov / 2) + hi[2]
        camera = pr.PerspectiveCamera(yfov=yfov, aspectRatio=cfg.width / cfg.height, znear=0.05, zfar=5.0)
        self.camera, self.camera_pose = camera, _look_at(centre + [0, 0, distance], centre)
        scene.add(camera, pose=self.camera_pose)
        return scene

    def vertex_data(self, vertices: np.ndarray) -> np.ndarray:
        """vertices [V, 3] -> a new vertex buffer [V, 10] (position, normal, lit RGBA, pyrender's
        interleaving). NumPy only, no OpenGL: a thread can light the next frames while ``draw`` runs."""
        normals = self._normals(vertices)
        data = np.empty((len(vertices), 10), np.float32)
        data[:, :3], data[:, 3:6] = vertices, normals
        data[:, 6:9] = self._shader(vertices, normals, self._eye)
        data[:, 9] = 1.0
        return data

    def render(self, vertices: np.ndarray) -> np.ndarray:
        """vertices [V, 3] -> RGB uint8 [H, W, 3]."""
        return self.draw(self.vertex_data(vertices))

    def draw(self, data: np.ndarray) -> np.ndarray:
        """A vertex buffer from ``vertex_data`` -> RGB uint8 [H, W, 3]."""
        from OpenGL.GL import GL_ARRAY_BUFFER, glBindBuffer, glBufferSubData  # lazy: start-up time

        flags = self._pyrender.RenderFlags.FLAT
        offscreen = self._renderer
        offscreen._platform.make_current()
        if self._primitive._vaid is not None:  # bound after the first render: update in place
            glBindBuffer(GL_ARRAY_BUFFER, self._primitive._buffers[0])
            glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)
        else:
            self._primitive.positions, self._primitive.normals = data[:, :3], data[:, 3:6]
            self._primitive.color_0 = data[:, 6:]
        if offscreen._platform.supports_framebuffers():  # EGL: pyrender's framebuffer path
            return offscreen.render(self.scene, flags=flags)[0]
        # OSMesa draws to its own buffer: render, then read the colour alone (pyrender's
        # OffscreenRenderer.render would also read and linearise depth, ~2 ms a frame).
        offscreen._renderer.render(self.scene, flags)
        color = offscreen._renderer.read_color_buf()
        offscreen._platform.make_uncurrent()
        return color

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points [N, 3] -> pixel coordinates [N, 2] (column, row) in the rendered image."""
        cfg = self.config
        view = np.linalg.inv(self.camera_pose)
        clip = np.c_[points, np.ones(len(points))] @ (self.camera.get_projection_matrix(cfg.width, cfg.height) @ view).T
        ndc = clip[:, :2] / clip[:, 3:]
        return np.stack([(ndc[:, 0] + 1) / 2 * cfg.width, (1 - ndc[:, 1]) / 2 * cfg.height], axis=1)

    def close(self) -> None:
        if getattr(self, "_renderer", None) is not None:
            self._renderer.delete()
            self._renderer = None

    def __enter__(self) -> "FaceRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Camera/light pose (OpenGL convention: looks down its -Z) placed at eye, facing target."""
    eye = np.asarray(eye, float)
    forward = eye - np.asarray(target, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(up, forward)
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, np.cross(forward, right), forward, eye
    return pose
