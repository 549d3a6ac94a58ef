"""Tiny random cross-encoder models built offline, for tests and benchmarks.

:func:`save_tiny_model` writes a ``BertForSequenceClassification`` (WordPiece tokenizer) or an
``XLMRobertaForSequenceClassification`` (Unigram/Metaspace tokenizer, XLM-R special tokens)
with random weights to a directory with ``save_pretrained``; the directory loads with
``AutoTokenizer`` / ``AutoModelForSequenceClassification.from_pretrained(path)`` like a hub
model. Sizes are tiny by default (a few hundred KB, milliseconds per batch); pass
``hidden_size``/``num_layers``/... to get a real model's shape (speed does not depend on the
weight values). :func:`random_text` draws documents from the same vocabulary, so tokenization
round-trips exactly.

Needs ``torch``, ``transformers`` and ``tokenizers``.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

__all__ = ["WORDS", "build_tokenizer", "random_text", "save_tiny_model"]

ModelKind = Literal["bert", "xlm-roberta"]

_WORDS_TEXT = """
the of and to in is was for on that with as by at from it an be this which or are not have
has had but were they their one all can more when there been also its new will would other
into time only about after first two over some such these most than what out many then
them may could up made so under where between while during search rank query document
retrieval index score model vector token engine result text relevant dense sparse hybrid
reranker cross encoder batch length window fast milvus lucene corpus collection field
filter analyzer stemmer language english paris france capital city river bridge tower
museum history art music science flight wing airfoil pressure velocity boundary layer flow
shock wave heat transfer theory experiment data method analysis value number system
problem solution water energy light sound earth planet star space moon sun ocean forest
mountain red green blue black white small large long short high low fast slow old young
cat dog bird fish horse tree flower grass stone sand fire ice wind rain snow cloud
"""
_BASE_WORDS = _WORDS_TEXT.split()

#: The vocabulary tiny models know (plus single characters as a fallback).
WORDS: tuple[str, ...] = tuple(dict.fromkeys(_BASE_WORDS))


def _tokenizers() -> Any:
    return importlib.import_module("tokenizers")


def _transformers() -> Any:
    return importlib.import_module("transformers")


def build_tokenizer(kind: ModelKind = "bert", words: Sequence[str] = WORDS) -> Any:
    """A fast tokenizer (``PreTrainedTokenizerFast``) over ``words`` plus single characters."""
    fast_tokenizer_cls = _transformers().PreTrainedTokenizerFast
    tk = _tokenizers()
    chars = sorted({c for w in words for c in w} | set("abcdefghijklmnopqrstuvwxyz0123456789"))
    if kind == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        vocab_list = [*specials, *chars, *(f"##{c}" for c in chars), *words]
        vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
        tok = tk.Tokenizer(
            tk.models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100)
        )
        tok.normalizer = tk.normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
        tok.decoder = tk.decoders.WordPiece(prefix="##")
        cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
        tok.post_processor = tk.processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        return fast_tokenizer_cls(
            tokenizer_object=tok,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
            model_max_length=512,
            model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        )
    if kind == "xlm-roberta":
        specials = ["<s>", "<pad>", "</s>", "<unk>"]
        pieces: list[tuple[str, float]] = [(s, 0.0) for s in specials]
        seen = set(specials)
        for w in words:
            piece = "\u2581" + w
            if piece not in seen:
                seen.add(piece)
                pieces.append((piece, -5.0 - 0.001 * len(pieces)))
        for c in [*chars, "\u2581"]:
            for piece in (c, "\u2581" + c):
                if piece not in seen:
                    seen.add(piece)
                    pieces.append((piece, -12.0))
        pieces.append(("<mask>", 0.0))
        tok = tk.Tokenizer(tk.models.Unigram(pieces, unk_id=3, byte_fallback=False))
        tok.normalizer = tk.normalizers.Sequence(
            [tk.normalizers.NFKC(), tk.normalizers.Lowercase()]
        )
        tok.pre_tokenizer = tk.pre_tokenizers.Metaspace(
            replacement="\u2581", prepend_scheme="always"
        )
        tok.decoder = tk.decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.post_processor = tk.processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", 0), ("</s>", 2)],
        )
        return fast_tokenizer_cls(
            tokenizer_object=tok,
            bos_token="<s>",
            eos_token="</s>",
            unk_token="<unk>",
            sep_token="</s>",
            cls_token="<s>",
            pad_token="<pad>",
            mask_token="<mask>",
            model_max_length=512,
            model_input_names=["input_ids", "attention_mask"],
        )
    raise ValueError(f"kind must be 'bert' or 'xlm-roberta', got {kind!r}")


def save_tiny_model(
    path: str | Path,
    kind: ModelKind = "bert",
    num_labels: int = 1,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    vocab_size: int | None = None,
    seed: int = 0,
    initializer_range: float = 0.2,
    words: Sequence[str] = WORDS,
) -> Path:
    """Write a random sequence-classification model and its tokenizer to ``path``.

    ``vocab_size`` larger than the tokenizer's vocabulary only grows the embedding matrix
    (to mimic a real model's size). Returns ``path``.
    """
    torch: Any = importlib.import_module("torch")
    tf = _transformers()

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(kind, words)
    n_vocab = max(len(tokenizer), vocab_size or 0)
    torch.manual_seed(seed)
    model: Any
    if kind == "bert":
        bert_cfg = tf.BertConfig(
            vocab_size=n_vocab,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max_position_embeddings,
            num_labels=num_labels,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=initializer_range,
        )
        model = tf.BertForSequenceClassification(bert_cfg)
    else:
        xlmr_cfg = tf.XLMRobertaConfig(
            vocab_size=n_vocab,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max_position_embeddings + 2,
            num_labels=num_labels,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            type_vocab_size=1,
            initializer_range=initializer_range,
        )
        model = tf.XLMRobertaForSequenceClassification(xlmr_cfg)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def random_text(
    rng: random.Random, min_words: int, max_words: int, words: Sequence[str] = WORDS
) -> str:
    """A space-joined run of vocabulary words, ``min_words`` to ``max_words`` long."""
    n = rng.randint(min_words, max_words)
    return " ".join(rng.choice(words) for _ in range(n))
