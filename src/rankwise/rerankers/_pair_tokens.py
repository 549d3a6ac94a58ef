"""(query, document) model inputs built from one tokenization of each text.

Why: a fast tokenizer encodes a pair by encoding each of its two texts on its own and then
adding the special tokens around them (``[CLS] q [SEP] d [SEP]``; ``<s> q </s></s> d </s>``)
and truncating the second. So the query is tokenized once per call instead of once per
document, each document once however many queries it meets (:class:`TokenCache`: a server
reranking candidates from one corpus sees the same documents again and again), and a long
document's windows are slices of its one encoding. This is also FlagEmbedding's recipe
(separate encodings joined by ``prepare_for_model``).

:class:`PairTemplate` learns where a tokenizer puts its special tokens and token types from
one probe pair, then checks itself against the tokenizer's own pair encoding (with and
without truncation); a tokenizer it cannot reproduce gets ``None`` and the caller keeps
encoding pairs with the tokenizer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PairTemplate", "TokenCache", "encode_text", "encode_texts"]

IdArray = npt.NDArray[np.int64]
#: what the cache keeps (half the memory; widened when a pair is built)
StoredIds = npt.NDArray[np.int32]

#: Probe pairs the template must reproduce exactly (ids and token types), each at full
#: length and truncated to a few ``max_length`` values.
_PROBES = (
    ("a b c", "d e f g h i j"),
    ("what is the capital of france?", "Paris is the capital and largest city of France."),
    ("x", "one two three four five six seven eight nine ten eleven twelve"),
)


def _ids(values: Sequence[int]) -> IdArray:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class PairTemplate:
    """Special tokens and token types around a (query, document) pair's own tokens."""

    prefix: IdArray
    middle: IdArray
    suffix: IdArray
    prefix_types: IdArray
    middle_types: IdArray
    suffix_types: IdArray
    query_type: int
    document_type: int

    @property
    def specials(self) -> int:
        """Special tokens a pair adds (what ``max_length`` must leave room for)."""
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    def build(self, query: IdArray, document: Any) -> IdArray:
        """The pair's input ids (nothing is truncated here)."""
        return np.concatenate((self.prefix, query, self.middle, document, self.suffix))

    def types(self, query_tokens: int, document_tokens: int) -> IdArray:
        """The pair's token type ids."""
        return np.concatenate(
            (
                self.prefix_types,
                np.full(query_tokens, self.query_type, dtype=np.int64),
                self.middle_types,
                np.full(document_tokens, self.document_type, dtype=np.int64),
                self.suffix_types,
            )
        )

    @classmethod
    def learn(cls, tokenizer: Any) -> PairTemplate | None:
        """The template of ``tokenizer`` (a ``transformers`` fast tokenizer), or ``None`` when
        its pair encoding is not ``specials + query + specials + document + specials`` with
        ``only_second`` truncation cutting the document's tail."""
        try:
            template = cls._from_probe(tokenizer, *_PROBES[0])
            if template is None:
                return None
            for query, document in _PROBES:
                q = encode_text(tokenizer, query)
                d = encode_text(tokenizer, document)
                full = len(q) + len(d) + template.specials
                for max_length in (full, full - 1, full - len(d) + 1):
                    if not template._agrees(tokenizer, query, document, q, d, max_length):
                        return None
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None
        return template

    @classmethod
    def _from_probe(cls, tokenizer: Any, query: str, document: str) -> PairTemplate | None:
        enc = tokenizer(query, document, return_token_type_ids=True, verbose=False)
        ids = list(enc["input_ids"])
        types = list(enc.get("token_type_ids") or [0] * len(ids))
        sequence = enc.sequence_ids()
        parts: dict[Any, list[int]] = {}
        for position, owner in enumerate(sequence):
            parts.setdefault(owner, []).append(position)
        q_pos, d_pos = parts.get(0, []), parts.get(1, [])
        if not q_pos or not d_pos or set(parts) - {None, 0, 1}:
            return None
        # the query and the document each one unbroken run, the query first
        if q_pos != list(range(q_pos[0], q_pos[-1] + 1)):
            return None
        if d_pos != list(range(d_pos[0], d_pos[-1] + 1)) or d_pos[0] <= q_pos[-1]:
            return None
        if [ids[i] for i in q_pos] != encode_text(tokenizer, query).tolist():
            return None
        if [ids[i] for i in d_pos] != encode_text(tokenizer, document).tolist():
            return None
        q_types = {types[i] for i in q_pos}
        d_types = {types[i] for i in d_pos}
        if len(q_types) != 1 or len(d_types) != 1:
            return None
        a, b, c, e = q_pos[0], q_pos[-1] + 1, d_pos[0], d_pos[-1] + 1
        return cls(
            prefix=_ids(ids[:a]),
            middle=_ids(ids[b:c]),
            suffix=_ids(ids[e:]),
            prefix_types=_ids(types[:a]),
            middle_types=_ids(types[b:c]),
            suffix_types=_ids(types[e:]),
            query_type=q_types.pop(),
            document_type=d_types.pop(),
        )

    def _agrees(
        self, tokenizer: Any, query: str, document: str, q: IdArray, d: IdArray, max_length: int
    ) -> bool:
        enc = tokenizer(
            query,
            document,
            truncation="only_second",
            max_length=max_length,
            return_token_type_ids=True,
            verbose=False,
        )
        kept = d[: max_length - len(q) - self.specials]
        want_types = enc.get("token_type_ids")
        return self.build(q, kept).tolist() == list(enc["input_ids"]) and (
            want_types is None or self.types(len(q), len(kept)).tolist() == list(want_types)
        )


