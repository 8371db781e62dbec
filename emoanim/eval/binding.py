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
from emoanim.data.descriptions import FREE_TEXT_PROBES
from emoanim.fileio import atomic_write
from emoanim.vocabulary import EMOTIONS, VALID_CLASSES

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
    return "\n".join(lines) + "\n"


def write_report(results: dict, out_dir: Path, name: str = "binding_eval") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    js = atomic_write(out_dir / f"{name}.json", lambda f: json.dump(results, f, indent=1), binary=False)
    md = atomic_write(out_dir / f"{name}.md", lambda f: f.write(markdown_table(results)), binary=False)
    return js, md


__all__ = ["evaluate_binding", "free_text_probes", "markdown_table", "write_report"]
