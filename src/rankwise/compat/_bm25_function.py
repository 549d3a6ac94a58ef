"""pymilvus-model's ``BM25EmbeddingFunction`` with rankwise's offline analyzers.

pymilvus-model splits BM25 into two sparse vectors whose dot product is the BM25 score: a
document vector holds each term's saturated, length-normalised frequency
``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` and a query vector holds each query
term's IDF ``log((N - df + 0.5) / (df + 0.5))`` (a term in more than half of the documents,
whose IDF would be negative, gets ``epsilon`` times the average IDF instead; a repeated query
term counts each time). Both live in one column space, one column per fitted term. This class
keeps those formulas, parameters (``k1=1.5, b=0.75, epsilon=0.25``), methods and file format
(``save``/``load`` JSON, version ``v1``) so fitted files move both ways.

The difference is the analyzer: pymilvus-model's default runs NLTK's tokenizer, NLTK's
stop-word list and stemmer, and downloads NLTK data at run time (it fails offline).
:func:`build_default_analyzer` builds rankwise's Milvus-style analyzer instead (standard
tokenizer, lowercase, the language's Snowball stemmer, Lucene's English stop words), which
needs no download. Any callable ``str -> list[str]`` works as ``analyzer``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankwise._checks import number_arg
from rankwise.bm25.analyzer import Analyzer

__all__ = ["BM25EmbeddingFunction", "build_default_analyzer"]

#: pymilvus-model's language codes -> Snowball stemmer names.
_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "ru": "russian",
    "sp": "spanish",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
}


def build_default_analyzer(language: str = "en") -> Analyzer:
    """The analyzer for ``language`` (pymilvus-model's codes: ``en``, ``de``, ``fr``, ``ru``,
    ``sp``, ``it``, ``pt``; ``zh`` uses jieba). English drops Lucene's 33 stop words."""
    if language == "zh":
        return Analyzer("chinese")
    stemmer = _LANGUAGES.get(language)
    if stemmer is None:
        raise ValueError(f"language must be one of {sorted([*_LANGUAGES, 'zh'])}, got {language!r}")
    filters: list[Any] = ["lowercase"]
    if language == "en":
        filters.append({"type": "stop", "stop_words": "_english_"})
    filters.append({"type": "stemmer", "language": stemmer})
    return Analyzer({"tokenizer": "standard", "filter": filters})


def _scipy_sparse() -> Any:
    from rankwise._optional import require

    return require("scipy.sparse", "milvus", feature="BM25EmbeddingFunction")


