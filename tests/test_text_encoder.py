"""The frozen text encoder: MiniLM token features, emotion similarity, errors, cache, a RoBERTa folder."""

import pytest
import torch

from emoanim.errors import EmoAnimError
from emoanim.text.encoder import TextEncoder

WORDS = "very happy delighted furious sad calm quietly a".split()


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder()


@pytest.fixture(scope="module")
def tiny_roberta_dir(tmp_path_factory):
    """A randomly initialised 2-layer RoBERTa with a word-level tokenizer, saved like a real model."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    folder = tmp_path_factory.mktemp("tiny-roberta")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>", model_max_length=512)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=37, max_position_embeddings=18, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2)
    RobertaModel(config).save_pretrained(folder)
    return folder


def test_minilm_tokens_and_mask(minilm):
    tokens, mask = minilm.encode(["happy", "a little sad today", "furious"])
    assert minilm.dim == 384 and minilm.name == "all-MiniLM-L6-v2"
    assert tokens.dtype == torch.float32 and mask.dtype == torch.bool
    assert tokens.shape == (3, mask.shape[1], 384)
    assert mask.sum(1).tolist() == [3, 6, 3]  # [CLS] words [SEP]
    assert tokens[0, 3:].abs().max() == 0 and not tokens.requires_grad


def test_minilm_emotion_similarity(minilm):
    happy, delighted, furious = minilm.sentence(["very happy", "delighted", "furious"])
    assert torch.allclose(happy.norm(), torch.tensor(1.0))
    assert happy @ delighted > happy @ furious + 0.2


def test_same_features_alone_and_in_a_batch(minilm):
    minilm.clear_cache()
    alone, _ = minilm.encode(["sad"])
    minilm.clear_cache()
    batch, mask = minilm.encode(["a much longer description of deep sorrow", "sad"])
    assert torch.allclose(alone[0], batch[1, : int(mask[1].sum())], atol=1e-5)


def test_features_feed_a_trained_layer(minilm):
    tokens, _ = minilm.encode(["calm"])  # no_grad tensors (not inference_mode) can enter autograd
    layer = torch.nn.Linear(384, 2)
    layer(tokens).sum().backward()
    assert layer.weight.grad is not None


@pytest.mark.parametrize("texts", [[""], ["happy", "   "], ["\n\t"]])
def test_empty_text_is_an_error(minilm, texts):
    with pytest.raises(EmoAnimError, match="is empty"):
        minilm.encode(texts)


def test_other_bad_input(minilm):
    with pytest.raises(EmoAnimError, match="list of texts"):
        minilm.encode("happy")
    with pytest.raises(EmoAnimError, match="not a string"):
        minilm.encode(["happy", 3])
    tokens, mask = minilm.encode([])
    assert tokens.shape == (0, 0, 384) and mask.shape == (0, 0)


def test_missing_model_folder(tmp_path):
    with pytest.raises(EmoAnimError, match="not found"):
        TextEncoder.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(EmoAnimError, match="config.json is missing"):
        TextEncoder.from_pretrained(tmp_path)


def test_tiny_roberta_end_to_end(tiny_roberta_dir):
    encoder = TextEncoder.from_pretrained(tiny_roberta_dir)
    assert encoder.dim == 32 and encoder.name == tiny_roberta_dir.name
    assert encoder.max_tokens == 16  # RoBERTa's positions start after the padding index
    tokens, mask = encoder.encode(["very happy", "furious", "sad " * 40])
    assert tokens.shape == (3, 16, 32) and mask.sum(1).tolist() == [4, 3, 16]  # <s> ... </s>, truncated
    assert torch.isfinite(tokens).all()
    sentences = encoder.sentence(["very happy", "calm"])
    assert sentences.shape == (2, 32) and torch.allclose(sentences.norm(dim=1), torch.ones(2))


def test_lru_cache(tiny_roberta_dir, monkeypatch):
    encoder = TextEncoder.from_pretrained(tiny_roberta_dir, cache_size=2)
    first, _ = encoder.encode(["happy", "sad"])
    calls = []
    run = encoder._run
    monkeypatch.setattr(encoder, "_run", lambda texts: calls.append(list(texts)) or run(texts))
    again, _ = encoder.encode(["sad", "happy"])
    assert calls == [] and torch.equal(again[0], first[1])  # both cached
    encoder.encode(["calm"])  # evicts the least recently used: "sad"
    assert calls == [["calm"]] and encoder.cache_len == 2
    encoder.encode(["happy", "sad"])
    assert calls[-1] == ["sad"]
    big, mask = encoder.encode(["a", "very", "calm", "sad"])  # more strings than the cache holds
    assert mask.sum(1).tolist() == [3, 3, 3, 3] and encoder.cache_len == 2
    assert torch.allclose(big[3], first[1], atol=1e-6)
