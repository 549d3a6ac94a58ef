"""Local cross-encoders on ``transformers`` directly.

Score convention: ``score`` is the model's raw relevance logit (e.g. 6.25 / -2.95 for
``ms-marco-MiniLM-L-6-v2``), the same numbers as a plain ``AutoModelForSequenceClassification``
loop. For 2-logit classifiers it is the positive-class log-odds ``logit[1] - logit[0]``, so
``activation="sigmoid"`` gives exactly the softmax probability of the positive class. With
``activation="sigmoid"`` a 1-logit model's score is ``sigmoid(logit)`` in (0, 1).

Speed: the query is tokenized once per call and each document once (one batched
fast-tokenizer call; the ``token_cache_size`` most recently seen documents' tokens are kept, so
a corpus's documents are tokenized once however many queries they meet), and each pair's
input is put together from the two (``_pair_tokens``: the tokenizer's own special tokens and
truncation, checked at load against its pair encoding). Pairs are sorted by token length and
cut into batches (see ``_batching.plan_batches``); inference runs under
``torch.inference_mode``. BERT / RoBERTa / XLM-R classifiers run without padding work, and
their last layer only for the [CLS] token the classifier reads (``unpad``, see
``_unpadded``; enabled after a load-time self-check against the stock forward).

``fast`` (opt-in, CPU only, never the default) trades exactness for speed; the scores change
slightly, so the order can too. ``fast=True`` picks ``"bf16"`` on CPUs with native bfloat16
arithmetic (AVX512-BF16 / AMX: the matrix products run in bfloat16 under autocast, layer
norms, softmax and the classifier head in fp32, padding still skipped) and ``"int8"``
elsewhere (dynamic int8 quantization of the linear layers; the model then runs padded). On
such a CPU (``benchmarks/rerank_throughput.py``) bf16 is about 1.8-2x the fp32 default with
top-10 agreement 0.9-1.0 against fp32, where int8 is about as fast but keeps only 6-7 of the
fp32 top-10 (random-head models, whose tightly bunched scores make these lower bounds).

Truncation: only the document is truncated (``truncation="only_second"``); the query is kept
whole unless it alone is longer than ``query_max_length`` tokens (default 3/4 of
``max_length``, FlagEmbedding's rule), when its first ``query_max_length`` tokens are kept.
``long_documents="window"`` scores documents longer than the room left by the query as
overlapping windows of their tokens (``window_overlap`` tokens shared) and keeps the best
window's score.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

from rankwise._checks import int_arg, optional_int, positive_int
from rankwise._model_paths import check_device, check_model_path
from rankwise._optional import require
from rankwise.rerankers._batching import plan_batches, token_windows, window_spans
from rankwise.rerankers._local import Activation, FastMode, LocalReranker
from rankwise.rerankers._pair_tokens import PairTemplate, TokenCache
from rankwise.rerankers._unpadded import (
    fused_qkv,
    packed_logits,
    position_offset,
    supported,
)

__all__ = ["Activation", "CrossEncoderReranker", "FastMode", "LongDocuments"]

LongDocuments = Literal["truncate", "window"]
#: Model inputs of a call's pairs: ``input_ids`` (and ``token_type_ids`` where the model reads
#: them), one row per pair, special tokens included, no padding.
Encoded = dict[str, list[Any]]

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def resolve_device(device: str | None) -> str:
    """``None`` -> ``"cuda"`` when available, else ``"cpu"``."""
    torch = require("torch", "transformers", feature="local rerankers")
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or not device:
        raise ValueError(f"device must be a string like 'cpu' or 'cuda:0', got {device!r}")
    return device


def native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (oneDNN's own check)."""
    torch = require("torch", "transformers", feature="local rerankers")
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_fast(fast: FastMode, device: str) -> Literal["bf16", "int8"] | None:
    """``False`` -> exact; ``True`` -> ``"bf16"`` with native bfloat16, else ``"int8"``."""
    if fast is False or fast is None:
        return None
    if fast not in (True, "bf16", "int8"):
        raise ValueError(f"fast must be True, False, 'bf16' or 'int8', got {fast!r}")
    if not device.startswith("cpu"):
        raise ValueError(f"fast={fast!r} is a CPU mode; on {device} use dtype='float16'")
    if fast is True:
        return "bf16" if native_bf16() else "int8"
    return "bf16" if fast == "bf16" else "int8"


