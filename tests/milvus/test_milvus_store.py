"""MilvusBM25Store on embedded Milvus Lite: the TextStore contract, filters, schema checks, hybrid.

Every test gets its own ``.db`` under tmp_path; collections stay tiny (Lite is pure Python).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rankwise.milvus import MilvusBM25Store, SchemaMismatchError, rerank
from rankwise.types import FilterNotSupportedError, Hit, TextStore

pytestmark = pytest.mark.milvus

DOCS = {
    "a": ("the quick brown fox", {"lang": "en", "n": 1}),
    "b": ("quick quick dog", {"lang": "de", "n": 2}),
    "c": ("lazy dog sleeps", {"lang": 'x" or id != "', "n": 3}),
    "d": ("nothing to see here", {}),
}


def _store(tmp_path: Path, name: str = "t.db", **kw: Any) -> MilvusBM25Store:
    kw.setdefault("show_progress", False)
    if "pre_analyzer" not in kw:
        kw.setdefault("analyzer_params", "standard")  # the brute-force oracle splits on spaces
    return MilvusBM25Store(uri=str(tmp_path / name), **kw)


def _filled(tmp_path: Path, **kw: Any) -> MilvusBM25Store:
    store = _store(tmp_path, **kw)
    store.add(
        [t for t, _ in DOCS.values()], ids=list(DOCS), metadatas=[m for _, m in DOCS.values()]
    )
    return store


def brute_bm25(
    docs: dict[str, list[str]], query: list[str], k1: float, b: float
) -> dict[str, float]:
    """Reference BM25 (Lucene IDF, repeated query terms count) over whitespace tokens."""
    n = len(docs)
    avgdl = sum(len(t) for t in docs.values()) / n
    df = Counter(term for toks in docs.values() for term in set(toks))
    scores: dict[str, float] = {}
    for doc_id, toks in docs.items():
        tf = Counter(toks)
        s = 0.0
        for term in query:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                s += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(toks) / avgdl))
        if s > 0:
            scores[doc_id] = s
    return scores


def test_round_trip_add_search_get_delete_upsert(tmp_path: Path) -> None:
    with _filled(tmp_path) as store:
        assert isinstance(store, TextStore)
        assert len(store) == 4
        hits = store.search("quick dog", k=10)
        assert [h.id for h in hits] == ["b", "c", "a"]  # "d" shares no term: not returned
        assert all(isinstance(h, Hit) and h.score > 0 for h in hits)
        assert hits[0].text == "quick quick dog"
        assert hits[0].metadata == {"lang": "de", "n": 2}
        # scores are real BM25 with the requested k1/b (Lite would default to k1=1.5)
        want = brute_bm25({i: t.split() for i, (t, _) in DOCS.items()}, ["quick", "dog"], 1.2, 0.75)
        assert {h.id: h.score for h in hits} == pytest.approx(want, rel=1e-5)
        assert [h.id for h in store.search("quick dog", k=1)] == ["b"]

        got = store.get(["c", "missing", "a"])
        assert [(h.id, h.text) for h in got] == [
            ("c", "lazy dog sleeps"),
            ("a", "the quick brown fox"),
        ]
        assert got[0].metadata["lang"] == 'x" or id != "'

        assert store.delete(["a", "missing", "a"]) == 1
        assert len(store) == 3
        assert [h.id for h in store.search("quick fox")] == ["b"]

        assert store.upsert(
            ["a cat", "fresh fox"], ids=["b", "e"], metadatas=[{"lang": "fr"}, None]
        ) == [
            "b",
            "e",
        ]
        assert len(store) == 4
        assert store.search("quick") == []
        top = store.search("cat fox")
        assert {h.id for h in top} == {"b", "e"}
        assert store.get(["b"])[0].metadata == {"lang": "fr"}
        assert sorted(store.ids()) == ["b", "c", "d", "e"]


def test_generated_ids_duplicates_and_existing_ids(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ids = store.add(["alpha beta", "beta gamma"])
    assert len(ids) == 2
    assert len(set(ids)) == 2
    assert {h.id for h in store.search("beta")} == set(ids)
    with pytest.raises(ValueError, match="duplicate id"):
        store.add(["x", "y"], ids=["same", "same"])
    with pytest.raises(ValueError, match="already stored"):
        store.add(["x"], ids=[ids[0]])
    assert len(store) == 2
    assert store.add([]) == []


def test_bad_input_is_type_or_value_error_naming_the_argument(tmp_path: Path) -> None:
    # The shared rule (rankwise._checks): TypeError for a wrong type, ValueError for a value.
    store = _filled(tmp_path)
    with pytest.raises(ValueError, match="k must be"):
        store.search("dog", k=0)
    with pytest.raises(ValueError, match="k must be"):
        store.search("dog", k=True)
    with pytest.raises(TypeError, match="query"):
        store.search(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        store.add(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="texts"):
        store.add("a single string")
    with pytest.raises(TypeError, match=r"metadatas\[0\]"):
        store.add(["x"], metadatas=[{"f": object()}])
    with pytest.raises(ValueError, match="ids has 1 entries"):
        store.add(["x", "y"], ids=["only-one"])
    with pytest.raises(ValueError, match=r"texts\[0\] is 70000 bytes"):
        store.add(["x" * 70000])
    with pytest.raises(TypeError, match="ids must be given to upsert"):
        store.upsert(["x"], ids=None)  # type: ignore[arg-type]
    assert store.search("") == []
    assert store.search("   ") == []
    assert store.search("zebra") == []
    assert len(store) == 4


def test_filters_run_inside_milvus_and_cannot_be_injected(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    q = "quick dog lazy fox"
    assert [h.id for h in store.search(q, filter={"lang": "en"})] == ["a"]
    assert [h.id for h in store.search(q, filter={"n": 2})] == ["b"]
    assert {h.id for h in store.search(q, filter={"lang": "de", "n": 2})} == {"b"}
    assert store.search(q, filter={"lang": "de", "n": 3}) == []
    # the hostile value is one literal: it matches the document that has it, nothing else
    assert [h.id for h in store.search(q, filter={"lang": 'x" or id != "'})] == ["c"]
    assert store.search(q, filter={"lang": 'x" or id != "x'}) == []
    assert store.search(q, filter={'lang"] == "en" or metadata["lang': "en"}) == []
    # allowed-id sets, hostile ids included
    assert {h.id for h in store.search(q, filter={"a", "c"})} == {"a", "c"}
    assert store.search(q, filter={'a" or id != "'}) == []
    assert store.search(q, filter=set()) == []
    # a filtered search still fills k from the matching documents
    assert [h.id for h in store.search("dog", k=1, filter={"lang": 'x" or id != "'})] == ["c"]
    with pytest.raises(
        FilterNotSupportedError, match="MilvusBM25Store cannot apply a predicate filter"
    ):
        store.search(q, filter=lambda meta: True)
    # a Milvus expression the caller writes runs as written
    assert {h.id for h in store.search(q, filter='metadata["n"] >= 2')} == {"b", "c"}


def test_search_many_matches_single_searches(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    queries = ["quick", "dog", "", "zebra", "lazy fox"]
    many = store.search_many(queries, k=3)
    assert many == [store.search(q, k=3) for q in queries]
    assert many[2] == []
    assert many[3] == []


def test_k1_b_and_analyzer_reach_milvus(tmp_path: Path) -> None:
    docs = {"x": "one two two three", "y": "two", "z": "three three three four five six"}
    store = _store(
        tmp_path, k1=2.0, b=0.3, analyzer_params={"type": "standard", "stop_words": ["two"]}
    )
    store.add(list(docs.values()), ids=list(docs))
    stop = {"two"}
    toks = {i: [t for t in text.split() if t not in stop] for i, text in docs.items()}
    hits = store.search("three two one", k=5)
    want = brute_bm25(toks, ["three", "one"], 2.0, 0.3)
    assert {h.id: h.score for h in hits} == pytest.approx(want, rel=1e-5)
    assert store.search("two") == []


def test_schema_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    _filled(tmp_path).close()
    with pytest.raises(SchemaMismatchError, match=r"bm25_k1 is 1\.2, expected 1\.5"):
        _store(tmp_path, k1=1.5)
    with pytest.raises(SchemaMismatchError, match="analyzer_params"):
        _store(tmp_path, analyzer_params={"type": "standard", "stop_words": ["the"]})
    with pytest.raises(SchemaMismatchError, match=r"field .dense. \(FLOAT_VECTOR\) is missing"):
        _store(tmp_path, dense_dim=4, embedding=lambda texts: [[1.0] * 4 for _ in texts])
    with pytest.raises(SchemaMismatchError, match=r"pre_analyzer|analyzed_text"):
        _store(tmp_path, pre_analyzer=str.split)
    # a collection of another shape altogether
    pymilvus = pytest.importorskip("pymilvus")
    client = pymilvus.MilvusClient(str(tmp_path / "t.db"))
    client.create_collection("plain", dimension=4)
    with pytest.raises(
        SchemaMismatchError, match="collection 'plain' exists with a different shape"
    ):
        _store(tmp_path, collection="plain")
    # nothing was written by the failed opens; the matching open works
    with _store(tmp_path) as again:
        assert len(again) == 4
        assert [h.id for h in again.search("lazy")] == ["c"]


def test_lite_refuses_what_it_cannot_analyze_before_creating_anything(tmp_path: Path) -> None:
    # Milvus's own analysis on Lite (route="milvus") cannot be English: an error, no substitute
    with pytest.raises(ValueError, match="Milvus Lite cannot run the 'english' analyzer"):
        _store(tmp_path, analyzer_params={"type": "english"}, route="milvus")
    with pytest.raises(ValueError, match="dense_dim and embedding"):
        _store(tmp_path, dense_dim=4)
    with pytest.raises(ValueError, match="inverted_index_algo"):
        _store(tmp_path, inverted_index_algo="BLOCK_MAX")
    with pytest.raises(ValueError, match="b must be"):
        _store(tmp_path, b=1.5)
    pymilvus = pytest.importorskip("pymilvus")
    assert pymilvus.MilvusClient(str(tmp_path / "t.db")).list_collections() == []


def test_pre_analyzer_indexes_client_tokens(tmp_path: Path) -> None:
    def analyze(text: str) -> list[str]:  # keeps case and punctuation: Lite alone would not
        return [t.rstrip("!") for t in text.split()]

    store = _store(tmp_path, pre_analyzer=analyze)
    store.add(["Don't STOP", "don't stop now!", "3.14 is Pi"], ids=["1", "2", "3"])
    assert [h.id for h in store.search("Don't")] == ["1"]
    assert [h.id for h in store.search("don't")] == ["2"]
    assert [h.id for h in store.search("3.14")] == ["3"]
    assert store.search("3") == []
    assert store.get(["2"])[0].text == "don't stop now!"  # original text is what comes back
    with pytest.raises(ValueError, match="pre_analyzer"):
        _store(tmp_path, name="u.db", pre_analyzer=analyze, analyzer_params={"type": "english"})


def fake_embedding(texts: list[str]) -> list[list[float]]:
    """Deterministic 8-d bag-of-hashed-words embedding (no model, no network)."""
    out = []
    for text in texts:
        v = [0.0] * 8
        for word in text.lower().split():
            v[hashlib.md5(word.encode()).digest()[0] % 8] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        out.append([x / norm for x in v])
    return out


def test_hybrid_search_fuses_dense_and_bm25_inside_milvus(tmp_path: Path) -> None:
    store = _filled(tmp_path, dense_dim=8, embedding=fake_embedding)
    k = 4
    bm25_ids = [h.id for h in store.search("lazy quick", k=k)]
    rrf = store.hybrid_search("lazy quick", k=k, c=60)
    assert {h.id for h in rrf} >= set(bm25_ids)
    assert [h.score for h in rrf] == sorted((h.score for h in rrf), reverse=True)
    # RRF scores: 1/(60 + rank) per route, so a document found by both routes scores > 1/61
    assert all(h.score <= 2 / 61 + 1e-6 for h in rrf)
    assert any(h.score > 1 / 61 for h in rrf)
    weighted = store.hybrid_search("lazy quick", k=k, ranker="weighted", weights=(0.0, 1.0))
    assert [h.id for h in weighted][: len(bm25_ids)] == bm25_ids  # all weight on BM25
    only = store.hybrid_search("lazy quick", k=k, filter={"lang": 'x" or id != "'})
    assert [h.id for h in only] == ["c"]
    assert store.hybrid_search("lazy", k=k, filter=set()) == []

    class ByLength:  # any rankwise reranker shape: rerank(query, docs, top_k, ids=, metadatas=)
        def rerank(
            self, query: str, documents: list[str], top_k: int | None = None, **kw: Any
        ) -> Any:
            from rankwise.rerankers.base import rank_scores

            return rank_scores(documents, [-len(d) for d in documents], top_k, **kw)

    reranked = store.hybrid_search("lazy quick", k=k, reranker=ByLength(), top_n=2)
    assert len(reranked) == 2
    assert [len(h.text) for h in reranked] == sorted(len(h.text) for h in rrf)[:2]
    assert rerank("q", [], ByLength()) == []
    with pytest.raises(ValueError, match="ranker"):
        store.hybrid_search("lazy", ranker="max")


def test_hybrid_search_old_argument_names_warn_and_still_work(tmp_path: Path) -> None:
    # Issue 17 item 3: rrf_k/candidates/rerank_top_k are now c/fetch_k/top_n (one release).
    store = _filled(tmp_path, dense_dim=8, embedding=fake_embedding)

    class ByLength:
        def rerank(
            self, query: str, documents: list[str], top_k: int | None = None, **kw: Any
        ) -> Any:
            from rankwise.rerankers.base import rank_scores

            return rank_scores(documents, [-len(d) for d in documents], top_k, **kw)

    expected = store.hybrid_search("lazy quick", k=4, c=30, fetch_k=5)
    with pytest.warns(DeprecationWarning, match="use c="):
        assert store.hybrid_search("lazy quick", k=4, rrf_k=30, fetch_k=5) == expected
    with pytest.warns(DeprecationWarning, match="use fetch_k="):
        assert store.hybrid_search("lazy quick", k=4, c=30, candidates=5) == expected
    with pytest.warns(DeprecationWarning, match="top_n="):
        trimmed = store.hybrid_search("lazy quick", k=4, reranker=ByLength(), rerank_top_k=2)
    assert trimmed == store.hybrid_search("lazy quick", k=4, reranker=ByLength(), top_n=2)
    with pytest.raises(TypeError, match="c="), pytest.warns(DeprecationWarning, match="rrf_k"):
        store.hybrid_search("lazy quick", c=30, rrf_k=20)


def test_hybrid_search_needs_a_dense_field(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    with pytest.raises(ValueError, match="dense_dim and embedding"):
        store.hybrid_search("dog")


def test_embedding_with_wrong_dimension_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path, dense_dim=8, embedding=lambda texts: [[1.0, 0.0] for _ in texts])
    with pytest.raises(ValueError, match="dense_dim=8"):
        store.add(["text"])
    assert len(store) == 0


def test_hybrid_search_falls_back_to_dense_when_the_query_has_no_terms(tmp_path: Path) -> None:
    from rankwise import Analyzer

    store = _store(
        tmp_path, pre_analyzer=Analyzer("english"), dense_dim=8, embedding=fake_embedding
    )
    store.add([t for t, _ in DOCS.values()], ids=list(DOCS))
    assert store.search("the") == []  # only a stop word: nothing for BM25
    for ranker in ("rrf", "weighted"):
        hits = store.hybrid_search("the", k=2, ranker=ranker)
        assert len(hits) == 2  # the dense route alone still answers