def encode_text(tokenizer: Any, text: str) -> IdArray:
    """One text's token ids without special tokens (no truncation)."""
    return encode_texts(tokenizer, [text])[0]


def encode_texts(tokenizer: Any, texts: list[str]) -> list[IdArray]:
    """Token ids of several texts without special tokens (one batched tokenizer call)."""
    rows = tokenizer(
        texts,
        add_special_tokens=False,
        truncation=False,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,
    )["input_ids"]
    return [_ids(r) for r in rows]


class TokenCache:
    """Documents' token ids by text, the ``size`` most recently used (0: no cache).

    Why: a reranker behind a search engine scores candidates drawn from one corpus, so the
    same documents come back query after query; tokenizing them is a large share of a small
    model's work. Thread-safe; the tokenizer itself is called under ``lock``, since a fast
    tokenizer is not safe to call from two threads at once.
    """

    def __init__(self, tokenizer: Any, size: int) -> None:
        self.tokenizer = tokenizer
        self.size = size
        #: tokens kept per document (``None``: all), as the last call asked
        self.keep: int | None = None
        self.lock = threading.Lock()
        self._rows: OrderedDict[str, StoredIds] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def query(self, text: str) -> IdArray:
        """A query's token ids (never cached: queries rarely repeat)."""
        with self.lock:
            return encode_text(self.tokenizer, text)

    def documents(self, texts: list[str], keep: int | None = None) -> list[StoredIds]:
        """Token ids of every text (input order; the first ``keep`` tokens of each, all with
        ``None``), tokenizing only the ones not cached."""
        with self.lock:
            if keep != self.keep:  # rows cut for another length: none of them will do
                self._rows.clear()
                self.keep = keep
            rows = self._rows
            if self.size == 0:
                return [self._cut(r) for r in encode_texts(self.tokenizer, texts)]
            found: dict[str, StoredIds] = {}
            missing: list[str] = []
            for t in texts:
                cached = rows.get(t)
                if cached is None:
                    missing.append(t)
                else:
                    rows.move_to_end(t)
                    found[t] = cached
            self.hits += len(found)
            if missing:
                missing = list(dict.fromkeys(missing))
                self.misses += len(missing)
                for t, ids in zip(missing, encode_texts(self.tokenizer, missing), strict=True):
                    found[t] = rows[t] = self._cut(ids)
                while len(rows) > self.size:
                    rows.popitem(last=False)
            return [found[t] for t in texts]

    def _cut(self, row: IdArray) -> StoredIds:
        return row[: self.keep].astype(np.int32)
