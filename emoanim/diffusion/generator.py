"""``MotionGenerator``: the denoiser + the noise scheduler + the rig's parameter statistics, with a
``sample`` that composes the samplers of ``samplers.py`` into a parameter sequence of any length.

    content [Ta, C] at 50 fps, style [E]  --sample(guidance s, steps, sampler, seed)-->  params [T, D] at 25 fps

- Classifier-free guidance (Eq. 6): every denoiser call runs the conditional and the unconditional
  branch as one batch of two and mixes them (``samplers.guided``).
- ``sampler="ddim"`` (deterministic, any number of steps up to N = 400), ``"ddpm"`` (ancestral:
  all N steps is the paper's sampler; fewer is the strided ancestral sampler), ``"dpmpp"`` /
  ``"dpmpp-sde"`` (DPM-Solver++(2M), the few-step solvers). Never switched silently; more than N
  steps is an error. ``None`` means the defaults of ``emoanim.vocabulary``.
- Any length: the model sees windows of ``window`` frames, overlapping by ``overlap`` frames and
  sampled in order; the frames a window shares with the previous one are inpainted (RePaint-style
  replacement at every step, then a short cross-fade: ``samplers.sample_windows``). A seed fixes the
  noise of every window.

- Behaviour: with a behaviour stream (``behaviour.py``, trained by ``train generator`` after the denoiser),
  the channels of its groups (blinks, gaze, head) are drawn by the stream over the whole take, seeded by
  the same seed, in place of the denoiser's: the denoiser averages those rare events away.

``GeneratorBase`` is what the diffusion model and the regression baseline (``regression.py``) share:
the backbone, the normalisation, the input checks and the persistence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from emoanim.diffusion.behaviour import BehaviourConfig, BehaviourStream
from emoanim.diffusion.denoiser import Denoiser, DenoiserConfig, align_content
from emoanim.diffusion.samplers import (guided, repaint, sample_ddim, sample_ddpm, sample_dpmpp, sample_windows,
                                       window_starts)
from emoanim.diffusion.scheduler import DiffusionScheduler, SchedulerConfig
from emoanim.errors import EmoAnimError
from emoanim.nn import config_from_dict
from emoanim.persistence import Pretrained
from emoanim.rigs import params_in_groups, rig_param_ranges
from emoanim.vocabulary import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_STEPS, MOTION_FPS, check_sampling

Progress = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass
class BackboneConfig:
    """What every generator has: the rig it drives, the denoiser and the windows it samples in."""

    rig: str = "arkit"  # the rig whose parameters it generates
    param_names: list[str] = field(default_factory=list)  # D names, in output order
    fps: float = MOTION_FPS  # output frames per second
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    window: int = 100  # frames the denoiser sees at once (4 s, the training crop)
    overlap: int = 20  # frames shared by consecutive windows
    content_encoder: str = "ppg"  # which content features the denoiser was trained on
    kind: str = ""  # which class reads the checkpoint (``load_generator``); set by each subclass

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.window:
            raise EmoAnimError(f"overlap ({self.overlap}) must be in [0, window={self.window})")


@dataclass
class GeneratorConfig(BackboneConfig):
    kind: str = "diffusion"  # MotionGenerator
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)  # noise levels and prediction type
    # Rig parameter groups sampled without guidance (s = 1 on their channels): behaviour that the audio and
    # the emotion hardly set, such as blinks, which guidance's (cond - uncond) extrapolation would wash out.
    unguided_groups: list[str] = field(default_factory=list)
    # The behaviour stream (``behaviour.py``) that draws blinks, gaze and head motion over the denoiser's
    # channels of its groups; None: the denoiser's own.
    behaviour: BehaviourConfig | None = None


def upgrade_config(config: dict) -> dict:
    """A generator config as written by EmoAnim 0.1 -> today's (a copy): ``prediction`` moved from the
    generator into its scheduler; the regression baseline has no scheduler. Applied once by
    ``python -m emoanim checkpoints upgrade``, never when loading."""
    config = dict(config)
    if "prediction" in config:
        config["scheduler"] = {**config.get("scheduler", {}), "prediction": config.pop("prediction")}
    if config.get("kind") == "regression":
        config.pop("scheduler", None)
    return config


class GeneratorBase(torch.nn.Module, Pretrained):
    """The denoiser backbone and the rig units <-> normalised space it works in."""

    config_class: type = BackboneConfig
    what = "motion generator"

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        if config.kind != self.config_class.kind:
            raise EmoAnimError(f"a '{config.kind}' generator config cannot build a {type(self).__name__}: "
                               "load checkpoints with emoanim.diffusion.load_generator")
        self.config = config
        self.denoiser = Denoiser(config.denoiser)
        D = config.denoiser.num_params
        self.register_buffer("mean", torch.zeros(D))  # rig units <-> the normalised space it denoises
        self.register_buffer("std", torch.ones(D))

    @classmethod
    def from_config(cls, config):
        if isinstance(config, dict):
            kind = config.get("kind", "diffusion")
            if kind != cls.config_class.kind:
                raise EmoAnimError(f"this checkpoint holds a '{kind}' generator, not a {cls.__name__}: "
                                   "load it with emoanim.diffusion.load_generator")
        return cls(config_from_dict(cls.config_class, config, cls.what))

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

    # ---- sampling helpers --------------------------------------------------------------------
    def conditions(self, content: np.ndarray, style: np.ndarray, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked inputs -> content [1, kT, C] aligned to ``num_frames`` and style [1, E] (or [1, T, E]
        for a style per frame) on the model's device."""
        c = self.config.denoiser
        content = np.asarray(content, np.float32)
        style = np.asarray(style, np.float32)
        if content.ndim != 2 or content.shape[1] != c.content_dim:
            raise EmoAnimError(f"content must be [frames, {c.content_dim}], got {list(content.shape)}")
        if style.shape not in ((c.style_dim,), (num_frames, c.style_dim)):
            raise EmoAnimError(f"the style must be a vector of {c.style_dim} or one per frame [{num_frames}, "
                               f"{c.style_dim}], got {list(style.shape)}")
        if not (np.isfinite(content).all() and np.isfinite(style).all()):
            raise EmoAnimError("content or style contains NaN or infinite values")
        if num_frames < 1 or len(content) == 0:
            raise EmoAnimError("nothing to generate: the audio is empty")
        device = self.mean.device
        cont = align_content(torch.from_numpy(content).to(device), num_frames, c.content_per_frame)[None]
        return cont, torch.from_numpy(style).to(device)[None]

    @staticmethod
    def window_style(style: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """The style of frames start..end: style [1, E] itself, or that slice of a per-frame [1, T, E]."""
        return style[:, start:end] if style.ndim == 3 else style

    @property
    def max_steps(self) -> int:
        """The most sampling steps this model takes (a diffusion model: its noise levels)."""
        return MAX_STEPS

    def windows(self, num_frames: int) -> list[int]:
        return window_starts(num_frames, self.config.window, self.config.overlap)

    def stitch(self, sample_window: Callable[[int, int, torch.Tensor], torch.Tensor], num_frames: int,
               finish: Callable[[torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
        """``samplers.sample_windows`` over this model's windows (then ``finish`` on the whole normalised
        take [1, T, D], if given) -> params [num_frames, D] in rig units, within the rig's ranges
        (``rigs.rig_param_ranges``: a sample may overshoot, e.g. a blink to 1.1)."""
        out = torch.zeros(1, num_frames, self.config.denoiser.num_params, device=self.mean.device)
        out = sample_windows(sample_window, out, self.config.window, self.config.overlap)
        if finish is not None:
            out = finish(out)
        params = self.denormalize(out)[0].cpu().numpy()
        if len(self.param_names) == params.shape[1]:  # (a bare config without names is not clipped)
            params = np.clip(params, *rig_param_ranges(self.config.rig, self.param_names))
        return params.astype(np.float32)


def progress_counter(callback: Progress | None, total: int) -> Callable[..., None]:
    """A step callback that reports (steps done, ``total``) to ``callback`` over all windows."""
    done = [0]

    def step(*_) -> None:
        done[0] += 1
        if callback:
            callback(done[0], total)

    return step


class MotionGenerator(GeneratorBase):
    config_class = GeneratorConfig

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__(config)
        self.scheduler = DiffusionScheduler(config.scheduler)
        self.behaviour = BehaviourStream(config.behaviour) if config.behaviour is not None else None

    def behaviour_channels(self) -> np.ndarray:
        """[D] bool: the parameters the behaviour stream draws (none without one)."""
        if self.behaviour is None:
            return np.zeros(len(self.param_names), bool)
        return params_in_groups(self.config.rig, self.param_names, self.config.behaviour.groups)

    def attach_behaviour(self, stream: BehaviourStream | None) -> None:
        """Use ``stream`` (trained on this generator's normalised channels of its groups) from now on."""
        if stream is not None and stream.config.num_channels != int(params_in_groups(
                self.config.rig, self.param_names, stream.config.groups).sum()):
            raise EmoAnimError(f"the behaviour stream draws {stream.config.num_channels} channels, but this "
                               f"generator's rig has a different number in {', '.join(stream.config.groups)}")
        self.behaviour = stream
        self.config.behaviour = None if stream is None else stream.config

    @property
    def max_steps(self) -> int:
        return self.scheduler.num_train_steps

    def guidance_weights(self, guidance: float) -> float | torch.Tensor:
        """The guidance of every channel: ``guidance``, except 1 on the ``unguided_groups``' channels [D]."""
        if not self.config.unguided_groups or guidance == 1.0:
            return float(guidance)
        free = torch.from_numpy(params_in_groups(self.config.rig, self.param_names, self.config.unguided_groups))
        return torch.where(free, 1.0, float(guidance)).to(self.mean.device)

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
        """content [Ta, C] at 50 fps, style [E] (or [num_frames, E]: an emotion per frame) -> params
        [num_frames, D] float32 in rig units. ``guidance``, ``steps`` and ``sampler`` default (None) to
        emoanim.vocabulary's."""
        s = check_sampling(DEFAULT_GUIDANCE if guidance is None else guidance,
                           DEFAULT_STEPS if steps is None else steps, seed,
                           DEFAULT_SAMPLER if sampler is None else sampler, self.max_steps)
        guidance, steps, seed, sampler = s.guidance, s.steps, s.seed, s.sampler
        self.eval()
        content_t, style_t = self.conditions(content, style, num_frames)
        sch, k = self.scheduler, self.config.denoiser.content_per_frame
        D = self.config.denoiser.num_params
        # The multistep solver takes equal steps in log-SNR, the others equal steps in t (their classic use).
        timesteps = sch.timesteps(steps, "logsnr" if sampler.startswith("dpmpp") else "uniform")
        weights = self.guidance_weights(guidance)
        gen = torch.Generator().manual_seed(int(seed))
        step = progress_counter(callback, len(self.windows(num_frames)) * len(timesteps))

        def sample_window(start: int, end: int, prefix: torch.Tensor) -> torch.Tensor:
            # The draw order (window noise, prefix noise, then per-step noise) fixes every seeded take.
            x = torch.randn(1, end - start, D, generator=gen).to(content_t.device)
            prefix_noise = torch.randn(1, prefix.shape[1], D, generator=gen).to(content_t.device)
            known = repaint(sch, prefix, prefix_noise) if prefix.shape[1] else None
            denoise = guided(self.denoiser, sch, content_t[:, k * start : k * end],
                             self.window_style(style_t, start, end), weights)
            if sampler == "ddpm":
                return sample_ddpm(denoise, sch, x, timesteps, gen, known, step)
            if sampler.startswith("dpmpp"):
                return sample_dpmpp(denoise, sch, x, timesteps, gen, 1.0 if sampler == "dpmpp-sde" else 0.0, known,
                                    step)
            return sample_ddim(denoise, sch, x, timesteps, known, step)

        def draw_behaviour(x: torch.Tensor) -> torch.Tensor:  # [1, T, D]: the stream's channels replaced
            if self.behaviour is None:
                return x
            cols = torch.from_numpy(self.behaviour_channels()).to(x.device)
            # Its own seeded generator: the denoiser's draws stay those of a take without the stream. It starts
            # from the denoiser's first frame: the posture (a sad head bowed, lids lowered) is the emotion's,
            # which the denoiser reads well; the stream adds the behaviour that moves from there.
            x[..., cols] = self.behaviour.sample(content_t, style_t, torch.Generator().manual_seed(int(seed)),
                                                 start=x[0, 0, cols])
            return x

        return self.stitch(sample_window, num_frames, draw_behaviour)
