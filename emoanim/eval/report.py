"""The generator evaluation's report: the issue's targets, the markdown table, the JSON and the
figure of generated vs ground-truth curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emoanim.eval.metrics import MAX_OFFSET, MODALITIES
from emoanim.fileio import atomic_write
from emoanim.motion import Motion
from emoanim.motion.plots import channel_panels, plot_curves

FIGURE_CURVES = ("jawOpen", "mouthSmileLeft", "eyeBlinkLeft", "browInnerUp", "browDownLeft")
NATURAL_BLINKS = (0.28, 0.45)  # blinks per second of real talking faces


def check_targets(results: dict, diffusion: str) -> dict:
    """The issue's targets, each with the value reached and whether it is met."""
    rows = results["rows"]
    ctl = rows[diffusion]["controls"]
    acc = lambda m: ctl.get(m, {}).get("emotion_acc", float("nan"))  # noqa: E731
    static_lve = rows["static neutral face"]["controls"]["label"]["lve_mm"]
    sweep = results["guidance_sweep"]["rows"]
    strength = [r["p_emotion"] for r in sweep]
    rel = [abs(v["rel_diff"]) for v in results["fast_vs_full"]["metrics"].values() if np.isfinite(v["rel_diff"])]
    blinks = ctl["label"]["blinks_per_s"]
    out = {
        "emotion_acc_label>=0.95": (acc("label"), acc("label") >= 0.95),
        "emotion_acc_text>=0.90": (acc("text"), acc("text") >= 0.90),
        "emotion_acc_audio>=0.80": (acc("audio"), acc("audio") >= 0.80),
        "blinks_per_s_in_0.28-0.45": (blinks, NATURAL_BLINKS[0] <= blinks <= NATURAL_BLINKS[1]),
        "lse_c>=0.70": (ctl["label"]["lse_c"], ctl["label"]["lse_c"] >= 0.70),
        "lve<=0.6x_static": (ctl["label"]["lve_mm"] / static_lve if static_lve else float("nan"),
                             ctl["label"]["lve_mm"] <= 0.6 * static_lve),
    }
    truth = rows["ground truth"]["controls"]["label"]
    label = ctl["label"]
    if np.isfinite(truth.get("blink_full_share", float("nan"))):
        out["blinks_full_closure>=0.8"] = (label["blink_full_share"], label["blink_full_share"] >= 0.8)
        close, open_ = label["blink_close_ms"], label["blink_open_ms"]
        out["blink_shape_close~100ms_open150-250ms"] = (close, bool(60 <= close <= 140 and 150 <= open_ <= 250))
    for key, tolerance in (("blinks_per_s", 0.30), ("head_std", 0.25), ("gaze_shifts_per_s", 0.25)):
        pairs = [(label["per_emotion"][e][key], t[key]) for e, t in truth.get("per_emotion", {}).items()
                 if e in label.get("per_emotion", {}) and np.isfinite(t[key]) and t[key] > 0]
        if pairs:
            worst = max(abs(g / t - 1) for g, t in pairs)
            out[f"{key}_per_emotion_within_{round(100 * tolerance)}pct"] = (worst, worst <= tolerance)
    for key in ("jerk", "jerk_head_gaze"):  # the whole face; head and gaze (the "no jitter")
        if np.isfinite(truth.get(key, float("nan"))) and truth[key] > 0:
            out[f"{key}<=ground_truth"] = (label[key] / truth[key], label[key] <= truth[key])
    bound = next((r for name, r in rows.items() if name.startswith("corpus redraw")), None)
    if bound is not None:  # the corpus's own motion model redrawn: what a perfect sampler scores
        lve, floor = ctl["label"]["lve_mm"], bound["controls"]["label"]["lve_mm"]
        out["lve<=perfect_sampler"] = (lve / floor if floor else float("nan"), lve <= floor)
    if "regression" in rows:
        d, r = rows[diffusion]["diversity_mm"], rows["regression"]["diversity_mm"]
        out["diversity_above_regression"] = (d - r, d > r + 0.1)
    # p(emotion) from the smallest to the largest s: up by 0.05 or more, never down by more than 0.02
    out["emotion_strength_rises_with_s"] = (strength[-1] - strength[0] if strength else float("nan"),
                                            bool(len(strength) > 1 and strength[-1] >= strength[0] + 0.05
                                                 and all(b >= a - 0.02 for a, b in zip(strength, strength[1:]))))
    out["fast_within_5pct_of_full"] = (max(rel) if rel else float("nan"), bool(rel) and max(rel) <= 0.05)
    return {k: {"value": _num(v), "met": bool(ok)} for k, (v, ok) in out.items()}



