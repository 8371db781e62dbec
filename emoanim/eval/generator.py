"""Evaluating the motion generator (``python -m emoanim evaluate generator``), in the spirit of the
paper's Tables I-III.

On the test split (voices and sentences never seen in training), on ``limit`` clips balanced over the
8 emotions, for the ground truth, a static neutral face (all-zero parameters), the regression
baseline, the diffusion model with the fast sampler, and the diffusion model with the full 400-step
ancestral sampler on a small subset:

- lip vertex error (per frame the largest lip-vertex distance to the ground truth, mean over frames)
  and mouth landmark distance (mean over the mouth vertices), in mm on the posed rig;
- lip-sync expert confidence (max minus median of the offset-similarity curve over -15..15 frames,
  an LSE-C analogue) and its best offset (an LSE-D analogue: mean |offset|, share at 0);
- blink rate (blinks/s) and AU-std (per-action standard deviation over time, mean over the actions);
- Emo-sim (cosine of the emotion space's motion embeddings of output and ground truth) and the
  motion encoder's emotion accuracy, per control modality: label, text (a held-out description of
  the clip), audio reference and motion reference (both of *another* test clip with the same emotion
  and intensity); intensity accuracy for label control;
- diversity: the distance between two takes (run seeds 0 and 1; every clip has its own take seed) of the
  same input;
- a guidance sweep with label control, and the fast sampler against 400 steps on the same clips.

The metric functions are in ``metrics.py``; the targets, tables and figure in ``report.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.corpus import Corpus
from emoanim.data.generator_set import GeneratorData, prepare
from emoanim.diffusion import MotionGenerator, RegressionGenerator
from emoanim.diffusion.generator import GeneratorBase
from emoanim.diffusion.sync_expert import LipSyncExpert
from emoanim.errors import EmoAnimError
from emoanim.eval.corpus import blink_rate, redraw_motion
from emoanim.eval.metrics import (
    MAX_OFFSET,
    MODALITIES,
    MouthPoser,
    au_std,
    blink_events,
    gaze_shifts,
    jerkiness,
    landmark_distance,
    param_distance,
    relative_difference,
    sync_confidence,
)
from emoanim.eval.report import check_targets
from emoanim.rigs import rig_param_groups
from emoanim.vocabulary import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, EMOTIONS, class_label

GUIDANCE_SWEEP = (0.5, 1.0, 1.5, 2.0, 3.0)
REDRAW_ROW = "corpus redraw (a perfect sampler)"
MEAN_ROW = "mean of {n} corpus redraws (best deterministic)"
# Metrics compared between the fast sampler and 400 steps (name, higher is better or not does not matter).
COMPARED = ("lve_mm", "mouth_mm", "lse_c", "lse_abs_offset", "blinks_per_s", "au_std", "emo_sim", "emotion_acc",
            "diversity_mm")


# ---- what the evaluation reads ------------------------------------------------------------------


@dataclass
class EvalClips:
    """The split in memory: ``data`` from ``emoanim.data.generator_set.prepare`` plus what it leaves out."""

    data: GeneratorData
    intensity: np.ndarray  # [N] 1-3
    speakers: list[str]
    texts: list[str]  # what is said (references should say something else)
    descriptions: list[list[str]]  # emotion descriptions (held-out phrasings on the test split)
    audio: Callable[[int], np.ndarray]  # clip index -> 16 kHz speech
    ids: list[str] = field(default_factory=list)
    redraw: Callable[[int, int], np.ndarray] | None = None  # (clip index, seed) -> another draw of the corpus's
    #                                                        motion model for it (synthetic corpora, else None)

    def __len__(self) -> int:
        return len(self.data)


@dataclass
class GeneratorEvalOptions:
    limit: int = 160  # clips, balanced over the emotions
    steps: int = DEFAULT_STEPS  # the fast sampler's steps
    guidance: float = DEFAULT_GUIDANCE
    sampler: str = DEFAULT_SAMPLER  # the fast sampler
    sweep: tuple[float, ...] = GUIDANCE_SWEEP
    sweep_clips: int = 80  # clips of the guidance sweep (a subset of the evaluated ones)
    full_steps: int | None = None  # the full ancestral sampler's steps (None: all the generator's noise levels)
    full_clips: int = 16  # clips sampled with ``full_steps`` too
    redraws: int = 16  # draws of the corpus's own motion model per clip for the two bound rows (0: none)
    seed: int = 0
    log: Callable[[str], None] = field(default=print, repr=False)


def balanced_selection(emotion: np.ndarray, intensity: np.ndarray, limit: int, seed: int = 0) -> list[int]:
    """``limit`` clip indices, as equal a share per emotion as the split allows, each emotion's clips
    interleaved over its intensities. Ordered so that any prefix of every emotion's share stays balanced:
    the result lists round 0 of all emotions, then round 1, ..."""
    rng = np.random.default_rng(seed)
    queues = []
    for e in range(len(EMOTIONS)):
        groups = [list(rng.permutation(np.where((emotion == e) & (intensity == level))[0])) for level in (1, 2, 3)]
        order = [g[k] for k in range(max(map(len, groups), default=0)) for g in groups if k < len(g)]
        if order:
            queues.append(order)
    if not queues:
        raise EmoAnimError("no clips to evaluate")
    chosen: list[int] = []
    rounds = 0
    while len(chosen) < limit and any(rounds < len(q) for q in queues):
        chosen += [int(q[rounds]) for q in queues if rounds < len(q)][: limit - len(chosen)]
        rounds += 1
    return chosen


def pick_references(clips: EvalClips, chosen: list[int], seed: int = 0) -> dict[int, int | None]:
    """For every chosen clip, another clip of the split with the same emotion and intensity, by
    preference of another voice and another sentence (None when there is none)."""
    rng = np.random.default_rng(seed + 1)
    label = clips.data.label
    out: dict[int, int | None] = {}
    for i in chosen:
        same = [j for j in np.where(label == label[i])[0] if j != i]
        best = [j for j in same if clips.speakers[j] != clips.speakers[i] and clips.texts[j] != clips.texts[i]]
        pool = best or same
        out[i] = int(pool[rng.integers(len(pool))]) if pool else None
    return out


# ---- the evaluation -----------------------------------------------------------------------------


class _Judge:
    """Ground truth posed once, the frozen judges (emotion space, lip-sync expert), and scoring."""

    def __init__(self, clips: EvalClips, space: EmotionSpace, expert: LipSyncExpert | None, poser: MouthPoser) -> None:
        self.clips, self.space, self.expert, self.poser = clips, space, expert, poser
        names = clips.data.names
        self.fps = clips.data.fps
        groups = rig_param_groups(clips.data.rig, num_expressions=100)  # (the largest FLAME: any size's names)
        self.actions = [k for k, n in enumerate(names) if n not in groups["head"]]  # facial actions, not head pose
        blinks = [n for n in groups["blink"] if n in names]
        self.blink = names.index(blinks[0]) if blinks else None  # one eyelid is enough to count blinks
        self.head = [names.index(n) for n in groups["head"] if n in names]
        self.head_gaze = [names.index(n) for n in groups["head"] + groups["gaze"] if n in names]
        look = {n: names.index(n) for n in ("eyeLookOutLeft", "eyeLookInLeft", "eyeLookUpLeft", "eyeLookDownLeft")
                if n in names}
        self.look = look if len(look) == 4 else None  # ARKit gaze: horizontal out - in, vertical up - down
        self._gt_vertices: dict[int, np.ndarray] = {}
        self._gt_z: dict[int, np.ndarray] = {}

    def gt_vertices(self, i: int) -> np.ndarray:
        if i not in self._gt_vertices:
            self._gt_vertices[i] = self.poser(self.clips.data.params[i])
        return self._gt_vertices[i]

    @torch.no_grad()
    def emotion(self, motions: list[np.ndarray], batch: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Motions [T, D] -> (embeddings [N, E], emotion probabilities [N, 8], intensity probabilities [N, 3])."""
        zs, ep, ip = [], [], []
        for b in range(0, len(motions), batch):
            part = motions[b : b + batch]
            p = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(np.asarray(m, np.float32)) for m in part],
                                                batch_first=True)
            mask = torch.arange(p.shape[1])[None] < torch.tensor([len(m) for m in part])[:, None]
            zs.append(self.space.embed_motion(p, mask).numpy())
            e, it = self.space.motion_encoder.predict(p, mask)
            ep.append(e.numpy())
            ip.append(it.numpy())
        return np.concatenate(zs), np.concatenate(ep), np.concatenate(ip)

    def gt_embedding(self, idx: list[int]) -> np.ndarray:
        missing = [i for i in idx if i not in self._gt_z]
        if missing:
            z, _, _ = self.emotion([self.clips.data.params[i] for i in missing])
            self._gt_z.update(zip(missing, z))
        return np.stack([self._gt_z[i] for i in idx])

    @torch.no_grad()
    def score(self, idx: list[int], outputs: list[np.ndarray]) -> dict:
        """Every metric of one row (one control, one take) over the clips ``idx``."""
        data = self.clips.data
        z, ep, ip = self.emotion(outputs)
        target = data.emotion[idx]
        level = self.clips.intensity[idx] - 1
        emotional = target != EMOTIONS.index("neutral")
        out = {
            "clips": len(idx),
            "emo_sim": float(np.einsum("ij,ij->i", z, self.gt_embedding(idx)).mean()),
            "emotion_acc": float((ep.argmax(1) == target).mean()),
            "p_emotion": float(ep[np.arange(len(idx)), target].mean()),
            "intensity_acc": float((ip.argmax(1) == level)[emotional].mean()) if emotional.any() else float("nan"),
        }
        lve, mouth, conf, offsets, stds, blinks, seconds = [], [], [], [], [], 0, 0.0
        events, jerk, jerk_hg = [], [], []
        groups: dict[str, dict[str, list]] = {}  # emotion -> per-clip blinks, seconds, head std, gaze shifts
        for i, p in zip(idx, outputs):
            a, b = self.poser.errors(self.poser(p), self.gt_vertices(i))
            lve.append(a)
            mouth.append(b)
            stds.append(au_std(p, self.actions))
            jerk.append(jerkiness(p))
            jerk_hg.append(jerkiness(p[:, self.head_gaze]) if self.head_gaze else float("nan"))
            g = groups.setdefault(EMOTIONS[data.emotion[i]], {"blinks": [], "seconds": [], "head": [], "gaze": []})
            g["seconds"].append(len(p) / self.fps)
            if self.head:
                g["head"].append(float(p[:, self.head].std(0).mean()))
            if self.look is not None:
                lk = self.look
                g["gaze"].append(gaze_shifts(p[:, lk["eyeLookOutLeft"]] - p[:, lk["eyeLookInLeft"]],
                                             p[:, lk["eyeLookUpLeft"]] - p[:, lk["eyeLookDownLeft"]]))
            if self.blink is not None:
                n, s = blink_rate(p, self.blink, self.fps)
                blinks, seconds = blinks + n, seconds + s
                g["blinks"].append(n)
                events += blink_events(p[:, self.blink], self.fps)
            if self.expert is not None:
                curve = self.expert.offset_similarity(torch.from_numpy(np.asarray(p, np.float32))[None],
                                                      torch.from_numpy(data.content[i])[None], MAX_OFFSET)[0]
                c, o = sync_confidence(curve.numpy())
                if np.isfinite(c):
                    conf.append(c)
                    offsets.append(o)
        offsets_a = np.abs(np.array(offsets))
        out.update({
            "lve_mm": float(np.mean(lve)),
            "mouth_mm": float(np.mean(mouth)),
            "lse_c": float(np.mean(conf)) if conf else float("nan"),
            "lse_abs_offset": float(offsets_a.mean()) if conf else float("nan"),
            "lse_offset_zero": float((offsets_a == 0).mean()) if conf else float("nan"),
            "blinks_per_s": blinks / seconds if seconds else float("nan"),
            "au_std": float(np.mean(stds)),
            "jerk": float(np.mean(jerk)),
            "jerk_head_gaze": float(np.mean(jerk_hg)),
        })
        closes = [e["close_s"] for e in events if e["close_s"] is not None]
        opens = [e["open_s"] for e in events if e["open_s"] is not None]
        out.update({
            "blink_full_share": float(np.mean([e["peak"] >= 0.8 for e in events])) if events else float("nan"),
            "blink_close_ms": 1000 * float(np.median(closes)) if closes else float("nan"),
            "blink_open_ms": 1000 * float(np.median(opens)) if opens else float("nan"),
        })
        nan = float("nan")
        out["per_emotion"] = {e: {"blinks_per_s": sum(g["blinks"]) / sum(g["seconds"]) if g["blinks"] else nan,
                                  "head_std": float(np.mean(g["head"])) if g["head"] else nan,
                                  "gaze_shifts_per_s": sum(g["gaze"]) / sum(g["seconds"]) if g["gaze"] else nan}
                              for e, g in sorted(groups.items())}
        every = {k: [v for g in groups.values() for v in g[k]] for k in ("head", "gaze", "seconds")}
        out["head_std"] = float(np.mean(every["head"])) if every["head"] else nan
        out["gaze_shifts_per_s"] = sum(every["gaze"]) / sum(every["seconds"]) if every["gaze"] else nan
        return out

    def diversity(self, a: list[np.ndarray], b: list[np.ndarray]) -> dict:
        """Two takes of the same inputs -> mean lip-vertex distance (mm) and mean parameter L2."""
        mm = [landmark_distance(self.poser(x)[:, self.poser.lips], self.poser(y)[:, self.poser.lips])
              for x, y in zip(a, b)]
        return {"diversity_mm": float(np.mean(mm)), "diversity_param": float(np.mean([param_distance(x, y)
                                                                                     for x, y in zip(a, b)]))}


