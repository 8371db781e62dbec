import os

import pytest

# Choose the GL platform before any test module imports pyrender/OpenGL.
import emoanim.render  # noqa: F401


@pytest.fixture(scope="session")
def arkit_rig():
    from emoanim.rigs import load_rig

    return load_rig("arkit")


@pytest.fixture(scope="session")
def tmp_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


os.environ.setdefault("EMOANIM_TEST", "1")
