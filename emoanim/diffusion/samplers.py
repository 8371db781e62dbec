"""Samplers as short pure functions over any ``denoise(x_t, t) -> x0`` callable (k-diffusion style).

    denoise = guided(denoiser, scheduler, content, style, s)        Eq. 6 as a callable
    x0 = sample_ddim(denoise, scheduler, x_T, scheduler.timesteps(25))
    x0 = sample_ddpm(denoise, scheduler, x_T, scheduler.timesteps(400), generator)

- ``sample_ddim``: deterministic DDIM (eta = 0) over any sub-sequence of the timesteps.
- ``sample_ddpm``: ancestral sampling, fresh noise at every step. Over all N timesteps it is DDPM;
  over fewer it is the strided ancestral sampler (the DDPM posterior between consecutive chosen
  timesteps, i.e. DDIM with eta = 1). More steps than N is an error (``scheduler.timesteps``).
- ``sample_dpmpp``: DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
  Diffusion Probabilistic Models"), a second-order multistep solver of the probability-flow ODE in
  log-SNR time, made for guided sampling with data (x0) prediction; with ``eta`` = 1 its SDE variant
  (SDE-DPM-Solver++(2M), as k-diffusion's ``sample_dpmpp_2m_sde``), which adds fresh noise each step
  like the ancestral sampler but needs few steps.
- ``repaint``: RePaint-style replacement of known frames at every step (the inpainting that joins
  windows); both samplers take it as ``known``.
- ``sample_windows``: any length from a window sampler: overlapping windows sampled in order, each
  continuing the previous one over the overlap, with a short linear cross-fade there.

Shapes: x [B, T, D] in the normalised space the denoiser works in; t an integer timestep.
"""

from __future__ import annotations

from typing import Callable

import torch

from emoanim.diffusion.scheduler import DiffusionScheduler

Denoise = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t [B, T, D], t) -> x0 estimate [B, T, D]
Known = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, t) -> x_t with the known frames put in
StepCallback = Callable[[int], None]  # called with the step index after every step


# ---- guidance ---------------------------------------------------------------------------------------


def guided(denoiser: torch.nn.Module, scheduler: DiffusionScheduler, content: torch.Tensor, style: torch.Tensor,
           guidance: float | torch.Tensor) -> Denoise:
    """Classifier-free guidance (Eq. 6) as a ``denoise`` callable: content [1, kT, C], style [1, E] or [1, T, E].

    The conditional and the unconditional branch run as one batch of two and are mixed as
    s * cond + (1 - s) * uncond on the denoiser's outputs (eps or x0: the same thing, see scheduler.py);
    s = 1 is the conditional branch alone (one call). ``guidance`` may also be one weight per parameter [D]
    (``MotionGenerator.guidance_weights``: behaviour the conditions hardly set is left unguided)."""
    drop = torch.tensor([False, True], device=content.device)  # item 1: audio and style dropped

    def denoise(x_t: torch.Tensor, t: int) -> torch.Tensor:
        tt = torch.full((1,), t, dtype=torch.long, device=x_t.device)
        if isinstance(guidance, float) and guidance == 1.0:
            return scheduler.to_x0(denoiser(x_t, tt, content, style), x_t, t)
        both = denoiser(x_t.expand(2, -1, -1), tt.expand(2), content.expand(2, -1, -1),
                        style.expand(2, *style.shape[1:]), drop=drop)
        return scheduler.to_x0(guidance * both[:1] + (1 - guidance) * both[1:], x_t, t)

    return denoise


# ---- the step loops ---------------------------------------------------------------------------------


def sample_ddim(denoise: Denoise, scheduler: DiffusionScheduler, x: torch.Tensor, timesteps: list[int],
                known: Known | None = None, callback: StepCallback | None = None) -> torch.Tensor:
    """Deterministic DDIM from x (pure noise at timesteps[0]) down the decreasing ``timesteps``."""
    for i, t in enumerate(timesteps):
        if known is not None:
            x = known(x, t)
        x0 = denoise(x, t)
        x = scheduler.ddim_step(x, x0, t, timesteps[i + 1] if i + 1 < len(timesteps) else -1)
        if callback:
            callback(i)
    return x


def sample_ddpm(denoise: Denoise, scheduler: DiffusionScheduler, x: torch.Tensor, timesteps: list[int],
                generator: torch.Generator, known: Known | None = None,
                callback: StepCallback | None = None) -> torch.Tensor:
    """Ancestral sampling down the decreasing ``timesteps``; ``generator`` (CPU) draws one noise
    tensor per step, the last step's included, so the stream of draws is the same for any data."""
    for i, t in enumerate(timesteps):
        if known is not None:
            x = known(x, t)
        x0 = denoise(x, t)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        x = scheduler.ancestral_step(x, x0, t, timesteps[i + 1] if i + 1 < len(timesteps) else -1, noise)
        if callback:
            callback(i)
    return x


