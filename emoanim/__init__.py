"""EmoAnim: speech to expressive, emotion-controllable 3D facial animation."""

from emoanim.errors import EmoAnimError

__version__ = "0.1.0"
__all__ = ["EmoAnimError", "__version__"]