def control_styles(clips: EvalClips, space: EmotionSpace, judge: _Judge, chosen: list[int],
                   refs: dict[int, int | None], seed: int = 0) -> dict[str, dict[int, np.ndarray]]:
    """Per modality, the style vector of every chosen clip (a clip without a reference is left out)."""
    rng = np.random.default_rng(seed + 2)
    with torch.no_grad():
        prototypes = space.prototypes().numpy()
    styles: dict[str, dict[int, np.ndarray]] = {m: {} for m in MODALITIES}
    styles["label"] = {i: prototypes[clips.data.label[i]] for i in chosen}
    texts = {i: clips.descriptions[i][int(rng.integers(len(clips.descriptions[i])))]
             for i in chosen if clips.descriptions[i]}
    if texts:
        with torch.no_grad():
            z = space.embed_texts(list(texts.values())).numpy()
        styles["text"] = dict(zip(texts, z))
    with_ref = [i for i in chosen if refs[i] is not None]
    for i in with_ref:
        styles["audio"][i] = space.embed(audio=clips.audio(refs[i]))
    if with_ref:
        styles["motion"] = dict(zip(with_ref, judge.gt_embedding([refs[i] for i in with_ref])))
    return styles


CLIP_SEEDS = 1_000_003  # a take's seed: run seed x this + the clip's index