def sample_dpmpp(denoise: Denoise, scheduler: DiffusionScheduler, x: torch.Tensor, timesteps: list[int],
                 generator: torch.Generator | None = None, eta: float = 0.0, known: Known | None = None,
                 callback: StepCallback | None = None) -> torch.Tensor:
    """DPM-Solver++(2M) down the decreasing ``timesteps`` (``eta`` = 0: deterministic ODE solver; 1: the
    SDE variant, noise drawn from ``generator``). In VP terms, with alpha = sqrt(a_t), sigma =
    sqrt(1 - a_t), lambda = log(alpha / sigma) and h = lambda_next - lambda, one step is

        x_next = sigma_next / sigma * e^(-eta h) * x + alpha_next * (1 - e^(-(1 + eta) h)) * D
                 + sigma_next * sqrt(1 - e^(-2 eta h)) * z

    where D is the x0 estimate, corrected to second order from the previous one (D + (D - D_prev) / (2r),
    r = h_prev / h, in both forms as k-diffusion's ``sample_dpmpp_2m(_sde)``). The first step from pure
    noise (lambda = -inf) and the last one into t = 0 are first order (the correction is unstable
    across their long log-SNR steps), the final one (to the clean sequence) returns D. Give it
    ``scheduler.timesteps(n, "logsnr")``."""
    prev_x0, prev_h = None, None
    for i, t in enumerate(timesteps):
        if known is not None:
            x = known(x, t)
        x0 = denoise(x, t)
        t_next = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        if t_next < 0:
            x = x0
        else:
            a, a_next = scheduler.alpha_bar(t, x), scheduler.alpha_bar(t_next, x)
            alpha, sigma = a.sqrt(), (1 - a).sqrt()
            alpha_next, sigma_next = a_next.sqrt(), (1 - a_next).sqrt()
            if float(alpha) <= 0.0:  # from pure noise: lambda = -inf, e^(-h) = 0 (a DDIM/ancestral step)
                h = None
                decay = torch.zeros_like(a)
            else:
                h = torch.log(alpha_next / sigma_next) - torch.log(alpha / sigma)
                decay = torch.exp(-h)
            d = x0
            final = i + 2 >= len(timesteps)  # lower order on the last step (diffusers' lower_order_final)
            if prev_x0 is not None and h is not None and prev_h is not None and not final:
                r = prev_h / h
                d = x0 + 0.5 / r * (x0 - prev_x0)  # second order: the x0 estimate extrapolated to mid-step
            mix = 1 - decay ** (1 + eta)
            x = sigma_next / sigma * decay**eta * x + alpha_next * mix * d
            if eta > 0:
                noise = torch.randn(x.shape, generator=generator).to(x.device)
                x = x + sigma_next * (1 - decay ** (2 * eta)).clamp(min=0).sqrt() * noise
            prev_h = h
        prev_x0 = x0
        if callback:
            callback(i)
    return x


def repaint(scheduler: DiffusionScheduler, prefix: torch.Tensor, noise: torch.Tensor) -> Known:
    """``known`` for the samplers: the first frames of x_t [B, T, D] replaced by ``prefix`` [B, n, D]
    noised to level t, with the same ``noise`` [B, n, D] at every step (RePaint-style replacement)."""
    n = prefix.shape[1]

    def known(x: torch.Tensor, t: int) -> torch.Tensor:
        x[:, :n] = scheduler.add_noise(prefix, noise, t)
        return x

    return known


# ---- any length -------------------------------------------------------------------------------------


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


def sample_windows(sample_window: Callable[[int, int, torch.Tensor], torch.Tensor], out: torch.Tensor,
                   window: int, overlap: int) -> torch.Tensor:
    """Fill ``out`` [1, T, D] window by window and return it.

    ``sample_window(start, end, prefix)`` returns the frames start..end [1, end - start, D]; ``prefix``
    [1, n, D] are the frames of that range already made by the previous window (n = 0 for the first),
    which it should continue (e.g. by ``repaint``). The n shared frames are cross-faded linearly from
    the previous window's result into the new one."""
    num_frames = out.shape[1]
    starts = window_starts(num_frames, window, overlap)
    for start in starts:
        end = min(start + window, num_frames)
        n = max(0, min(done_until(starts, start, window, num_frames), end) - start)
        x = sample_window(start, end, out[:, start : start + n])
        if n:
            ramp = torch.linspace(0, 1, n + 2, device=out.device)[1:-1, None]
            out[:, start : start + n] = (1 - ramp) * out[:, start : start + n] + ramp * x[:, :n]
        out[:, start + n : end] = x[:, n:]
    return out
