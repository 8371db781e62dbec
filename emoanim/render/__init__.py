"""Offscreen rendering and video output.

The OpenGL platform must be chosen before PyOpenGL is first imported, so it is chosen here.
"""

from emoanim.render.platform import choose_gl_platform

choose_gl_platform()
