"""Emotion-aware diffusion over facial-parameter sequences (paper Sec. III-B)."""

from emoanim.diffusion.generator import GeneratorConfig, MotionGenerator

__all__ = ["GeneratorConfig", "MotionGenerator"]
