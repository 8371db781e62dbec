"""Pictures of motion curves: one PNG with a panel per curve group, one line per curve and take.

    plot_curves(motion, "curves.png")                                       # the main curves of one take
    plot_curves({"generated": gen, "ground truth": truth}, "vs.png",
                panels=channel_panels(["jawOpen", "eyeBlinkLeft"]))         # takes of the same curves

matplotlib is imported when a plot is drawn (start-up time), through its object API (no pyplot: no
global state, safe in threads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoanim.fileio import atomic_write
from emoanim.rigs import rig_param_groups

if TYPE_CHECKING:
    from emoanim.motion import Motion

Curve = tuple[str, tuple[str, ...]]  # (label, the channels averaged into it)
Panel = tuple[str, tuple[Curve, ...]]  # (y-axis label, its curves)

# The main curves of an ARKit take: jaw, smile, blink, brows and head rotation.
MAIN_PANELS: tuple[Panel, ...] = (
    ("jaw", (("jawOpen", ("jawOpen",)),)),
    ("smile", (("smile", ("mouthSmileLeft", "mouthSmileRight")), ("frown", ("mouthFrownLeft", "mouthFrownRight")))),
    ("blink", (("blink", ("eyeBlinkLeft", "eyeBlinkRight")),)),
    ("brows", (("inner up", ("browInnerUp",)), ("down", ("browDownLeft", "browDownRight")),
               ("outer up", ("browOuterUpLeft", "browOuterUpRight")))),
    ("head (deg)", (("yaw", ("headYaw",)), ("pitch", ("headPitch",)), ("roll", ("headRoll",)))),
)
LINE_STYLES = ("-", "--", ":", "-.")  # curves of one panel, when several takes share the colours


def channel_panels(channels: Sequence[str]) -> tuple[Panel, ...]:
    """One panel per channel (e.g. ``["jawOpen", "eyeBlinkLeft"]``), each with that channel alone."""
    return tuple((name, ((name, (name,)),)) for name in channels)


def plot_curves(takes: Motion | Mapping[str, Motion], path: str | Path, panels: Sequence[Panel] = MAIN_PANELS,
                title: str | None = None, dpi: int = 100) -> Path:
    """A PNG of curves over time. ``takes``: one motion, or labelled takes of the same rig
    (``{"generated": m1, "ground truth": m2}``; the first is drawn thickest). Curves whose channels a
    take lacks are left out. Head angles (the rig's ``head`` group) are shown in degrees; weight
    panels keep at least [0, 1], so that pictures of different takes compare."""
    import matplotlib  # lazy: start-up time

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # lazy: start-up time

    single = not isinstance(takes, Mapping)
    takes = {"": takes} if single else dict(takes)
    first = next(iter(takes.values()))
    head = set(rig_param_groups(first.rig).get("head", ()))
    fig = Figure(figsize=(8, 1.3 * len(panels)), dpi=dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, (ylabel, curves) in zip(axes, panels):
        degrees = all(c in head for _, columns in curves for c in columns)
        lines = 0
        for k, (take, motion) in enumerate(takes.items()):
            names = list(motion.names)
            for c, (label, columns) in enumerate(curves):
                present = [names.index(n) for n in columns if n in names]
                if not present:
                    continue
                y = motion.params[:, present].mean(axis=1)
                style = {} if single else {"color": f"C{k}", "ls": LINE_STYLES[c % len(LINE_STYLES)]}
                name = label if single else take if len(curves) == 1 else f"{label} ({take})"
                ax.plot(motion.frame_times(), np.degrees(y) if degrees else y, lw=1.8 if k == 0 and not single
                        else 1.2, label=name, **style)
                lines += 1
        ax.set_ylabel(ylabel, fontsize=8)
        if not degrees:
            low, high = ax.get_ylim()
            ax.set_ylim(min(low, -0.05), max(high, 1.05))
        ax.grid(alpha=0.3)
        if lines > 1:
            ax.legend(loc="upper right", fontsize=7, ncols=min(lines, 4))
    axes[-1].set_xlabel("time (s)")
    if title is None:
        title = (f"{first.rig} motion, {first.num_frames} frames at {first.fps:g} fps" if single
                 else " vs ".join(takes))
    fig.suptitle(title, fontsize=10)
    return atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)


__all__ = ["MAIN_PANELS", "Panel", "channel_panels", "plot_curves"]
