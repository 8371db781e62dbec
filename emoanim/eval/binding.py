"""Evaluating the emotion space (``python -m emoanim evaluate binding``).

On the test split (voices and sentences never heard in training, held-out description phrasings):
per modality, emotion accuracy by nearest label prototype and intensity accuracy, cross-modal
retrieval (modality -> motion) recall@1, cosine of matched vs mismatched pairs, the encoders' own
classification heads, free-text probes, and a 2-D projection plot of the space.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from emoanim.binding.space import EmotionSpace
from emoanim.data.clip_set import (
    CLASS_EMOTION,
    CLASS_INTENSITY,
    audio_batch,
    embed_frozen,
    evaluate_classifier,
    frozen_features,
    load_split,
    motion_batch,
)
from emoanim.data.corpus import Corpus
from emoanim.data.descriptions import (
    FREE_TEXT_PROBES,
    WORDS,
    description_pool,
    emotionless_texts,
    idiom_pool,
    negation_pool,
)
from emoanim.fileio import atomic_write
from emoanim.vocabulary import EMOTIONS, VALID_CLASSES, class_label

MODALITIES = ("motion", "audio", "text", "label")


@torch.no_grad()
def evaluate_binding(space: EmotionSpace, corpus_dir: str | Path, split: str = "test", plot: Path | None = None) -> dict:
    data = load_split(Corpus(corpus_dir), split)
    space.eval()
    features = frozen_features(space, data)
    texts = [t for texts in data.descriptions for t in texts]
    per_text_clip = np.repeat(np.arange(len(data)), [len(t) for t in data.descriptions])

    vectors = {  # emotion vectors [samples, E] of each modality
        "motion": embed_frozen(space, "motion", features["motion"]).numpy(),
        "audio": embed_frozen(space, "audio", features["audio"]).numpy(),
        "text": space.embed_texts(texts).numpy(),
        "label": space.embed_labels(torch.from_numpy(data.label)).numpy(),
    }
    clip_of = {"motion": np.arange(len(data)), "audio": np.arange(len(data)), "text": per_text_clip,
               "label": np.arange(len(data))}
    prototypes = space.prototypes()[VALID_CLASSES].numpy()
    proto_emotion = CLASS_EMOTION[VALID_CLASSES]
    proto_intensity = CLASS_INTENSITY[VALID_CLASSES]

    results: dict = {"split": split, "clips": len(data), "modalities": {}}
    not_neutral = data.emotion != EMOTIONS.index("neutral")
    for modality in MODALITIES:
        emb, clips = vectors[modality], clip_of[modality]
        nearest = (emb @ prototypes.T).argmax(1)
        emotion_ok = proto_emotion[nearest] == data.emotion[clips]
        intensity_ok = proto_intensity[nearest] == data.intensity[clips]
        # Retrieval: the nearest motion emotion vector of another clip should share emotion and intensity.
        sims = emb @ vectors["motion"].T
        if modality != "motion":
            retrieved = sims.argmax(1)
        else:
            np.fill_diagonal(sims, -np.inf)
            retrieved = sims.argmax(1)
        matched = np.einsum("ij,ij->i", emb, vectors["motion"][clips])
        different = data.emotion[clips][:, None] != data.emotion[None, :]
        mismatched = (emb @ vectors["motion"].T)[different]
        results["modalities"][modality] = {
            "samples": int(len(emb)),
            "emotion_acc": float(emotion_ok.mean()),
            "intensity_acc_non_neutral": float(intensity_ok[not_neutral[clips]].mean()),
            "retrieval_r1": float((data.label[retrieved] == data.label[clips]).mean()),
            "retrieval_r1_emotion": float((data.emotion[retrieved] == data.emotion[clips]).mean()),
            "cos_matched": float(matched.mean()),
            "cos_mismatched": float(mismatched.mean()),
        }
    results["motion_encoder_head"] = evaluate_classifier(space.motion_encoder, motion_batch, data)
    results["audio_encoder_head"] = evaluate_classifier(space.audio_encoder, audio_batch, data)
    results["free_text"] = free_text_probes(space)
    results["typed_text"] = typed_text_checks(space)
    if plot is not None:
        plot_space(vectors, clip_of, data.emotion, prototypes, proto_emotion, plot)
        results["plot"] = str(plot)
    return results


@torch.no_grad()
def free_text_probes(space: EmotionSpace) -> dict:
    rows = []
    for text, (emotion, intensity) in FREE_TEXT_PROBES.items():
        predicted, level, cos = space.classify(space.embed(text=text))
        rows.append({"text": text, "expected": f"{emotion} {intensity}", "predicted": f"{predicted} {level}",
                     "emotion_ok": predicted == emotion, "cos": round(cos, 3)})
    return {"emotion_acc": float(np.mean([r["emotion_ok"] for r in rows])), "probes": rows}


@torch.no_grad()
def typed_text_checks(space: EmotionSpace, split: str = "heldout") -> dict:
    """What people type, on a pool never trained on (``split``): every phrasing of the pool (emotion
    accuracy overall, for neutral and for contempt), denials ('far from merry' -> sad 1), text with no
    emotion (-> neutral), intensity words (mean intensity read from the pool's level-1 vs level-3
    phrasings), and mixtures of two emotions' words ('merry but jittery': both read among the parts)."""
    texts, emotions, levels = [], [], []
    for c in VALID_CLASSES:
        name, level = class_label(c)
        for t in description_pool(name, level, split):
            texts.append(t), emotions.append(EMOTIONS.index(name)), levels.append(level)
    emotions, levels = np.array(emotions), np.array(levels)
    readings = [space.read_text(t) for t in texts]
    read_emotion = np.array([EMOTIONS.index(r.emotion) for r in readings])
    read_level = np.array([r.intensity for r in readings])
    ok = read_emotion == emotions
    out = {"pool": split, "phrasings": len(texts), "emotion_acc": float(ok.mean())}
    out["per_emotion_acc"] = {e: float(ok[emotions == i].mean()) for i, e in enumerate(EMOTIONS)}
    graded = ok & (emotions != EMOTIONS.index("neutral"))
    out["intensity_read_mean"] = {int(k): float(read_level[graded & (levels == k)].mean()) for k in (1, 2, 3)}
    denials = [(t, class_label(c)[0]) for c in VALID_CLASSES for t in negation_pool(*class_label(c), split)]
    out["denial_acc"] = float(np.mean([space.read_text(t).emotion == e for t, e in denials]))
    idioms = [(t, class_label(c)[0]) for c in VALID_CLASSES for t in idiom_pool(*class_label(c), split)]
    out["idiom_acc"] = float(np.mean([space.read_text(t).emotion == e for t, e in idioms]))
    plain = emotionless_texts(split, 300)
    out["emotionless_neutral"] = float(np.mean([space.read_text(t).emotion == "neutral" for t in plain]))
    rng = np.random.default_rng(0)
    single = {e: [w for w in WORDS[e][split].adjectives[2] if " " not in w] for e in EMOTIONS if e != "neutral"}
    hits = []
    for _ in range(100):
        a, b = rng.choice(sorted(single), 2, replace=False)
        reading = space.read_text(f"{rng.choice(single[a])} but {rng.choice(single[b])}")
        hits.append({a, b} <= {e for _, e, _ in reading.parts})
    out["mixture_both_read"] = float(np.mean(hits))
    return out