def resolve_dtype(dtype: Any, device: str) -> Any:
    """``None`` -> float32 on CPU, float16 on CUDA; accepts names or ``torch.dtype``."""
    torch = require("torch", "transformers", feature="local rerankers")
    if dtype is None:
        return torch.float16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return getattr(torch, _DTYPES[dtype.lower()])
    raise ValueError(
        f"dtype must be None, 'float32', 'float16', 'bfloat16' or a torch.dtype, got {dtype!r}"
    )


class CrossEncoderReranker(LocalReranker):
    """A cross-encoder (``AutoModelForSequenceClassification``) scoring (query, document) pairs.

    Args:
        model_name: hub name or local path.
        device: ``None`` picks CUDA when present.
        batch_size: most pairs per forward call.
        max_length: most tokens per pair (query + document + special tokens).
        activation: ``None`` (raw logit, the default) or ``"sigmoid"``.
        dtype: ``None`` (fp32 on CPU, fp16 on CUDA), ``"float16"``, ``"bfloat16"``, ...
        show_progress: ``None`` shows a bar only for calls of >= 1000 pairs.
        long_documents: ``"truncate"`` (default) or ``"window"`` (max over windows).
        window_overlap: tokens shared by consecutive windows.
        fast: opt-in approximate speed-up on CPU: ``True`` (bf16 where the CPU has native
            bfloat16, else int8), ``"bf16"`` or ``"int8"``; changes the scores slightly.
        batch_overhead: cost of one forward call in token-equivalents for batch planning
            (``None``: length-sorted batches of ``batch_size`` when unpadded or on GPU; 512
            on CPU for models run padded).
        unpad: run BERT/RoBERTa/XLM-R classifiers without padding in the per-token layers
            (``None``: when the architecture is supported and a load-time self-check agrees
            with the stock forward). Scores are unchanged (same weights, same math).
        query_max_length: longest query in tokens (default ``max_length * 3 // 4``).
        token_cache_size: documents whose token ids are kept, keyed by text, most recently
            used first (0 disables the cache); at most ``max_length`` tokens each with
            ``long_documents="truncate"``.
        trust_remote_code: as for ``transformers``' ``from_pretrained``.
        model, tokenizer: an already loaded model and tokenizer (``model_name`` then only names
            them).
        config: the model's already loaded ``transformers`` config, so that loading the
            tokenizer and the model does not read it again.
    """

    _label = "cross-encoder"

    def __init__(
        self,
        model_name: str = "cross-encoder/ms-marco-MiniLM-L-6-v2",
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        activation: Activation = None,
        dtype: Any = None,
        show_progress: bool | None = None,
        long_documents: LongDocuments = "truncate",
        window_overlap: int = 64,
        fast: FastMode = False,
        batch_overhead: float | None = None,
        query_max_length: int | None = None,
        unpad: bool | None = None,
        token_cache_size: int = 10_000,
        trust_remote_code: bool = False,
        model: Any = None,
        tokenizer: Any = None,
        config: Any = None,
    ) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise ValueError("model_name must be a non-empty string")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.max_length = positive_int(max_length, "max_length")
        if activation not in (None, "sigmoid"):
            raise ValueError(f"activation must be None or 'sigmoid', got {activation!r}")
        if long_documents not in ("truncate", "window"):
            raise ValueError(
                f"long_documents must be 'truncate' or 'window', got {long_documents!r}"
            )
        int_arg(window_overlap, "window_overlap", minimum=0)
        optional_int(query_max_length, "query_max_length")
        int_arg(token_cache_size, "token_cache_size", minimum=0)
        if show_progress not in (None, True, False):
            raise ValueError(f"show_progress must be None, True or False, got {show_progress!r}")
        torch = require("torch", "transformers", feature=type(self).__name__)
        transformers = require("transformers", "transformers", feature=type(self).__name__)
        self.model_name = model_name
        self.activation = activation
        self.long_documents: LongDocuments = long_documents
        self.window_overlap = window_overlap
        self.show_progress = show_progress
        self.query_max_length = query_max_length or max(1, self.max_length * 3 // 4)
        self.device = resolve_device(device)
        self.fast_mode = resolve_fast(fast, self.device)
        self.dtype = torch.float32 if self.fast else resolve_dtype(dtype, self.device)
        check_device(self.device)
        if model is None or tokenizer is None:
            check_model_path(model_name, "model_name")

        loaded = {} if config is None else {"config": config}
        self.tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(
            model_name, trust_remote_code=trust_remote_code, **loaded
        )
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{model_name}: a fast (Rust) tokenizer is required")
        net = model or transformers.AutoModelForSequenceClassification.from_pretrained(
            model_name, trust_remote_code=trust_remote_code, **loaded
        )
        num_labels = int(getattr(net.config, "num_labels", 1))
        if num_labels not in (1, 2):
            raise ValueError(f"{model_name} has {num_labels} labels; a reranker needs 1 or 2")
        self.num_labels = num_labels
        net.eval()
        net.to(device=self.device, dtype=self.dtype)
        if self.fast_mode == "int8":
            with warnings.catch_warnings():  # torch marks eager quantization as deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                net = torch.ao.quantization.quantize_dynamic(
                    net, {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model = net
        self._input_names = self._model_inputs()
        self._pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self._pair_specials = self._count_pair_specials()
        #: how pairs are put together from separately tokenized texts (``None``: this
        #: tokenizer's pairs are not reproduced exactly, so it encodes every pair itself)
        self._template = PairTemplate.learn(self.tokenizer)
        self._tokens = TokenCache(self.tokenizer, token_cache_size)
        self._qkv: list[tuple[Any, Any]] | None = None
        self._position_offset = 0
        if unpad is None:
            self._qkv = self._checked_qkv() if supported(self.model) else None
        elif unpad:
            if not supported(self.model):
                raise ValueError(f"unpad=True is not supported for {type(self.model).__name__}")
            self._position_offset = position_offset(self.model)
            self._qkv = fused_qkv(self.model)
        self.unpad = self._qkv is not None
        if batch_overhead is None:
            # Unpadded: padding only costs attention, so fewer, fuller calls win. Padded on CPU:
            # trade padding against per-call cost (measured: 512 token-equivalents).
            cpu = self.device.startswith("cpu")
            batch_overhead = 512.0 if cpu and not self.unpad else float("inf")
        self.batch_overhead = float(batch_overhead)

    # ----------------------------------------------------------------------------------
    def _model_inputs(self) -> tuple[str, ...]:
        names = ["input_ids", "attention_mask"]
        tok_names = getattr(self.tokenizer, "model_input_names", [])
        uses_types = int(getattr(self.model.config, "type_vocab_size", 0) or 0) > 1
        if "token_type_ids" in tok_names and uses_types:
            names.append("token_type_ids")
        return tuple(names)

    def _checked_qkv(self) -> list[tuple[Any, Any]] | None:
        """Self-check at load time: the fused projections for the unpadded path when it
        reproduces the stock forward (through the same packing :meth:`_forward` uses), else
        ``None``."""
        torch = require("torch", "transformers")
        enc = self.tokenizer(["a b c", "b"], ["a b c d e f g", "c"], return_token_type_ids=True)
        rows: Encoded = {k: list(v) for k, v in enc.items() if k in self._input_names}
        rows.pop("attention_mask", None)
        padded = self.tokenizer(
            ["a b c", "b"], ["a b c d e f g", "c"], padding=True, return_tensors="pt"
        )
        inputs = {k: v.to(self.device) for k, v in padded.items() if k in self._input_names}
        try:
            qkv = fused_qkv(self.model)
            self._position_offset = position_offset(self.model)
            with torch.inference_mode():
                ref = self.model(**inputs).logits.float()
                got = self._packed_logits(rows, [0, 1], qkv).float()
        except (AttributeError, RuntimeError, TypeError, ValueError, KeyError):
            return None
        tol = 1e-3 if self.dtype == torch.float32 else 5e-2
        agrees = got.shape == ref.shape and torch.allclose(got, ref, atol=tol, rtol=tol)
        return qkv if agrees else None

    def _count_pair_specials(self) -> int:
        with_specials = self.tokenizer("a", "a", add_special_tokens=True)["input_ids"]
        without = self.tokenizer("a", "a", add_special_tokens=False)["input_ids"]
        return len(with_specials) - len(without)

    # ----------------------------------------------------------------------------------
    def _pairs(self, query: str, documents: list[str]) -> tuple[Encoded, list[int]]:
        """Model inputs of every pair to score and the document each pair belongs to (several
        pairs per document with ``long_documents="window"``). Thread-safe."""
        if self._template is None:
            with self._tokens.lock:  # a fast tokenizer is not safe in two threads at once
                q_text, q_tokens = self._prepare_query(query)
                pieces, owner = self._pieces(q_tokens, documents)
                return self._encode(q_text, pieces), owner
        template = self._template
        q = self._tokens.query(query)[: self.query_max_length]
        truncate = self.long_documents == "truncate"
        # a truncated pair never holds more than max_length of a document's tokens
        rows = self._tokens.documents(documents, self.max_length if truncate else None)
        room = self.max_length - len(q) - template.specials
        spans: list[list[tuple[int, int]]]
        if truncate:
            if room < 1 and any(len(d) > room for d in rows):
                raise ValueError(
                    f"max_length={self.max_length} leaves no room for a document after the "
                    f"{len(q)}-token query and {template.specials} special tokens"
                )
            spans = [[(0, min(len(d), room))] for d in rows]
        else:
            window = max(1, room)
            spans = [token_windows(len(d), window, self.window_overlap) for d in rows]
        ids: list[Any] = []
        types: list[Any] = []
        with_types = "token_type_ids" in self._input_names
        owner = []
        for i, (d, cuts) in enumerate(zip(rows, spans, strict=True)):
            for start, end in cuts:
                ids.append(template.build(q, d[start:end]))
                if with_types:
                    types.append(template.types(len(q), end - start))
                owner.append(i)
        encoded: Encoded = {"input_ids": ids}
        if with_types:
            encoded["token_type_ids"] = types
        return encoded, owner

    # the tokenizer's own pair encoding: tokenizers whose pairs the template cannot rebuild
    def _prepare_query(self, query: str) -> tuple[str, int]:
        """The query text to pair (cut to ``query_max_length`` tokens) and its token count."""
        ids = self.tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"]
        if len(ids) <= self.query_max_length:
            return query, len(ids)
        cut = ids[: self.query_max_length]
        return self.tokenizer.decode(cut, skip_special_tokens=False), len(cut)

    def _pieces(self, query_tokens: int, documents: list[str]) -> tuple[list[str], list[int]]:
        """Text pieces to score and the document each belongs to (windows when asked)."""
        if self.long_documents == "truncate":
            return documents, list(range(len(documents)))
        room = max(1, self.max_length - query_tokens - self._pair_specials)
        # whole documents are measured on purpose (to cut windows): verbose=False keeps
        # transformers from warning that they exceed the model's length
        enc = self.tokenizer(
            documents, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        pieces: list[str] = []
        owner: list[int] = []
        for i, (doc, offsets) in enumerate(zip(documents, enc["offset_mapping"], strict=True)):
            if len(offsets) <= room:
                pieces.append(doc)
                owner.append(i)
                continue
            for start, end in window_spans(offsets, room, self.window_overlap):
                pieces.append(doc[start:end])
                owner.append(i)
        return pieces, owner

    def _encode(self, query: str, pieces: list[str]) -> Encoded:
        return dict(
            self.tokenizer(
                [query] * len(pieces),
                pieces,
                truncation="only_second",
                max_length=self.max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids="token_type_ids" in self._input_names,
            )
        )

    def _packed_logits(self, encoded: Encoded, batch: list[int], qkv: Any = None) -> Any:
        """Logits of the pairs ``batch`` of ``encoded`` on the unpadded path: the pairs' tokens
        packed one after another, nothing padded."""
        import numpy as np

        torch = require("torch", "transformers")
        ids = encoded["input_ids"]
        rows = [ids[i] for i in batch]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        flat = np.concatenate(rows).astype(np.int64, copy=False)
        starts = np.cumsum(lengths) - lengths
        positions = np.arange(len(flat), dtype=np.int64) - np.repeat(starts, lengths)
        positions += self._position_offset
        types = encoded.get("token_type_ids")
        flat_types = None
        if types is not None:
            flat_types = np.concatenate([types[i] for i in batch]).astype(np.int64, copy=False)
            flat_types = torch.from_numpy(flat_types).to(self.device)
        return packed_logits(
            self.model,
            torch.from_numpy(flat).to(self.device),
            flat_types,
            torch.from_numpy(positions).to(self.device),
            torch.from_numpy(lengths).to(self.device),
            qkv if qkv is not None else self._qkv,
        )

    def _padded_logits(self, encoded: Encoded, batch: list[int]) -> Any:
        """Logits of the pairs ``batch`` of ``encoded`` through the stock forward (padded)."""
        import numpy as np

        torch = require("torch", "transformers")
        ids = encoded["input_ids"]
        types = encoded.get("token_type_ids")
        width = max(len(ids[i]) for i in batch)
        arr = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        tt = np.zeros((len(batch), width), dtype=np.int64) if types is not None else None
        for row, i in enumerate(batch):
            n = len(ids[i])
            arr[row, :n] = ids[i]
            mask[row, :n] = 1
            if tt is not None and types is not None:
                tt[row, :n] = types[i]
        inputs = {
            "input_ids": torch.from_numpy(arr).to(self.device),
            "attention_mask": torch.from_numpy(mask).to(self.device),
        }
        if tt is not None:
            inputs["token_type_ids"] = torch.from_numpy(tt).to(self.device)
        return self.model(**inputs).logits

    def _forward(self, encoded: Encoded, batches: list[list[int]]) -> list[float]:
        """Raw scores for every encoded pair (input order)."""
        torch = require("torch", "transformers")
        out = [0.0] * len(encoded["input_ids"])
        iterator: Any = batches
        if self._shows_progress(len(out)):
            from tqdm.auto import tqdm

            iterator = tqdm(batches, desc=f"rerank {self.model_name}", unit="batch")
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.fast_mode == "bf16")
        with torch.inference_mode(), autocast:
            for batch in iterator:
                if self.unpad:
                    logits = self._packed_logits(encoded, batch).float()
                else:
                    logits = self._padded_logits(encoded, batch).float()
                scores = logits[:, 1] - logits[:, 0] if self.num_labels == 2 else logits[:, 0]
                for row, value in zip(batch, scores.cpu().tolist(), strict=True):
                    out[row] = float(value)
        return out

    def _raw_scores(self, query: str, documents: list[str]) -> list[float]:
        encoded, owner = self._pairs(query, documents)
        lengths = [len(x) for x in encoded["input_ids"]]
        batches = plan_batches(lengths, self.batch_size, self.batch_overhead)
        piece_scores = self._forward(encoded, batches)
        if len(owner) == len(documents):
            return piece_scores
        best = [-math.inf] * len(documents)
        for o, s in zip(owner, piece_scores, strict=True):
            if s > best[o]:
                best[o] = s
        return best

    def _score(self, query: str, documents: list[str]) -> list[float]:
        raw = self._raw_scores(query, documents)
        if self.activation == "sigmoid":
            return [_sigmoid(s) for s in raw]
        return raw
