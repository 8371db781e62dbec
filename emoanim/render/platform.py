"""Choosing the headless OpenGL platform (must happen before PyOpenGL is imported)."""

from __future__ import annotations

import ctypes
import os


def choose_gl_platform() -> str:
    """An explicit PYOPENGL_PLATFORM wins. Otherwise EGL where a GPU device node exists (CUDA
    machines, Spaces GPUs), else OSMesa: software rendering that needs no display or GPU.
    """
    platform = os.environ.get("PYOPENGL_PLATFORM")
    if not platform:
        has_gpu = os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dri/renderD128")
        platform = "egl" if has_gpu else "osmesa"
        os.environ["PYOPENGL_PLATFORM"] = platform
    import OpenGL  # (the package alone: GL itself loads with the platform chosen above)

    # PyOpenGL checks glGetError after every call unless told not to: ~1 ms a frame of Python for
    # pyrender's few dozen calls. Rendering errors still surface (a failed context, a bad read).
    OpenGL.ERROR_CHECKING = False
    return platform


def stable_context_ids() -> None:
    """Make PyOpenGL report one id per GL context (needed under OSMesa).

    Under OSMesa, ``OpenGL.contextdata.getContext()`` returns a fresh ctypes pointer object on
    every call. pyrender keys its shader cache on it, so every frame missed the cache and
    compiled new shaders: ~3 MiB leaked per frame and a slower render. The pointer's address
    is the context's real identity, so report that.
    """
    import OpenGL.contextdata as contextdata  # lazy: must follow choose_gl_platform

    if getattr(contextdata.getContext, "_emoanim_stable", False):
        return
    original = contextdata.getContext

    def get_context(context=None):
        context = original(context)
        if isinstance(context, ctypes._Pointer):
            return ctypes.cast(context, ctypes.c_void_p).value
        return context

    get_context._emoanim_stable = True  # type: ignore[attr-defined]
    contextdata.getContext = get_context