def plot_space(vectors, clip_of, clip_emotion, prototypes, proto_emotion, path: Path) -> None:
    """PCA of every emotion vector onto 2-D: colour = emotion, marker = modality."""
    import matplotlib  # lazy: start-up time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    everything = np.concatenate([vectors[m] for m in MODALITIES] + [prototypes])
    mean = everything.mean(0)
    _, _, vt = np.linalg.svd(everything - mean, full_matrices=False)
    project = lambda x: (x - mean) @ vt[:2].T  # noqa: E731
    colours = plt.get_cmap("tab10")
    markers = {"motion": "o", "audio": "^", "text": "s", "label": "*"}
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    rng = np.random.default_rng(0)
    for modality in MODALITIES:
        keep = rng.permutation(len(vectors[modality]))[:300]  # a readable number of points per modality
        xy = project(vectors[modality][keep])
        emotion = clip_emotion[clip_of[modality][keep]]
        ax.scatter(xy[:, 0], xy[:, 1], c=[colours(e) for e in emotion], marker=markers[modality], s=14, alpha=0.55,
                   linewidths=0)
    xy = project(prototypes)
    ax.scatter(xy[:, 0], xy[:, 1], c=[colours(e) for e in proto_emotion], marker="*", s=260, edgecolors="black")
    for i, name in enumerate(EMOTIONS):
        ax.scatter([], [], c=[colours(i)], label=name, s=40)
    for modality, marker in markers.items():
        ax.scatter([], [], c="grey", marker=marker, label=f"{modality}" + (" (prototypes: big stars)" if modality == "label" else ""))
    ax.legend(loc="best", fontsize=8, ncol=2)
    ax.set_title("EmoAnim emotion space (test split, PCA)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)


def markdown_table(results: dict) -> str:
    lines = [
        f"Emotion space on the {results['split']} split ({results['clips']} clips: unseen voices and sentences, "
        "held-out phrasings)",
        "",
        "| modality | samples | emotion acc | intensity acc (non-neutral) | R@1 -> motion (emotion+level) | R@1 (emotion) | cos matched | cos mismatched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in results["modalities"].items():
        lines.append(f"| {name} | {m['samples']} | {m['emotion_acc']:.3f} | {m['intensity_acc_non_neutral']:.3f} | "
                     f"{m['retrieval_r1']:.3f} | {m['retrieval_r1_emotion']:.3f} | {m['cos_matched']:.3f} | "
                     f"{m['cos_mismatched']:.3f} |")
    mh, ah = results["motion_encoder_head"], results["audio_encoder_head"]
    lines += [
        "",
        f"Classifier heads: motion encoder emotion {mh['emotion_acc']:.3f}, intensity {mh['intensity_acc']:.3f}; "
        f"audio encoder emotion {ah['emotion_acc']:.3f}, intensity {ah['intensity_acc']:.3f}.",
        "",
        f"Free-text probes (never in training): emotion accuracy {results['free_text']['emotion_acc']:.3f}",
        "",
        "| text | expected | nearest prototype | cos |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['text']} | {r['expected']} | {r['predicted']} | {r['cos']} |" for r in results["free_text"]["probes"]]
    typed = results.get("typed_text")
    if typed:
        per = typed["per_emotion_acc"]
        lines += [
            "",
            f"What people type, read by `EmotionSpace.read_text` on the '{typed['pool']}' pool ({typed['phrasings']} "
            "phrasings, never trained on):",
            "",
            "| check | value |",
            "|---|---|",
            f"| emotion accuracy, every phrasing | {typed['emotion_acc']:.3f} |",
            "| ... per emotion | " + ", ".join(f"{e} {v:.2f}" for e, v in per.items()) + " |",
            "| intensity read, mean over phrasings of level 1 / 2 / 3 (emotion right) | "
            + " / ".join(f"{typed['intensity_read_mean'][k]:.2f}" for k in (1, 2, 3)) + " |",
            f"| denials read as intended ('far from merry' -> sad, 'in no way irate' -> neutral) | "
            f"{typed['denial_acc']:.3f} |",
            f"| idioms and exclamations ('pleased as punch', 'whoa') | {typed.get('idiom_acc', float('nan')):.3f} |",
            f"| text with no emotion read as neutral (sentences, things, keyboard mashing) | "
            f"{typed['emotionless_neutral']:.3f} |",
            f"| mixtures 'X but Y' with both emotions among the parts read | {typed['mixture_both_read']:.3f} |",
        ]
    return "\n".join(lines) + "\n"


def write_report(results: dict, out_dir: Path, name: str = "binding_eval") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    js = atomic_write(out_dir / f"{name}.json", lambda f: json.dump(results, f, indent=1), binary=False)
    md = atomic_write(out_dir / f"{name}.md", lambda f: f.write(markdown_table(results)), binary=False)
    return js, md


__all__ = ["evaluate_binding", "free_text_probes", "markdown_table", "write_report"]
