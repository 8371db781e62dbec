"""Per-vertex lighting (render/shading.py): what light does to a surface, checked on single vertices."""

import numpy as np

from emoanim.render.shading import Light, Lighting, VertexShader

KEY = Lighting(lights=(Light((0.0, 0.0, 1.0), (1.0, 1.0, 1.0), 1.0),), sky=(0.1, 0.1, 0.1), ground=(0.1, 0.1, 0.1))
EYE = np.float32([0.0, 0.0, 1.0])


def shade(normals, gloss=0.0, albedo=(0.5, 0.5, 0.5), lighting=KEY):
    normals = np.asarray(normals, np.float32)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    shader = VertexShader(np.tile(np.float32(albedo), (len(normals), 1)), np.full(len(normals), gloss), lighting)
    return shader(np.zeros_like(normals), normals, EYE)


def test_facing_the_light_is_brightest_and_the_dark_side_keeps_only_ambient():
    lit, side, away = shade([[0, 0, 1], [1, 0, 0.3], [0, 0, -1]])
    assert lit.mean() > side.mean() > away.mean() > 0  # ambient: never black
    assert np.allclose(away, (0.5 * 0.1) ** (1 / 2.2), atol=1e-5)  # albedo x ambient, gamma-encoded


def test_wet_surfaces_catch_a_highlight_matte_ones_hardly():
    matte, wet = shade([[0, 0, 1]], gloss=0.0), shade([[0, 0, 1]], gloss=1.0)
    assert wet.mean() - matte.mean() > 0.15
    # The highlight is sharp: a little off the mirror direction a wet surface has lost most of it.
    off_matte, off_wet = shade([[0.45, 0, 1]], gloss=0.0), shade([[0.45, 0, 1]], gloss=1.0)
    assert (off_wet - off_matte).mean() < 0.5 * (wet - matte).mean()


def test_colours_stay_in_range_and_follow_the_albedo():
    out = shade(np.random.default_rng(0).normal(size=(200, 3)), gloss=1.0, albedo=(1.0, 1.0, 1.0),
                lighting=Lighting())
    assert out.min() >= 0.0 and out.max() <= 1.0
    red = shade([[0, 0.3, 1]], albedo=(0.8, 0.1, 0.1))[0]
    assert red[0] > 2 * red[1] and np.isclose(red[1], red[2])
