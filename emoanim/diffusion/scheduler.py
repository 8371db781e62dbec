"""The noise scheduler: forward noising (paper Eq. 4), the prediction type and the two reverse steps,
pure maths separate from any model (the loops over steps are in ``samplers.py``).

The denoiser predicts the clean sequence x0 by default (``prediction="sample"``, as in MDM-style
motion diffusion: the lip-sync and emotion losses read x0 directly), the noise (``"epsilon"``) or the
velocity v = sqrt(a_t) eps - sqrt(1 - a_t) x0 (``"v"``, Salimans & Ho 2022: an x0 estimate at low noise
and an eps estimate at high noise, with a loss weighted SNR + 1 in x0 terms); ``to_x0`` turns any of
them into the x0 estimate that both reverse steps take:

- ``ancestral_step``: the DDPM posterior q(x_{t_prev} | x_t, x0) with fresh noise; over all 400
  timesteps it is the paper's sampler, over a sub-sequence the strided ancestral sampler;
- ``ddim_step``: DDIM (eta = 0: deterministic) over any sub-sequence of timesteps, e.g. 25.

Classifier-free guidance (Eq. 6) is linear in the prediction, so guiding x0 is the same as guiding
eps: eps = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t) is affine in x0 with the same coefficients for the
conditional and unconditional branches, hence s * eps_c + (1 - s) * eps_u is the eps of
s * x0_c + (1 - s) * x0_u (``tests/test_diffusion.py`` checks this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from emoanim.errors import EmoAnimError
from emoanim.vocabulary import PREDICTIONS

X0_CLIP = 15.0  # normalised units: well past the training data's range (about -5..12)


@dataclass
class SchedulerConfig:
    num_train_steps: int = 400  # N noise levels the denoiser was trained on (also the most sampling steps)
    schedule: str = "cosine"  # "cosine" (Nichol & Dhariwal) or "linear" (DDPM's 1e-4..0.02, rescaled)
    prediction: str = "sample"  # what the denoiser outputs: "sample" (x0), "epsilon" (the noise) or "v"

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTIONS:
            raise EmoAnimError(f"prediction must be one of {', '.join(PREDICTIONS)}, got '{self.prediction}'")


class DiffusionScheduler:
    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config = config or SchedulerConfig()
        n = config.num_train_steps
        if config.schedule == "cosine":
            s = 0.008
            f = lambda t: math.cos((t / n + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
            betas = torch.tensor([min(1 - f(i + 1) / f(i), 0.999) for i in range(n)], dtype=torch.float64)
        elif config.schedule == "linear":
            scale = 1000 / n
            betas = torch.linspace(1e-4 * scale, 0.02 * scale, n, dtype=torch.float64)
        else:
            raise EmoAnimError(f"unknown noise schedule '{config.schedule}': choose 'cosine' or 'linear'")
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)  # [N] a_t, float64 for exact step maths

    @property
    def num_train_steps(self) -> int:
        return self.config.num_train_steps

    @property
    def prediction(self) -> str:
        return self.config.prediction

    def alpha_bar(self, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod[torch.as_tensor(t).long().cpu()].to(like.device, like.dtype)
        return a.reshape(-1, *([1] * (like.ndim - 1))) if a.ndim else a

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """q(x_t | x0) = N(sqrt(a_t) x0, (1 - a_t) I); t [B] or an int."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def eps_from_x0(self, x_t: torch.Tensor, x0: torch.Tensor, t: int) -> torch.Tensor:
        a = self.alpha_bar(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    # ---- the prediction type ----------------------------------------------------------------------
    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The denoiser's output [B, T, D] as a clean-sequence estimate (normalised units)."""
        if self.prediction == "sample":
            return output
        a = self.alpha_bar(t, x_t)
        if self.prediction == "v":  # x0 = sqrt(a) x_t - sqrt(1 - a) v: bounded at every noise level
            return a.sqrt() * x_t - (1 - a).sqrt() * output
        # At high noise x0 = (x_t - sqrt(1 - a) eps) / sqrt(a) amplifies errors: clip it.
        return ((x_t - (1 - a).sqrt() * output) / a.sqrt()).clamp(-X0_CLIP, X0_CLIP)

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """What the denoiser is trained to output for x_t = add_noise(x0, noise, t)."""
        if self.prediction == "v":
            a = self.alpha_bar(t, x0)
            return a.sqrt() * noise - (1 - a).sqrt() * x0
        return x0 if self.prediction == "sample" else noise

    # ---- reverse steps -----------------------------------------------------------------------------
    def timesteps(self, steps: int, spacing: str = "uniform") -> list[int]:
        """``steps`` timesteps from N-1 down to 0 (1 <= steps <= N; N gives every one): evenly spaced in t
        (``"uniform"``), or (``"logsnr"``) N-1 (pure noise) and then evenly spaced in log-SNR from the
        level of t = 0.8 N down to t = 0, which multistep solvers such as DPM-Solver++ prefer (Lu et al.
        2022): equal steps in their own time variable."""
        n = self.num_train_steps
        if not 1 <= steps <= n:
            raise EmoAnimError(f"sampling steps must be from 1 to {n} (the noise levels this generator was "
                               f"trained with), got {steps}")
        if spacing == "uniform" or steps <= 2:
            return sorted({int(round(x)) for x in torch.linspace(n - 1, 0, steps).tolist()}, reverse=True)
        if spacing != "logsnr":
            raise EmoAnimError(f"unknown timestep spacing '{spacing}': choose 'uniform' or 'logsnr'")
        a = self.alphas_cumprod[: n - 1].clamp(min=1e-12)
        log_snr = torch.log(a / (1 - a))  # decreasing in t
        targets = torch.linspace(float(log_snr[int(0.8 * (n - 1))]), float(log_snr[0]), steps - 1)
        picked = {n - 1} | {int((log_snr - v).abs().argmin()) for v in targets.tolist()}
        free = [t for t in range(n - 1, -1, -1) if t not in picked]
        while len(picked) < steps:  # nearby levels coincided: fill with the unused ones nearest in t
            picked.add(free.pop(len(free) // 2))
        return sorted(picked, reverse=True)

    def ddim_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, t_prev: int) -> torch.Tensor:
        """Deterministic DDIM update from t to t_prev (< t; -1 means the clean sequence)."""
        if t_prev < 0:
            return x0
        eps = self.eps_from_x0(x_t, x0, t)
        a_prev = self.alpha_bar(t_prev, x_t)
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps

    def ancestral_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, t_prev: int,
                       noise: torch.Tensor) -> torch.Tensor:
        """One DDPM step t -> t_prev (< t; -1 means the clean sequence): the mean and variance of
        q(x_{t_prev} | x_t, x0), plus noise. With t_prev = t - 1 it is DDPM's own step."""
        if t_prev < 0:
            return x0
        a, a_prev = self.alpha_bar(t, x_t), self.alpha_bar(t_prev, x_t)
        beta = 1 - a / a_prev
        mean = (a_prev.sqrt() * beta / (1 - a)) * x0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a)) * x_t
        var = beta * (1 - a_prev) / (1 - a)
        return mean + var.sqrt() * noise
