"""Test doubles shared by the LangChain tests: fixed-list retrievers, a counting reranker and
a deterministic concept embedding (the in-memory store double is
``rankwise.testing.stores.WordCountStore``, which the TextStore contract suite also runs).

The module name is unique in the repository so that the root pytest run (every tests folder
at once) cannot confuse it with another folder's ``conftest``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_rankwise import RankwiseBM25Retriever
from pydantic import Field

from rankwise.rerankers.base import BaseReranker

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class ListRetriever(BaseRetriever):
    """Returns a fixed list of documents (after an optional delay), recording its threads."""

    docs: list[Document]
    delay: float = 0.0
    threads: list[int] = Field(default_factory=list)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        self.threads.append(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        return list(self.docs)

    async def _aget_relevant_documents(self, query: str, *, run_manager: object) -> list[Document]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return list(self.docs)


class OverlapReranker(BaseReranker):
    """Scores by shared words; counts calls; optional async delay to check concurrency."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    @property
    def name(self) -> str:
        return "test:overlap"

    def _score(self, query: str, documents: list[str]) -> list[float]:
        self.calls += 1
        q = set(words(query))
        return [len(q.intersection(words(d))) + 1.0 / (1 + len(d)) for d in documents]

    async def _ascore(self, query: str, documents: list[str]) -> list[float]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._score(query, documents)


#: Words that mean the same thing map to one concept axis, so the fake embedding finds
#: paraphrases that share no word with the query (which BM25 cannot).
CONCEPTS: dict[str, int] = {}
for axis, group in enumerate(
    [
        ("car", "automobile", "vehicle", "cars"),
        ("repair", "maintenance", "fix", "servicing"),
        ("dog", "puppy", "canine", "dogs"),
        ("food", "nutrition", "diet", "meal"),
        ("ocean", "sea", "marine"),
        ("fish", "salmon", "trout"),
        ("rocket", "launch", "spacecraft"),
        ("price", "cost", "expensive"),
    ]
):
    for w in group:
        CONCEPTS[w] = axis
DIM = 16


class ConceptEmbedding(Embeddings):
    """Deterministic bag-of-concepts embedding: synonyms share an axis; other words hash."""

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * DIM
        for w in words(text):
            axis = CONCEPTS.get(w)
            if axis is None:
                axis = 8 + sum(map(ord, w)) % (DIM - 8)
            vec[axis] += 1.0
        return vec

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


def docs_with_ids(texts: Sequence[str], prefix: str = "d") -> list[Document]:
    return [
        Document(page_content=t, id=f"{prefix}{i}", metadata={"n": i}) for i, t in enumerate(texts)
    ]


CORPUS = [
    "BM25 ranks documents by term frequency and inverse document frequency",
    "A cross-encoder reranker scores each query and document pair jointly",
    "Reciprocal rank fusion merges ranked lists from several retrievers",
    "Milvus stores sparse vectors and runs full text search with BM25",
    "The automobile needs maintenance every ten thousand kilometres",
    "Salmon and trout live in cold rivers and the ocean",
    "Part number XJ9000 fits the rear axle assembly",
    "Dense embeddings capture meaning beyond exact word overlap",
]


def corpus_documents() -> list[Document]:
    return [
        Document(page_content=t, id=f"doc{i}", metadata={"n": i, "even": i % 2 == 0})
        for i, t in enumerate(CORPUS)
    ]


def make_bm25(docs: Sequence[Document] | None = None, k: int = 4) -> RankwiseBM25Retriever:
    """A BM25 retriever over the embedded rankwise.BM25Index."""
    docs = corpus_documents() if docs is None else list(docs)
    return RankwiseBM25Retriever.from_documents(docs, k=k, show_progress=False)
