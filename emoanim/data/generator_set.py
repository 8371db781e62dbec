"""What training and evaluating the generator read from a corpus: every clip's rig parameters, its
content features from the frozen content encoder, and its emotion targets from the frozen emotion
space (the motion embedding of the clip and its emotion x intensity class).

``prepare`` caches the result next to the corpus, keyed by the two checkpoints and the content route,
because encoding 6 hours of audio is the slowest part of a short run.

Content routes for an aligned content encoder (the default): ``"posteriors"`` (the default of
``prepare``: what the shipped generator was trained on) reads the phone recogniser alone, ``"exact"`` fuses the corpus's own phone
timings into the posteriors (what the encoder produces given a perfect transcript and alignment: the
training signal), ``"recognised"`` runs the encoder as the product does (recognition, alignment,
fusion; honest for evaluation). Other encoders give their own features either way.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from emoanim.audio.content import AlignedContentEncoder, fuse_phones, load_content_encoder
from emoanim.binding.space import EmotionSpace
from emoanim.data.corpus import Corpus
from emoanim.diffusion.denoiser import align_content
from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.nn import lengths_to_mask
from emoanim.rigs import rig_param_groups
from emoanim.vocabulary import CONTENT_RATE, CONTENT_ROUTES, MOTION_FPS, label_class

K = int(CONTENT_RATE / MOTION_FPS)  # content frames per motion frame
ROUTES = CONTENT_ROUTES  # content routes of an aligned encoder (see the module doc)


@dataclass
class GeneratorData:
    """One split in memory: rig params [T, D], content [2T, C], emotion targets."""

    params: list[np.ndarray]
    content: list[np.ndarray]
    label: np.ndarray  # [N] emotion x intensity class
    emotion: np.ndarray  # [N] emotion index
    motion_style: np.ndarray  # [N, E] the emotion space's embedding of each clip's motion
    names: list[str]  # the rig's parameter names (columns of params)
    rig: str
    fps: float

    def __len__(self) -> int:
        return len(self.params)


def _digest(folder: str | Path) -> str:
    h = hashlib.sha1()
    for name in ("model.safetensors", "config.json"):
        p = Path(folder) / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def prepare(corpus_dir: str | Path, split: str, content_dir: str | Path, space_dir: str | Path,
            limit: int | None = None, log: Callable[[str], None] = print,
            route: str = "posteriors") -> GeneratorData:
    """A split of the corpus at ``corpus_dir`` encoded by the checkpoints in ``content_dir`` and ``space_dir``."""
    if route not in ROUTES:
        raise EmoAnimError(f"unknown content route '{route}'; choose one of: {', '.join(ROUTES)}")
    corpus = Corpus(corpus_dir)
    infos = corpus.clips(split)[:limit]
    key = f"{split}-{len(infos)}-{_digest(content_dir)}-{_digest(space_dir)}-{route}"
    cache = Path(corpus_dir) / "derived" / f"gen-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            lengths = z["lengths"]
            cut = np.cumsum(lengths)[:-1]
            params = np.split(z["params"], cut)
            content = np.split(z["content"], K * cut)
            return GeneratorData(params, content, z["label"], z["emotion"], z["motion_style"],
                                 list(corpus.meta.names), corpus.meta.rig, corpus.meta.fps)
    t0 = time.time()
    encoder = load_content_encoder(content_dir)
    space = EmotionSpace.from_pretrained(space_dir)
    params, content, label, emotion, styles = [], [], [], [], []
    batch = 32
    for b in range(0, len(infos), batch):
        clips = [corpus.load(info.id) for info in infos[b : b + batch]]
        waves = [torch.from_numpy(c.audio) for c in clips]
        lengths = torch.tensor([len(w) for w in waves])
        wave = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
        feats, mask = encoder(wave, lengths)
        for c, f, m in zip(clips, feats, mask):
            T = len(c.params)
            params.append(c.params.astype(np.float32))
            features = f[: int(m.sum())].numpy()
            if isinstance(encoder, AlignedContentEncoder) and route != "posteriors":
                cfg = encoder.config
                features = (fuse_phones(features, c.phones, cfg.weight, cfg.speech_floor) if route == "exact"
                            else encoder.encode(c.audio))
            content.append(align_content(torch.from_numpy(features), T, K).numpy())
            label.append(label_class(c.info.emotion, c.info.intensity))
            emotion.append(label[-1] // 3)
        p = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(c.params) for c in clips], batch_first=True)
        pm = lengths_to_mask(torch.tensor([len(c.params) for c in clips]), p.shape[1])
        styles.append(space.embed_motion(p.float(), pm).numpy())
    data = GeneratorData(params, content, np.array(label), np.array(emotion), np.concatenate(styles),
                         list(corpus.meta.names), corpus.meta.rig, corpus.meta.fps)
    cache.parent.mkdir(exist_ok=True)
    atomic_write(cache, lambda f: np.savez(f, params=np.concatenate(params), content=np.concatenate(content),
             lengths=np.array([len(p) for p in params]), label=data.label, emotion=data.emotion,
             motion_style=data.motion_style), binary=True)  # concurrent runs may share the cache
    log(f"prepared {split} ({route} content): {len(infos)} clips in {time.time() - t0:.0f} s -> {cache}")
    return data


def crop_batch(data: GeneratorData, idx, window: int, rng: np.random.Generator):
    """Random crops of at most ``window`` frames: params [B, T, D], content [B, 2T, C], mask [B, T]."""
    crops = []
    for i in idx:
        n = len(data.params[i])
        s = int(rng.integers(0, n - window + 1)) if n > window else 0
        e = min(n, s + window)
        crops.append((data.params[i][s:e], data.content[i][K * s : K * e]))
    T = max(len(p) for p, _ in crops)
    D, C = crops[0][0].shape[1], crops[0][1].shape[1]
    params = torch.zeros(len(idx), T, D)
    content = torch.zeros(len(idx), K * T, C)
    mask = torch.zeros(len(idx), T, dtype=torch.bool)
    for b, (p, c) in enumerate(crops):
        params[b, : len(p)] = torch.from_numpy(p)
        params[b, len(p) :] = torch.from_numpy(p[-1:])  # hold the last pose on padding (masked anyway)
        content[b] = align_content(torch.from_numpy(c), T, K)
        mask[b, : len(p)] = True
    return params, content, mask


def param_stats(data: GeneratorData) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-parameter mean and standard deviation [D] over every frame of the split."""
    allp = np.concatenate(data.params)
    return torch.from_numpy(allp.mean(0)), torch.from_numpy(allp.std(0))


def mouth_names(rig: str, names: Sequence[str]) -> list[str]:
    """The parameters among ``names`` that move the lips (the rig's "mouth" group), in their order."""
    # 100 expressions: FLAME's largest size, whose mouth group contains the smaller one's (ARKit ignores it).
    mouth = set(rig_param_groups(rig, num_expressions=100)["mouth"])
    found = [n for n in names if n in mouth]
    if not found:
        raise EmoAnimError(f"none of the data's parameters is in the '{rig}' rig's mouth group")
    return found
