"""The exact in-memory dense index, with a deterministic fake embedder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from rankwise.dense import DenseIndex
from rankwise.types import FilterNotSupportedError, Hit


class HashEmbedder:
    """Bag of hashed words -> 16-d vector: deterministic, no model."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % 16] += 1.0 + (h >> 8) % 3
        return out


TEXTS = ["red apple pie", "green apple", "blue sky high", "red red sky", "deep blue sea"]


def brute(index_texts: list[str], query: str, k: int) -> list[str]:
    emb = HashEmbedder()
    m = emb.encode(index_texts)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    q = emb.encode([query])[0]
    q = q / max(np.linalg.norm(q), 1e-12)
    s = m @ q
    order = sorted((i for i in range(len(index_texts)) if s[i] > 0), key=lambda i: (-s[i], i))
    return [str(i) for i in order[:k]]  # the TextStore contract: only positive scores


@pytest.fixture
def index() -> DenseIndex:
    idx = DenseIndex(HashEmbedder())
    idx.add(
        TEXTS, ids=[str(i) for i in range(len(TEXTS))], metadatas=[{"n": i % 2} for i in range(5)]
    )
    return idx


@pytest.mark.parametrize("query", ["red apple", "blue", "sky sea", "nothing matches here"])
def test_exact_top_k(index: DenseIndex, query: str) -> None:
    for k in (1, 3, 5, 10):
        hits = index.search(query, k=k)
        assert [h.id for h in hits] == brute(TEXTS, query, k)
        assert all(isinstance(h, Hit) for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_scores_are_cosines(index: DenseIndex) -> None:
    hit = index.search("red apple pie", k=1)[0]
    assert hit.id == "0"
    assert hit.score == pytest.approx(1.0, abs=1e-6)
    assert hit.text == "red apple pie"
    assert hit.metadata == {"n": 0}


def test_filters(index: DenseIndex) -> None:
    q = "red apple blue sky sea"  # shares a word with every document
    assert len(index.search(q, k=10)) == 5
    assert {h.id for h in index.search(q, k=10, filter={"n": 1})} == {"1", "3"}
    assert {h.id for h in index.search(q, k=10, filter=lambda md: md["n"] == 0)} == {
        "0",
        "2",
        "4",
    }
    ids = index.search(q, k=2, filter={"2", "4", "missing"})
    assert sorted(h.id for h in ids) == ["2", "4"]
    assert index.search(q, k=3, filter={"n": 5}) == []
    with pytest.raises(ValueError, match="filter"):
        index.search("red", filter=3)  # type: ignore[arg-type]
    with pytest.raises(FilterNotSupportedError, match="DenseIndex cannot apply an expression"):
        index.search("red", filter='metadata["n"] == 1')


def test_delete_upsert_get(index: DenseIndex) -> None:
    assert index.delete(["0", "nope"]) == 1
    assert len(index) == 4
    assert "0" not in [h.id for h in index.search("red apple pie", k=10)]
    index.upsert(["red apple pie again"], ids=["3"])
    assert index.get(["3", "x"])[0].text == "red apple pie again"
    rest = [TEXTS[1], TEXTS[2], TEXTS[4], "red apple pie again"]
    got = [h.id for h in index.search("apple", k=4)]
    expected = [["1", "2", "4", "3"][int(i)] for i in brute(rest, "apple", 4)]
    assert got == expected


def test_precomputed_embeddings_and_vector_search() -> None:
    idx = DenseIndex()
    idx.add(["a", "b"], ids=["a", "b"], embeddings=[[1.0, 0.0], [0.6, 0.8]])
    assert [h.id for h in idx.search_by_vector([0.2, 1.0], k=2)] == ["b", "a"]
    assert [h.id for h in idx.search_by_vector([0.0, 1.0], k=2)] == ["b"]  # cosine 0: no hit
    with pytest.raises(ValueError, match="no embedder"):
        idx.search("text")
    with pytest.raises(ValueError, match="dimension"):
        idx.add(["c"], ids=["c"], embeddings=[[1.0, 0.0, 0.0]])


def test_bad_input_and_empty(index: DenseIndex) -> None:
    assert DenseIndex(HashEmbedder()).search("x") == []
    assert index.search("   ") == []
    with pytest.raises(ValueError, match="k must be"):
        index.search("red", k=0)
    with pytest.raises(ValueError, match="already in the index"):
        index.add(["x"], ids=["1"])
    with pytest.raises(ValueError, match="duplicate id"):
        index.add(["x", "y"], ids=["z", "z"])
    with pytest.raises(ValueError, match="ids has"):
        index.add(["x", "y"], ids=["z"])
    with pytest.raises(ValueError, match=r"texts\[0\]"):
        index.add([None], ids=["q"])  # type: ignore[list-item]