def _generate(gen: GeneratorBase, clips: EvalClips, idx: list[int], styles: dict[int, np.ndarray], guidance: float,
              steps: int, seed: int, sampler: str) -> list[np.ndarray]:
    """One take per clip, each with its own seed (``seed`` and the clip's index): with one seed for every clip
    all clips draw the same noise, so their blinks and glances fall on the same frames and the behaviour
    statistics are those of one draw."""
    data = clips.data
    return [gen.sample(data.content[i], styles[i], num_frames=len(data.params[i]), guidance=guidance, steps=steps,
                       sampler=sampler, seed=seed * CLIP_SEEDS + i) for i in idx]


def evaluate_generator(clips: EvalClips, space: EmotionSpace, generator: MotionGenerator,
                       regression: RegressionGenerator | None, expert: LipSyncExpert | None, rig,
                       options: GeneratorEvalOptions | None = None) -> dict:
    """All rows, the guidance sweep and fast-vs-full; returns the results (JSON-ready) with the
    curves of one clip under ``results['figure']``."""
    o = options or GeneratorEvalOptions()
    log = o.log
    t_start = time.time()
    timings: dict[str, float] = {}
    space.eval()
    for model in (generator, regression):
        if model is not None and model.param_names != clips.data.names:
            raise EmoAnimError(f"the generator's parameters do not match the corpus's '{clips.data.rig}' rig")
    data = clips.data
    judge = _Judge(clips, space, expert, MouthPoser(rig))
    chosen = balanced_selection(data.emotion, clips.intensity, o.limit, o.seed)
    refs = pick_references(clips, chosen, o.seed)
    t = time.time()
    styles = control_styles(clips, space, judge, chosen, refs, o.seed)
    timings["styles_s"] = time.time() - t
    log(f"evaluating {len(chosen)} clips ({', '.join(f'{m} {len(s)}' for m, s in styles.items())}) in "
        f"{time.time() - t_start:.0f} s")

    rows: dict[str, dict] = {}
    gt = [data.params[i] for i in chosen]
    t = time.time()
    base = judge.score(chosen, gt)
    rows["ground truth"] = {"controls": {m: base for m in MODALITIES}, "diversity_mm": 0.0, "diversity_param": 0.0}
    static = [np.zeros_like(p) for p in gt]
    base = judge.score(chosen, static)
    rows["static neutral face"] = {"controls": {m: base for m in MODALITIES}, "diversity_mm": 0.0,
                                   "diversity_param": 0.0}
    if clips.redraw is not None and o.redraws > 1:
        # Bounds no model can beat on this corpus: a new draw of the corpus's own motion model is what a
        # perfect sampler scores (its takes differ as much as the corpus lets them), the mean of many
        # draws what the best deterministic predictor scores.
        draws = [np.stack([clips.redraw(i, k) for k in range(o.redraws)]) for i in chosen]
        first, second = [d[0] for d in draws], [d[1] for d in draws]
        base = judge.score(chosen, first)
        rows[REDRAW_ROW] = {"controls": {m: base for m in MODALITIES}, **judge.diversity(first, second)}
        base = judge.score(chosen, [d.mean(0) for d in draws])
        rows[MEAN_ROW.format(n=o.redraws)] = {"controls": {m: base for m in MODALITIES}, "diversity_mm": 0.0,
                                              "diversity_param": 0.0}
    timings["references_s"] = time.time() - t

    takes: dict[tuple[str, str, int], list[np.ndarray]] = {}  # (row, modality, seed) -> outputs

    def model_row(name: str, gen: GeneratorBase) -> None:
        t0 = time.time()
        sampled = isinstance(gen, MotionGenerator)  # the regression baseline has no steps nor guidance
        row: dict = {"controls": {}, "steps": o.steps if sampled else None, "guidance": o.guidance if sampled else None}
        for m in MODALITIES:
            idx = [i for i in chosen if i in styles[m]]
            if not idx:
                continue
            out = _generate(gen, clips, idx, styles[m], o.guidance, o.steps, o.seed, o.sampler)
            takes[(name, m, o.seed)] = out
            row["controls"][m] = judge.score(idx, out)
            log(f"  {name} / {m}: {time.time() - t0:.0f} s")
        second = _generate(gen, clips, chosen, styles["label"], o.guidance, o.steps, o.seed + 1, o.sampler)
        takes[(name, "label", o.seed + 1)] = second
        row.update(judge.diversity(takes[(name, "label", o.seed)], second))
        row["seconds"] = round(time.time() - t0, 1)
        rows[name] = row

    if regression is not None:
        model_row("regression", regression)
    diffusion = f"diffusion ({o.steps} steps)"
    model_row(diffusion, generator)

    # The guidance sweep, label control, on a balanced subset (the row's own guidance is reused).
    t = time.time()
    sweep_idx = chosen[: o.sweep_clips]  # balanced: see balanced_selection
    position = {i: k for k, i in enumerate(chosen)}
    sweep = []
    for s in o.sweep:
        if s == o.guidance:
            a = [takes[(diffusion, "label", o.seed)][position[i]] for i in sweep_idx]
            b = [takes[(diffusion, "label", o.seed + 1)][position[i]] for i in sweep_idx]
        else:
            a = _generate(generator, clips, sweep_idx, styles["label"], s, o.steps, o.seed, o.sampler)
            b = _generate(generator, clips, sweep_idx, styles["label"], s, o.steps, o.seed + 1, o.sampler)
        sweep.append({"guidance": s, **judge.score(sweep_idx, a), **judge.diversity(a, b)})
        log(f"  guidance {s}: {time.time() - t:.0f} s")
    timings["sweep_s"] = time.time() - t

    # Fast sampler vs the full ancestral sampler on the same few clips (label control, two takes each).
    t = time.time()
    full_idx = chosen[: o.full_clips]
    full_steps = generator.scheduler.num_train_steps if o.full_steps is None else o.full_steps
    full_name = f"diffusion ({full_steps} steps, {len(full_idx)} clips)"
    fast_a = [takes[(diffusion, "label", o.seed)][position[i]] for i in full_idx]
    fast_b = [takes[(diffusion, "label", o.seed + 1)][position[i]] for i in full_idx]
    full_a = _generate(generator, clips, full_idx, styles["label"], o.guidance, full_steps, o.seed, "ddpm")
    full_b = _generate(generator, clips, full_idx, styles["label"], o.guidance, full_steps, o.seed + 1, "ddpm")
    fast = {**judge.score(full_idx, fast_a), **judge.diversity(fast_a, fast_b)}
    full = {**judge.score(full_idx, full_a), **judge.diversity(full_a, full_b)}
    rows[full_name] = {"controls": {"label": {k: v for k, v in full.items() if not k.startswith("diversity")}},
                       "steps": full_steps, "sampler": "ddpm", "guidance": o.guidance,
                       "diversity_mm": full["diversity_mm"],
                       "diversity_param": full["diversity_param"], "seconds": round(time.time() - t, 1)}
    comparison = {k: {"fast": fast[k], "full": full[k], "rel_diff": relative_difference(fast[k], full[k])}
                  for k in COMPARED}
    timings["full_steps_s"] = time.time() - t
    log(f"  {full_name}: {time.time() - t:.0f} s")

    def showcase(i: int) -> tuple:  # a strongly happy clip with a blink shows every curve at work
        blinks = blink_rate(data.params[i], judge.blink, data.fps)[0] if judge.blink is not None else 0
        return EMOTIONS[data.emotion[i]] == "happy", clips.intensity[i] == 3, blinks > 0
    figure_clip = max(chosen, key=showcase)
    k = position[figure_clip]
    figure = {"clip": clips.ids[figure_clip] if clips.ids else str(figure_clip),
              "emotion": f"{EMOTIONS[data.emotion[figure_clip]]} {int(clips.intensity[figure_clip])}",
              "names": data.names, "fps": data.fps, "rig": data.rig, "ground truth": data.params[figure_clip],
              diffusion: takes[(diffusion, "label", o.seed)][k]}
    if regression is not None:
        figure["regression"] = takes[("regression", "label", o.seed)][k]

    timings["total_s"] = time.time() - t_start
    results = {
        "clips": len(chosen), "clips_per_emotion": {e: int((data.emotion[chosen] == k).sum())
                                                     for k, e in enumerate(EMOTIONS)},
        "steps": o.steps, "sampler": o.sampler, "guidance": o.guidance, "seed": o.seed, "rows": rows,
        "guidance_sweep": {"clips": len(sweep_idx), "rows": sweep},
        "fast_vs_full": {"clips": len(full_idx), "fast_steps": o.steps, "full_steps": full_steps,
                         "metrics": comparison},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "figure": figure,
    }
    results["targets"] = check_targets(results, diffusion)
    return results



