import pytest

# Choose the GL platform before any test module imports pyrender/OpenGL.
import emoanim.render  # noqa: F401


@pytest.fixture(scope="session")
def arkit_rig():
    from emoanim.rigs import load_rig

    return load_rig("arkit")