def plot_figure(figure: dict, path: Path) -> Path:
    """Ground truth vs generated curves of one clip (jawOpen, smile, blink, brows), through the one
    curve plotter (``emoanim.motion.plots``)."""
    names, fps = tuple(figure["names"]), float(figure["fps"])
    takes = {label: Motion(params, names, fps, figure.get("rig", "arkit"))
             for label, params in figure.items() if isinstance(params, np.ndarray)}
    panels = channel_panels([n for n in FIGURE_CURVES if n in names])
    title = f"test clip {figure['clip']} ({figure['emotion']}): generated vs ground truth"
    return plot_curves(takes, path, panels, title=title, dpi=110)


def _num(v):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else round(float(v), 4)


def _f(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def _method_rows(rows: dict, label_cells: list[tuple[str, int]], row_cells: list[tuple[str, int]] = (),
                 clips: bool = False) -> list[str]:
    """One markdown line per method: its label-control metrics, then metrics of the row itself
    (diversity), each as (key, digits); missing values show as a dash."""
    out = []
    for name, r in rows.items():
        m = r["controls"]["label"]
        cells = ([str(m["clips"])] if clips else []) + [_f(m.get(k), d) for k, d in label_cells]
        cells += [_f(r.get(k), d) for k, d in row_cells]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def markdown_table(results: dict) -> str:
    rows = results["rows"]
    lines = [
        f"Generator on the test split: {results['clips']} clips (unseen voices and sentences), balanced over "
        f"the emotions ({', '.join(f'{e} {n}' for e, n in results['clips_per_emotion'].items())}); "
        f"fast sampler {results['steps']} steps, guidance {results['guidance']}, seed {results['seed']}. "
        "Motion metrics with label control; diversity = two takes (seeds 0, 1).",
        "",
        "| method | clips | lip vertex error (mm) | mouth landmarks (mm) | LSE-C | mean abs offset (frames) | "
        "offset 0 | blinks/s | AU-std | diversity (mm) | diversity (param L2) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _method_rows(rows, [("lve_mm", 2), ("mouth_mm", 2), ("lse_c", 3), ("lse_abs_offset", 2),
                                 ("lse_offset_zero", 2), ("blinks_per_s", 3), ("au_std", 4)],
                          [("diversity_mm", 2), ("diversity_param", 3)], clips=True)
    lines += [
        "",
        "Non-verbal behaviour (label control): blink shape (share of blinks closing the lid to >= 0.8, median "
        "closing and opening time between 0.2 and the peak), head rotation std (rad, mean of yaw/pitch/roll), "
        "gaze shifts per second, jerk (mean |frame-to-frame acceleration| over all parameters, and over the "
        "head and gaze parameters):",
        "",
        "| method | full closures | closing (ms) | opening (ms) | head std (rad) | gaze shifts/s | jerk | "
        "jerk, head and gaze |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += _method_rows(rows, [("blink_full_share", 2), ("blink_close_ms", 0), ("blink_open_ms", 0), ("head_std", 4),
                                 ("gaze_shifts_per_s", 2), ("jerk", 4), ("jerk_head_gaze", 4)])
    per = {name: r["controls"]["label"].get("per_emotion", {}) for name, r in rows.items()
           if name in ("ground truth",) or name.startswith("diffusion (")}
    emotions = list(per.get("ground truth", {}))
    if emotions:
        lines += ["", "Per emotion (label control): blinks/s, head std (rad), gaze shifts/s:", "",
                  "| method | " + " | ".join(emotions) + " |", "|---|" + "---|" * len(emotions)]
        for name, table in per.items():
            cells = [f"{_f(table[e]['blinks_per_s'], 2)} / {_f(table[e]['head_std'], 3)} / "
                     f"{_f(table[e]['gaze_shifts_per_s'], 2)}" if e in table else "—" for e in emotions]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Natural blink rate {NATURAL_BLINKS[0]}-{NATURAL_BLINKS[1]}/s. LSE-C: max minus median of the lip-sync "
        f"expert's similarity over offsets -{MAX_OFFSET}..{MAX_OFFSET} frames.",
        "",
        "Emotion by control modality (Emo-sim: cosine to the ground truth's motion embedding; accuracy: the motion "
        "encoder's emotion classifier on the output; ground truth and static face do not depend on the control):",
        "",
        "| method | " + " | ".join(f"{m} acc | {m} Emo-sim" for m in MODALITIES) + " | label intensity acc |",
        "|---|" + "---|---|" * len(MODALITIES) + "---|",
    ]
    for name, r in rows.items():
        cells = []
        for m in MODALITIES:
            c = r["controls"].get(m)
            cells += [_f(c["emotion_acc"]), _f(c["emo_sim"])] if c else ["—", "—"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_f(r['controls']['label']['intensity_acc'])} |")
    sw = results["guidance_sweep"]
    lines += [
        "",
        f"Guidance sweep (label control, {sw['clips']} clips):",
        "",
        "| s | emotion acc | p(emotion) | Emo-sim | lip vertex error (mm) | diversity (mm) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['guidance']} | {_f(r['emotion_acc'])} | {_f(r['p_emotion'])} | {_f(r['emo_sim'])} | "
              f"{_f(r['lve_mm'], 2)} | {_f(r['diversity_mm'], 2)} |" for r in sw["rows"]]
    fv = results["fast_vs_full"]
    lines += [
        "",
        f"Fast sampler ({fv['fast_steps']} steps, {results.get('sampler', 'ddim').upper()}) vs full ancestral "
        f"({fv['full_steps']} steps), same "
        f"{fv['clips']} clips, label control:",
        "",
        f"| metric | {fv['fast_steps']} steps | {fv['full_steps']} steps | relative difference |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {_f(v['fast'])} | {_f(v['full'])} | {_f(100 * v['rel_diff'], 1)} % |"
              for k, v in fv["metrics"].items()]
    lines += ["", "Targets of the issue:", "", "| target | value | met |", "|---|---|---|"]
    lines += [f"| {k} | {_f(v['value'])} | {'yes' if v['met'] else 'no'} |" for k, v in results["targets"].items()]
    t = results["timings_s"]
    command = f" — `{results['command']}`" if results.get("command") else ""
    lines += ["", f"Evaluation time: {t['total_s']:.0f} s{command}"]
    return "\n".join(lines) + "\n"


def write_report(results: dict, out_dir: Path, name: str = "generator_eval") -> tuple[Path, Path, Path]:
    """``name``.json, ``name``.md and generator_curves.png in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot_figure(results["figure"], out_dir / "generator_curves.png")
    plain = {k: v for k, v in results.items() if k != "figure"}
    plain["figure"] = {"path": str(png), "clip": results["figure"]["clip"], "emotion": results["figure"]["emotion"]}
    js = atomic_write(out_dir / f"{name}.json", lambda f: json.dump(_jsonable(plain), f, indent=1), binary=False)
    md = atomic_write(out_dir / f"{name}.md", lambda f: f.write(markdown_table(results)), binary=False)
    return js, md, png


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return _num(x)
    if isinstance(x, np.integer):
        return int(x)
    return x