# ---- loading from disk ---------------------------------------------------------------------------


def load_eval_clips(corpus_dir: str | Path, split: str, content_dir: str | Path, space_dir: str | Path,
                    log: Callable[[str], None] = print) -> EvalClips:
    corpus = Corpus(corpus_dir)
    infos = corpus.clips(split)
    if not infos:
        raise EmoAnimError(f"no '{split}' clips in {corpus_dir}")
    data = prepare(corpus_dir, split, content_dir, space_dir, None, log, route="recognised")  # as the product
    if len(data) != len(infos):
        raise EmoAnimError(f"the cached {split} data of {corpus_dir} does not match its manifest; "
                           f"delete {corpus_dir}/derived")
    redraw = (lambda i, seed: redraw_motion(corpus, infos[i].id, seed)) if corpus.meta.source == "synthetic" else None
    return EvalClips(data=data, intensity=np.array([class_label(int(c))[1] for c in data.label]),
                     speakers=[c.speaker for c in infos], texts=[c.text for c in infos],
                     descriptions=[list(c.descriptions) for c in infos],
                     audio=lambda i: corpus.load(infos[i].id).audio, ids=[c.id for c in infos], redraw=redraw)


__all__ = ["evaluate_generator", "load_eval_clips", "balanced_selection", "pick_references", "control_styles",
           "GeneratorEvalOptions", "EvalClips", "GUIDANCE_SWEEP", "COMPARED", "REDRAW_ROW", "MEAN_ROW"]
