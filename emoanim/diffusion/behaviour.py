"""The behaviour stream: blinks, gaze and head motion drawn frame by frame from a learned mixture density.

Why a second stream: blinks and saccades are rare, short, full-amplitude events whose timing the
audio and the emotion hardly set. A denoiser trained with MSE predicts their conditional *mean* at
every noise level it cannot yet read them from x_t; the sampling chain compounds that shrinkage and
guidance extrapolates against them, so the diffusion model's takes never blink (the experiments are
in the issue-12 note and ``docs/generator_eval.md``). An autoregressive model with a mixture-density
output (Graves 2013, whose pen-up events are the same kind of thing) puts a rare event in a mixture
component of its own instead of averaging it away, and a draw from it is a sample, not a mean.

    prev  [B, T, Db]  the stream's channels one frame back (zeros before the first frame), and their
                      velocity x_{t-1} - x_{t-2}: what a smooth curve continues
    cond  [B, T, H]   Conv1d over (content of the frame's audio [B, T, k*C], style [B, T, E]): a few
                      frames either side, so a blink can anticipate a pause
    h     [B, T, H] = GRU(Linear(prev, velocity) + cond)            (layers deep)
    out   -> a K-component diagonal Gaussian mixture over the change x_t - x_{t-1} (normalised units):
             a rare component starts a blink or a saccade. (Continuing the velocity by default, i.e. a
             mixture over x_t - 2 x_{t-1} + x_{t-2}, was measured too: free-running head motion then
             runs off to the rig's limits.)

Training sees its own history with a slowly wandering offset added (``nll``'s ``drift``), so it learns
to steer back a draw that has strayed; without it the draws' head motion was 5x the data's. Draws
narrow each component by ``temperature``, as handwriting synthesis does.

It works in the generator's normalised space on the channels of ``groups`` (``rigs.params_in_groups``);
``MotionGenerator`` owns the normalisation and writes the stream's draw over the diffusion model's
channels. Sampling is seeded by a CPU ``torch.Generator`` and costs one GRU step per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from emoanim.errors import EmoAnimError


@dataclass
class BehaviourConfig:
    groups: list[str] = field(default_factory=lambda: ["blink", "gaze", "head"])  # rig groups it draws
    num_channels: int = 13  # Db: parameters in those groups (set from the rig when the stream is built)
    content_dim: int = 41  # C: content features per audio frame (the generator's)
    style_dim: int = 256  # E: the emotion space
    content_per_frame: int = 2  # audio frames per motion frame
    hidden: int = 160  # H: GRU width
    layers: int = 2  # GRU layers
    context: int = 9  # frames of conditions each step sees (odd: centred on its own frame)
    components: int = 8  # K: mixture components of the next frame's change
    sigma_floor: float = 1e-3  # smallest standard deviation of a component (normalised units)
    velocity_scale: float = 10.0  # velocities (~0.01-0.1 normalised units per frame) x this as inputs
    temperature: float = 0.4  # x the components' stds when sampling (Graves 2013's "bias"): their spread is
    #                          that of one teacher-forced step, and free-running draws compound it (chosen on
    #                          the validation split: at 0.4 head std -12 % and jerk as the data's; 1.6x at 1.0)


class BehaviourStream(nn.Module):
    def __init__(self, config: BehaviourConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.context % 2 != 1:
            raise EmoAnimError(f"the behaviour stream's context must be an odd number of frames, got {c.context}")
        H, K, Db = c.hidden, c.components, c.num_channels
        self.cond = nn.Sequential(nn.Conv1d(c.content_per_frame * c.content_dim + c.style_dim, H, c.context,
                                            padding=c.context // 2), nn.GELU())
        self.prev_in = nn.Linear(2 * Db + 2, H)  # (+2: "no previous frame" and "no velocity yet")
        self.rnn = nn.GRU(H, H, c.layers, batch_first=True)
        self.out = nn.Linear(H, K * (1 + 2 * Db))

    def conditions(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """content [B, kT, C], style [B, E] or [B, T, E] -> per-frame conditions [B, T, H]."""
        c = self.config
        B, T = content.shape[0], content.shape[1] // c.content_per_frame
        audio = content[:, : c.content_per_frame * T].reshape(B, T, c.content_per_frame * c.content_dim)
        style = style[:, None].expand(B, T, c.style_dim) if style.ndim == 2 else style
        return self.cond(torch.cat([audio, style], -1).transpose(1, 2)).transpose(1, 2)

    def chunked_conditions(self, content: torch.Tensor, style: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """``conditions`` of one take ([1, kT, C], style [1, E] or [1, T, E]) -> [T, H], ``chunk`` frames at a
        time: the same values (each chunk is given its convolution's context from its neighbours), in
        memory that does not grow with the take (an hour's conditions at once held ~360 MB)."""
        k, r = self.config.content_per_frame, self.config.context // 2
        T = content.shape[1] // k
        out = []
        for a in range(0, T, chunk):
            b = min(T, a + chunk)
            lo, hi = max(0, a - r), min(T, b + r)
            piece = self.conditions(content[:, k * lo : k * hi], style if style.ndim == 2 else style[:, lo:hi])[0]
            out.append(piece[a - lo : b - lo])
        return torch.cat(out)

    def mixture(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """GRU states [B, T, H] -> (log weights [B, T, K], means [B, T, K, Db], stds [B, T, K, Db])."""
        c = self.config
        out = self.out(h)
        logits, rest = out[..., : c.components], out[..., c.components :]
        mu, log_sigma = rest.unflatten(-1, (c.components, 2 * c.num_channels)).chunk(2, -1)
        sigma = c.sigma_floor + nn.functional.softplus(log_sigma)
        return logits.log_softmax(-1), mu, sigma

    def step_inputs(self, prev: torch.Tensor, velocity: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """prev, velocity [B, T, Db], start [B, T, 2] (no previous frame, no velocity yet) -> [B, T, H]."""
        return self.prev_in(torch.cat([prev, self.config.velocity_scale * velocity, start], -1))

    @staticmethod
    def history(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, T, Db] -> what each frame's step sees: (x_{t-1}, x_{t-1} - x_{t-2}, start [B, T, 2]),
        zeros where the take has not begun."""
        B, T, Db = x.shape
        prev = torch.cat([x.new_zeros(B, 1, Db), x[:, :-1]], 1)
        velocity = torch.cat([x.new_zeros(B, 2, Db), x[:, 1:-1] - x[:, :-2]], 1)[:, :T]
        start = x.new_zeros(B, T, 2)
        start[:, :1, 0] = 1
        start[:, :2, 1] = 1
        return prev, velocity, start

    def nll(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor, mask: torch.Tensor | None = None,
            drift: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced negative log-likelihood per channel and frame of x [B, T, Db] (normalised).

        ``drift`` [B, T, Db]: an offset added to the history the steps see (not to the targets), so the
        model learns to steer a history that has wandered off back towards the data; without it a
        free-running draw that overshoots once keeps going (exposure bias)."""
        B, T, Db = x.shape
        prev, velocity, start = self.history(x if drift is None else x + drift)
        h, _ = self.rnn(self.step_inputs(prev, velocity, start) + self.conditions(content, style))
        log_w, mu, sigma = self.mixture(h)
        delta = (x - prev)[:, :, None]  # [B, T, 1, Db]
        log_p = torch.distributions.Normal(mu, sigma).log_prob(delta).sum(-1)  # [B, T, K]
        nll = -torch.logsumexp(log_w + log_p, -1)  # [B, T]
        m = torch.ones(B, T, device=x.device) if mask is None else mask.float()
        return (nll * m).sum() / (m.sum() * Db)

    @torch.no_grad()
    def sample(self, content: torch.Tensor, style: torch.Tensor, generator: torch.Generator,
               start: torch.Tensor | None = None) -> torch.Tensor:
        """content [1, kT, C], style [1, E] or [1, T, E] -> a draw [1, T, Db] (normalised units). ``start`` [Db]:
        the first frame, given (the draw continues it, as training continues the data's own first frame)."""
        cond = self.chunked_conditions(content, style)  # [T, H]
        T, K, Db = cond.shape[0], self.config.components, self.config.num_channels
        # All randomness drawn up front (one seed, one order): Gumbel noise picks each frame's mixture
        # component (argmax of log weight + Gumbel is a draw from the weights), Gaussian noise its value.
        gumbel = -torch.log(-torch.log(torch.rand(T, K, generator=generator).clamp(1e-12, 1 - 1e-7)))
        noise = torch.randn(T, Db, generator=generator)
        gumbel, noise = gumbel.to(cond.device), noise.to(cond.device)
        x = cond.new_zeros(T, Db)
        prev, velocity, state = cond.new_zeros(1, 1, Db), cond.new_zeros(1, 1, Db), None
        starts = self.history(x[None])[2]  # [1, T, 2]: the flags of the first two frames, as in training
        for t in range(T):
            if t == 0 and start is not None:  # the GRU still reads the first step, as in training
                _, state = self.rnn(self.step_inputs(prev, velocity, starts[:, :1]) + cond[0], state)
                x[0] = start.to(x)
                prev = x[0].view(1, 1, Db)
                continue
            h, state = self.rnn(self.step_inputs(prev, velocity, starts[:, t : t + 1]) + cond[t], state)
            log_w, mu, sigma = self.mixture(h[0, 0])  # [K], [K, Db]
            k = int(torch.argmax(log_w + gumbel[t]))
            x[t] = prev[0, 0] + mu[k] + self.config.temperature * sigma[k] * noise[t]
            new = x[t].view(1, 1, Db)
            velocity = new - prev if t >= 1 else velocity  # (none yet after the first frame, as in training)
            prev = new
        return x[None]

__all__ = ["BehaviourConfig", "BehaviourStream"]
