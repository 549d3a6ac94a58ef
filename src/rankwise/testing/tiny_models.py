"""Tiny random cross-encoder models built offline, for tests and benchmarks.

:func:`save_tiny_model` writes a ``BertForSequenceClassification`` (WordPiece tokenizer) or an
``XLMRobertaForSequenceClassification`` (Unigram/Metaspace tokenizer, XLM-R special tokens)
with random weights to a directory with ``save_pretrained``; the directory loads with
``AutoTokenizer`` / ``AutoModelForSequenceClassification.from_pretrained(path)`` like a hub
model. Sizes are tiny by default (a few hundred KB, milliseconds per batch); pass
``hidden_size``/``num_layers``/... to get a real model's shape (speed does not depend on the
weight values). :func:`random_text` draws documents from the same vocabulary, so tokenization
round-trips exactly.

For decoder-only (LLM) rerankers, :func:`save_tiny_causal_lm` writes a random
``Qwen3ForCausalLM`` / ``Qwen2ForCausalLM`` / ``Gemma2ForCausalLM`` / ``GemmaForCausalLM`` with a
byte-level BPE tokenizer (:func:`build_llm_tokenizer`) that has the families' chat and answer
tokens.

Needs ``torch``, ``transformers`` and ``tokenizers``.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "WORDS",
    "build_llm_tokenizer",
    "build_tokenizer",
    "random_text",
    "save_tiny_causal_lm",
    "save_tiny_model",
]

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


# -- decoder-only (LLM) rerankers ---------------------------------------------------------------

LLMKind = Literal["qwen3", "qwen2", "gemma2", "gemma"]

#: Qwen2/Qwen3's pre-tokenizer split (byte-level BPE runs inside each piece).
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: Prompt text of the LLM reranker families: trained into the tiny tokenizers so their prompts
#: tokenize to a realistic handful of tokens.
_PROMPT_TEXT = """Judge whether the Document meets the requirements based on the Query and the
Instruct provided. Note that the answer can only be "yes" or "no". Given a web search query,
retrieve relevant passages that answer the query <Instruct>: <Query>: <Document>:
Given a query A and a passage B, determine whether the passage contains an answer to the query by
providing a prediction of either 'Yes' or 'No'. A: B:
You are Qwen, created by Alibaba Cloud. You are a helpful assistant. You are a search relevance
expert who evaluates how well documents match search queries. For each query-document pair,
carefully analyze the semantic relationship between them, then provide your binary relevance
judgment (0 for not relevant, 1 for relevant). Relevance: instruction: query: document:
system user assistant
"""


def build_llm_tokenizer(
    kind: LLMKind = "qwen3", words: Sequence[str] = WORDS, corpus: Sequence[str] = ()
) -> Any:
    """A byte-level BPE tokenizer shaped like the family's own: Qwen's split pattern and chat
    special tokens (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>`` as pad; ``<think>``,
    ``</think>`` for Qwen3) or Gemma's ``<pad>``/``<eos>``/``<bos>`` (bos added as a special
    token). Trained offline on the families' prompt text, ``words`` and ``corpus``, so
    ``yes``/``no``/``Yes`` are single tokens. Deterministic."""
    tk = _tokenizers()
    fast_tokenizer_cls = _transformers().PreTrainedTokenizerFast
    gemma = kind in ("gemma", "gemma2")
    specials = (
        ["<pad>", "<eos>", "<bos>"] if gemma else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    )
    tok = tk.Tokenizer(tk.models.BPE())
    tok.normalizer = tk.normalizers.NFC()
    tok.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Split(tk.Regex(QWEN_SPLIT), behavior="isolated"),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = tk.decoders.ByteLevel()
    lines = [_PROMPT_TEXT, *(["yes\nno\nYes\nNo\n"] * 50), " ".join(words), *corpus]
    trainer = tk.trainers.BpeTrainer(
        vocab_size=8000 if corpus else 2000,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    if gemma:
        bos = tok.token_to_id("<bos>")
        tok.post_processor = tk.processors.TemplateProcessing(
            single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos)]
        )
        return fast_tokenizer_cls(
            tokenizer_object=tok,
            bos_token="<bos>",
            eos_token="<eos>",
            pad_token="<pad>",
            model_max_length=8192,
        )
    if kind == "qwen3":
        tok.add_tokens(["<think>", "</think>"])
    return fast_tokenizer_cls(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=32768,
    )


def save_tiny_causal_lm(
    path: str | Path,
    kind: LLMKind = "qwen3",
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    head_dim: int | None = None,
    intermediate_size: int = 64,
    max_position_embeddings: int = 4096,
    vocab_size: int | None = None,
    sliding_window: int = 24,
    seed: int = 0,
    initializer_range: float = 0.2,
    tokenizer: Any = None,
    words: Sequence[str] = WORDS,
) -> Path:
    """Write a random ``Qwen3ForCausalLM`` / ``Qwen2ForCausalLM`` / ``Gemma2ForCausalLM`` /
    ``GemmaForCausalLM`` and its tokenizer (:func:`build_llm_tokenizer` unless given) to
    ``path``. Gemma 2 keeps its logit soft-capping and alternates sliding-window layers
    (``sliding_window`` tokens, small by default so that tests exercise it)."""
    torch: Any = importlib.import_module("torch")
    tf = _transformers()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer if tokenizer is not None else build_llm_tokenizer(kind, words)
    n_vocab = max(len(tokenizer), vocab_size or 0)
    head_dim = head_dim or hidden_size // num_heads
    common = {
        "vocab_size": n_vocab,
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": max_position_embeddings,
        "initializer_range": initializer_range,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    torch.manual_seed(seed)
    model: Any
    if kind == "qwen3":
        model = tf.Qwen3ForCausalLM(
            tf.Qwen3Config(head_dim=head_dim, tie_word_embeddings=True, **common)
        )
    elif kind == "qwen2":
        model = tf.Qwen2ForCausalLM(tf.Qwen2Config(tie_word_embeddings=True, **common))
    elif kind == "gemma2":
        model = tf.Gemma2ForCausalLM(
            tf.Gemma2Config(
                head_dim=head_dim,
                query_pre_attn_scalar=head_dim,
                sliding_window=sliding_window,
                final_logit_softcapping=30.0,
                attn_logit_softcapping=50.0,
                **common,
            )
        )
    elif kind == "gemma":
        model = tf.GemmaForCausalLM(tf.GemmaConfig(head_dim=head_dim, **common))
    else:
        raise ValueError(f"kind must be 'qwen3', 'qwen2', 'gemma2' or 'gemma', got {kind!r}")
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
