"""``RegressionGenerator``: the deterministic baseline on the diffusion model's backbone (the paper's
FORMER+SYNC+EMO): one denoiser call per window with x_t = 0 and t = 0, no noise and no guidance.

It samples in the same overlapping windows as ``MotionGenerator`` (each window's first frames are
cross-faded into the previous one's) and has the same ``sample`` signature, so the pipeline and the
evaluation can use either; guidance, steps, sampler and seed do not change its output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from emoanim.diffusion.generator import BackboneConfig, GeneratorBase, Progress, progress_counter


@dataclass
class RegressionConfig(BackboneConfig):
    kind: str = "regression"  # RegressionGenerator (no scheduler: it does not denoise)


class RegressionGenerator(GeneratorBase):
    config_class = RegressionConfig
    what = "regression generator"

    def predict(self, content: torch.Tensor, style: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """content [B, kT, C], style [B, E] or [B, T, E] -> the normalised sequence [B, T, D]."""
        B, T = content.shape[0], content.shape[1] // self.config.denoiser.content_per_frame
        x = torch.zeros(B, T, self.config.denoiser.num_params, device=content.device)
        return self.denoiser(x, torch.zeros(B, dtype=torch.long, device=content.device), content, style, mask)

    @torch.no_grad()
    def sample(
        self,
        content: np.ndarray,
        style: np.ndarray,
        num_frames: int,
        guidance: float | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        seed: int = 0,
        callback: Progress | None = None,
    ) -> np.ndarray:
        """content [Ta, C] at 50 fps, style [E] or [num_frames, E] -> params [num_frames, D] float32 in rig units
        (``guidance``, ``steps``, ``sampler`` and ``seed`` are accepted and have no effect)."""
        self.eval()
        content_t, style_t = self.conditions(content, style, num_frames)
        k = self.config.denoiser.content_per_frame
        step = progress_counter(callback, len(self.windows(num_frames)))

        def sample_window(start: int, end: int, prefix: torch.Tensor) -> torch.Tensor:
            x = self.predict(content_t[:, k * start : k * end], self.window_style(style_t, start, end))
            step()
            return x

        return self.stitch(sample_window, num_frames)
