"""``MotionGenerator``: the denoiser + the noise scheduler + the rig's parameter statistics, and the
samplers that turn (audio content, emotion style) into a parameter sequence of any length.

    content [Ta, C] at 50 fps, style [E]  --sample(guidance s, steps, seed)-->  params [T, D] at 25 fps

- Classifier-free guidance (Eq. 6): every denoiser call runs the conditional and the unconditional
  branch as one batch of two and mixes them as s * cond + (1 - s) * uncond.
- ``steps`` = 400 (the training steps) runs the ancestral DDPM sampler; fewer runs deterministic DDIM.
- Any length: the model sees windows of ``window`` frames. Windows overlap by ``overlap`` frames and
  are sampled in order; the frames a window shares with the previous one are *inpainted*: at every
  step they are replaced by the previous window's result noised to the current level (RePaint-style
  replacement), so the new window continues the old one, and a short linear cross-fade over the
  overlap removes what difference is left. A seed fixes the initial noise of every window.
- A ``kind='regression'`` generator is the deterministic baseline on the same backbone: one call with
  x_t = 0 and t = 0, no guidance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emoanim.diffusion.denoiser import Denoiser, DenoiserConfig, align_content
from emoanim.diffusion.scheduler import DiffusionScheduler, SchedulerConfig
from emoanim.errors import EmoAnimError
from emoanim.persistence import load_state, read_model, save_model

X0_CLIP = 15.0  # normalised units


@dataclass
class GeneratorConfig:
    rig: str = "arkit"
    param_names: list[str] = field(default_factory=list)
    fps: float = 25.0
    kind: str = "diffusion"  # or "regression" (the deterministic baseline)
    prediction: str = "sample"  # what the denoiser outputs: "sample" (x0) or "epsilon" (the noise)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    window: int = 100  # frames the denoiser sees at once (4 s, the training crop)
    overlap: int = 20  # frames shared by consecutive windows
    content_encoder: str = "ppg"  # which content features the denoiser was trained on
    metrics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.denoiser, dict):
            self.denoiser = DenoiserConfig(**self.denoiser)
        if isinstance(self.scheduler, dict):
            self.scheduler = SchedulerConfig(**self.scheduler)
        if self.kind not in ("diffusion", "regression"):
            raise EmoAnimError(f"generator kind must be 'diffusion' or 'regression', got '{self.kind}'")
        if self.prediction not in ("sample", "epsilon"):
            raise EmoAnimError(f"prediction must be 'sample' or 'epsilon', got '{self.prediction}'")
        if not 0 <= self.overlap < self.window:
            raise EmoAnimError(f"overlap ({self.overlap}) must be in [0, window={self.window})")


class MotionGenerator(torch.nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.denoiser = Denoiser(config.denoiser)
        self.scheduler = DiffusionScheduler(config.scheduler)
        D = config.denoiser.num_params
        self.register_buffer("mean", torch.zeros(D))  # rig units <-> the normalised space it denoises
        self.register_buffer("std", torch.ones(D))

    # ---- what it generates --------------------------------------------------------------------
    @property
    def rig(self) -> str:
        return self.config.rig

    @property
    def param_names(self) -> list[str]:
        return list(self.config.param_names)

    @property
    def fps(self) -> float:
        return self.config.fps

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=0.02))

    def normalize(self, params: torch.Tensor) -> torch.Tensor:
        return (params - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    # ---- one guided prediction -------------------------------------------------------------------
    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """The denoiser's output as a clean-sequence estimate (normalised units)."""
        if self.config.prediction == "sample":
            return output
        a = self.scheduler.alpha_bar(t, x_t)
        # At high noise x0 = (x_t - sqrt(1 - a) eps) / sqrt(a) amplifies errors; clip it to well past
        # the training data's range (normalised curves stay within about -5..12).
        return ((x_t - (1 - a).sqrt() * output) / a.sqrt()).clamp(-X0_CLIP, X0_CLIP)

    def predict_x0(self, x_t: torch.Tensor, t: int, content: torch.Tensor, style: torch.Tensor,
                   guidance: float) -> torch.Tensor:
        """x_t [1, T, D], content [1, kT, C], style [1, E] -> guided x0 [1, T, D] (Eq. 6: the mix is taken
        of the denoiser's outputs, eps or x0, which is the same thing, see scheduler.py)."""
        tt = torch.full((1,), t, dtype=torch.long, device=x_t.device)
        if guidance == 1.0:
            return self.to_x0(self.denoiser(x_t, tt, content, style), x_t, t)
        both = self.denoiser(x_t.expand(2, -1, -1), tt.expand(2), content.expand(2, -1, -1), style.expand(2, -1),
                             drop=torch.tensor([False, True], device=x_t.device))
        return self.to_x0(guidance * both[:1] + (1 - guidance) * both[1:], x_t, t)

    # ---- sampling ---------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        content: np.ndarray,
        style: np.ndarray,
        num_frames: int,
        guidance: float = 2.0,
        steps: int = 25,
        seed: int = 0,
        callback: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """content [Ta, C] at 50 fps, style [E] -> params [num_frames, D] float32 in rig units."""
        self.eval()
        c = self.config
        content = np.asarray(content, np.float32)
        style = np.asarray(style, np.float32)
        if content.ndim != 2 or content.shape[1] != c.denoiser.content_dim:
            raise EmoAnimError(f"content must be [frames, {c.denoiser.content_dim}], got {list(content.shape)}")
        if style.shape != (c.denoiser.style_dim,):
            raise EmoAnimError(f"the style must be a vector of {c.denoiser.style_dim}, got {list(style.shape)}")
        if not (np.isfinite(content).all() and np.isfinite(style).all()):
            raise EmoAnimError("content or style contains NaN or infinite values")
        if num_frames < 1 or len(content) == 0:
            raise EmoAnimError("nothing to generate: the audio is empty")
        if not 0.0 <= guidance <= 10.0:
            raise EmoAnimError(f"guidance must be between 0 and 10, got {guidance}")
        device = self.mean.device
        k = c.denoiser.content_per_frame
        cont = align_content(torch.from_numpy(content).to(device), num_frames, k)[None]  # [1, kT, C]
        sty = torch.from_numpy(style).to(device)[None]
        gen = torch.Generator().manual_seed(int(seed))
        windows = window_starts(num_frames, c.window, c.overlap)
        total = len(windows) * (1 if c.kind == "regression" else len(self.scheduler.timesteps(steps)))
        out = torch.zeros(1, num_frames, c.denoiser.num_params, device=device)
        progress = [0]

        def step_done() -> None:
            progress[0] += 1
            if callback:
                callback(progress[0], total)

        for start in windows:
            end = min(start + c.window, num_frames)
            known = max(0, min(done_until(windows, start, c.window, num_frames), end) - start)
            w_content = cont[:, k * start : k * end]
            if c.kind == "regression":
                x = self.denoiser(torch.zeros_like(out[:, start:end]), torch.zeros(1, dtype=torch.long, device=device),
                                  w_content, sty)
            else:
                prefix = out[:, start : start + known]
                x = self._sample_window(w_content, sty, end - start, prefix, guidance, steps, gen, step_done)
            new = x[:, known:]
            if known:  # cross-fade the inpainted overlap into what the previous window produced
                ramp = torch.linspace(0, 1, known + 2, device=device)[1:-1, None]
                out[:, start : start + known] = (1 - ramp) * out[:, start : start + known] + ramp * x[:, :known]
            out[:, start + known : end] = new
            if c.kind == "regression":
                step_done()
        return self.denormalize(out)[0].cpu().numpy().astype(np.float32)

    def _sample_window(self, content, style, T, prefix, guidance, steps, gen, step_done) -> torch.Tensor:
        sch = self.scheduler
        D = self.config.denoiser.num_params
        device = content.device
        x = torch.randn(1, T, D, generator=gen).to(device)
        fixed_noise = torch.randn(1, prefix.shape[1], D, generator=gen).to(device)  # for the inpainted prefix
        ts = sch.timesteps(steps)
        ancestral = len(ts) == sch.num_train_steps
        for i, t in enumerate(ts):
            if prefix.shape[1]:
                x[:, : prefix.shape[1]] = sch.add_noise(prefix, fixed_noise, t)
            x0 = self.predict_x0(x, t, content, style, guidance)
            if ancestral:
                x = sch.ancestral_step(x, x0, t, torch.randn(x.shape, generator=gen).to(device))
            else:
                x = sch.ddim_step(x, x0, t, ts[i + 1] if i + 1 < len(ts) else -1)
            step_done()
        return x

    # ---- persistence ------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        return save_model(folder, self, asdict(self.config))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> "MotionGenerator":
        config, state = read_model(folder, "motion generator")
        try:
            cfg = GeneratorConfig(**config)
        except TypeError as exc:
            raise EmoAnimError(f"the motion generator config in {folder} is not valid ({exc})") from None
        return load_state(cls(cfg), state, folder, "motion generator").to(device)


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of the windows that cover ``num_frames``: every ``window - overlap`` frames, the
    last one moved back so that it is a full window ending at the last frame."""
    if num_frames <= window:
        return [0]
    step = window - overlap
    starts = list(range(0, num_frames - window, step)) + [num_frames - window]
    return sorted(set(starts))


def done_until(starts: list[int], start: int, window: int, num_frames: int) -> int:
    """Frames already generated when the window at ``start`` begins: the end of the previous window."""
    i = starts.index(start)
    return 0 if i == 0 else min(starts[i - 1] + window, num_frames)
