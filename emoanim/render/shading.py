"""Per-vertex lighting in NumPy: the renderer draws these colours flat (interpolated across each
triangle, no lights in OpenGL).

Why on the CPU: software OpenGL (llvmpipe) spends most of a frame in pyrender's per-pixel PBR shader
(three lights, ~40 ms at 512 px on 2 cores), while lighting 8 k vertices in NumPy takes well under a
millisecond and the flat shader draws a frame in ~5 ms. At this mesh density per-vertex (Gouraud)
lighting looks the same on skin; the eyes get a dense enough sphere for their highlight.

    albedo    [V, 3]  linear RGB of each vertex (the rig's ``vertex_colors``)
    gloss     [V]     0 = matte skin ... 1 = a wet eye (the rig's ``vertex_gloss``): sets the
                      specular strength and sharpness
    normals   [V, 3]  unit, world frame
    positions [V, 3]  world frame (metres), for the view direction of the highlights
    ->        [V, 3]  display (sRGB-like, gamma 2.2) colour in [0, 1]

    colour = albedo * (hemisphere ambient + sum_i radiance_i * wrap(n.l_i))
             + sum_i radiance_i * strength(gloss) * (n.h_i)^shininess(gloss) * (n.l_i > 0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Light:
    """A directional light: where it comes from (towards the light, world frame), its colour and strength."""

    direction: tuple[float, float, float]
    color: RGB
    intensity: float


# Soft three-point studio lighting: warm key from the upper left, cool fill from the right, rim behind.
STUDIO_LIGHTS: tuple[Light, ...] = (
    Light((-0.6, 0.5, 1.0), (1.0, 0.96, 0.9), 1.0),
    Light((0.8, 0.1, 0.8), (0.85, 0.9, 1.0), 0.42),
    Light((0.0, 0.6, -1.0), (1.0, 1.0, 1.0), 0.6),
)


@dataclass(frozen=True)
class Lighting:
    lights: tuple[Light, ...] = STUDIO_LIGHTS
    sky: RGB = (0.30, 0.29, 0.30)  # ambient from above (hemisphere light)
    ground: RGB = (0.15, 0.13, 0.12)  # ambient from below: warm bounce, keeps the chin's underside soft
    wrap: float = 0.15  # diffuse light wraps this far past the terminator: skin scatters light under it
    matte: tuple[float, float] = (0.035, 10.0)  # specular (strength, shininess) at gloss 0: skin's broad sheen
    wet: tuple[float, float] = (0.8, 60.0)  # ... at gloss 1: a cornea's sharp highlight
    gamma: float = 2.2


class VertexShader:
    """Lights one rig's vertices each frame; the per-vertex material is fixed when it is made."""

    def __init__(self, albedo: np.ndarray, gloss: np.ndarray, lighting: Lighting | None = None) -> None:
        self.lighting = light = lighting or Lighting()
        self.albedo = np.asarray(albedo, np.float32)  # [V, 3]
        g = np.clip(np.asarray(gloss, np.float32), 0.0, 1.0)[:, None]  # [V, 1]
        # Strength by gloss squared and shininess in log space: gloss 0.5 is a satin lip, not half a cornea.
        self.strength = light.matte[0] + (light.wet[0] - light.matte[0]) * g**2  # [V, 1]
        self.shininess = np.exp((1 - g) * np.log(light.matte[1]) + g * np.log(light.wet[1]))  # [V, 1]
        d = np.array([l.direction for l in light.lights], np.float32)
        self.directions = d / np.linalg.norm(d, axis=1, keepdims=True)  # [L, 3]
        self.radiance = np.array([np.multiply(l.color, l.intensity) for l in light.lights], np.float32)  # [L, 3]
        self.sky, self.ground = np.float32(light.sky), np.float32(light.ground)

    def __call__(self, positions: np.ndarray, normals: np.ndarray, eye: np.ndarray) -> np.ndarray:
        """positions, normals [V, 3] (world), eye [3] (the camera's position) -> display colours [V, 3]."""
        light = self.lighting
        n_dot_l = normals @ self.directions.T  # [V, L]
        wrapped = np.clip((n_dot_l + light.wrap) / (1 + light.wrap), 0.0, None)
        up = 0.5 + 0.5 * normals[:, 1:2]  # [V, 1]: 1 facing the sky, 0 the ground
        ambient = up * self.sky + (1 - up) * self.ground  # [V, 3]
        diffuse = ambient + wrapped @ self.radiance  # [V, 3]
        view = eye - positions
        view /= np.sqrt(np.einsum("ij,ij->i", view, view))[:, None]
        # n.h with h = (v + l) / |v + l| and |v + l|^2 = 2 + 2 v.l: no [V, L, 3] half vectors.
        n_dot_h = (normals * view).sum(1, keepdims=True) + n_dot_l  # [V, L], unnormalised
        n_dot_h /= np.sqrt(np.maximum(2.0 + 2.0 * (view @ self.directions.T), 1e-9))
        highlight = np.where(n_dot_l > 0, np.clip(n_dot_h, 0.0, 1.0) ** self.shininess, 0.0) * self.strength
        linear = self.albedo * diffuse + highlight @ self.radiance
        return np.clip(linear, 0.0, 1.0) ** (1.0 / light.gamma)


__all__ = ["Light", "Lighting", "STUDIO_LIGHTS", "VertexShader"]