class BM25EmbeddingFunction:
    """Fit BM25 statistics on a corpus; encode documents and queries as sparse vectors.

    Args:
        analyzer: ``str -> list[str]``; ``None`` = :func:`build_default_analyzer` (English).
        corpus: fit on these documents right away.
        k1, b: BM25 saturation and length normalisation (pymilvus-model's defaults).
        epsilon: IDF floor for very common terms, as a share of the average IDF.
        num_workers: accepted for compatibility; analysis runs in this process.
    """

    def __init__(
        self,
        analyzer: Callable[[str], list[str]] | None = None,
        corpus: Sequence[str] | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        num_workers: int = 1,
    ) -> None:
        if analyzer is not None and not callable(analyzer):
            raise ValueError(f"analyzer must be callable (str -> list[str]), got {analyzer!r}")
        number_arg(k1, "k1", minimum=0.0)
        number_arg(b, "b", minimum=0.0, maximum=1.0)
        number_arg(epsilon, "epsilon", minimum=0.0)
        self.analyzer: Callable[[str], list[str]] = analyzer or build_default_analyzer("en")
        self.k1 = float(k1)
        self.b = float(b)
        self.epsilon = float(epsilon)
        self.num_workers = num_workers
        self.corpus_size = 0
        self.avgdl = 0.0
        #: term -> [idf, column]
        self.idf: dict[str, list[float | int]] = {}
        if corpus is not None:
            self.fit(corpus)

    @property
    def dim(self) -> int:
        """Number of columns: the terms seen by :meth:`fit` (or :meth:`load`)."""
        return len(self.idf)

    def _analyze(self, texts: Sequence[str], argument: str) -> list[list[str]]:
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise ValueError(f"{argument} must be a list of strings, got {type(texts).__name__}")
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"{argument}[{i}] must be a string, got {type(text).__name__}")
            out.append(list(self.analyzer(text)))
        return out

    def fit(self, corpus: Sequence[str]) -> None:
        """Compute document frequencies, IDF and the average document length of ``corpus``."""
        docs = self._analyze(corpus, "corpus")
        if not docs:
            raise ValueError("corpus must hold at least one document")
        df: Counter[str] = Counter()
        for tokens in docs:  # columns in order of first appearance, as pymilvus-model numbers them
            df.update(list(dict.fromkeys(tokens)))
        n = len(docs)
        idf: dict[str, list[float | int]] = {}
        negative = []
        for column, (term, freq) in enumerate(df.items()):
            value = math.log(n - freq + 0.5) - math.log(freq + 0.5)
            idf[term] = [value, column]
            if value < 0:
                negative.append(term)
        average = sum(float(v[0]) for v in idf.values()) / len(idf) if idf else 0.0
        for term in negative:
            idf[term][0] = self.epsilon * average
        self.idf = idf
        self.corpus_size = n
        self.avgdl = sum(len(t) for t in docs) / n

    def _check_fitted(self) -> None:
        if not self.idf:
            raise ValueError("BM25EmbeddingFunction is not fitted: call fit(corpus) or load(path)")

    def _matrix(self, rows: list[dict[int, float]]) -> Any:
        sparse = _scipy_sparse()
        data: list[float] = []
        cols: list[int] = []
        indptr = [0]
        for row in rows:
            for col in sorted(row):
                cols.append(col)
                data.append(row[col])
            indptr.append(len(cols))
        return sparse.csr_array(
            (np.asarray(data, dtype=np.float32), np.asarray(cols, dtype=np.int64), indptr),
            shape=(len(rows), len(self.idf)),
        )

    def encode_documents(self, documents: Sequence[str]) -> Any:
        """``(len(documents), dim)`` ``scipy.sparse.csr_array`` of BM25 term weights."""
        self._check_fitted()
        rows = []
        k1, b, avgdl = self.k1, self.b, self.avgdl or 1.0
        for tokens in self._analyze(documents, "documents"):
            norm = k1 * (1 - b + b * len(tokens) / avgdl)
            row: dict[int, float] = {}
            for term, tf in Counter(tokens).items():
                entry = self.idf.get(term)
                if entry is not None:
                    row[int(entry[1])] = tf * (k1 + 1) / (tf + norm)
            rows.append(row)
        return self._matrix(rows)

    def encode_queries(self, queries: Sequence[str]) -> Any:
        """``(len(queries), dim)`` ``scipy.sparse.csr_array`` of IDF weights (repeats add up)."""
        self._check_fitted()
        rows = []
        for tokens in self._analyze(queries, "queries"):
            row: dict[int, float] = {}
            for term in tokens:
                entry = self.idf.get(term)
                if entry is not None:
                    col = int(entry[1])
                    row[col] = row.get(col, 0.0) + float(entry[0])
            rows.append(row)
        return self._matrix(rows)

    def __call__(self, texts: Sequence[str]) -> Any:
        raise ValueError(
            "BM25EmbeddingFunction has no __call__: use encode_documents() or encode_queries()"
        )

    def save(self, path: str | Path) -> None:
        """Write the fitted statistics as pymilvus-model's JSON (version ``v1``)."""
        self._check_fitted()
        words: list[str] = [""] * len(self.idf)
        values: list[float] = [0.0] * len(self.idf)
        for term, (value, column) in self.idf.items():
            words[int(column)] = term
            values[int(column)] = float(value)
        params = {
            "version": "v1",
            "corpus_size": self.corpus_size,
            "avgdl": self.avgdl,
            "idf_word": words,
            "idf_value": values,
            "k1": self.k1,
            "b": self.b,
            "epsilon": self.epsilon,
        }
        Path(path).write_text(json.dumps(params), encoding="utf-8")

    def load(self, path: str | Path | None = None) -> None:
        """Read statistics written by :meth:`save` (or by pymilvus-model).

        pymilvus-model downloads an MS MARCO file when ``path`` is None; rankwise never
        downloads at run time, so ``path`` is required.
        """
        if path is None:
            raise ValueError(
                "path is required: rankwise does not download bm25_msmarco_v1.json; fetch it "
                "once and pass its path"
            )
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"path: no such file: {file}")
        try:
            params = json.loads(file.read_text(encoding="utf-8"))
            words, values = params["idf_word"], params["idf_value"]
            if len(words) != len(values):
                raise ValueError("idf_word and idf_value differ in length")
            pairs = enumerate(zip(words, values, strict=True))
            self.idf = {str(w): [float(v), i] for i, (w, v) in pairs}
            self.corpus_size = int(params["corpus_size"])
            self.avgdl = float(params["avgdl"])
            self.k1 = float(params["k1"])
            self.b = float(params["b"])
            self.epsilon = float(params["epsilon"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"path: {file} is not a BM25EmbeddingFunction file: {exc}") from None
