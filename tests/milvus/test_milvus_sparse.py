"""The client-side route: rankwise BM25 sparse vectors in a plain sparse field (metric IP)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rankwise import BM25Index
from rankwise.milvus import MilvusBM25Store, SchemaMismatchError
from rankwise.milvus.sparse import EMPTY_ROW_DIMENSION, MilvusSparseStore, csr_rows

pytestmark = pytest.mark.milvus

DOCS = {
    "a": "We are loving Milvus!",
    "b": "who loves Milvus? Milvus loves who",
    "c": "The dogs were sleeping while the dog slept",
    "d": "the the the",  # only stop words: no indexed term at all
    "e": "A sleeping milvus dog",
}
META = {"a": {"lang": "en"}, "b": {"lang": "en"}, "c": {"lang": 'x" or id != "'}}


@pytest.fixture
def fitted() -> BM25Index:
    index = BM25Index("english", show_progress=False)
    index.add(list(DOCS.values()), ids=list(DOCS))
    return index


def test_csr_rows_drops_zeros() -> None:
    from scipy.sparse import csr_array

    m = csr_array([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.25]])
    assert csr_rows(m) == [{1: 1.5}, {}, {0: 2.0, 2: 0.25}]


def test_inner_product_route_reproduces_the_embedded_ranking(
    tmp_path: Path, fitted: BM25Index
) -> None:
    store = MilvusSparseStore(fitted, uri=str(tmp_path / "s.db"), show_progress=False)
    store.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META.get(i) for i in DOCS])
    assert len(store) == len(DOCS)
    for query in ["loving milvus", "sleeping dogs", "who loves who", "the", "dog milvus milvus"]:
        want = fitted.search(query, k=10)
        got = store.search(query, k=10)
        assert [h.id for h in got] == [h.id for h in want] or (
            # ties may come back in another order; the scores must still agree
            sorted((h.id, round(h.score, 5)) for h in got)
            == sorted((h.id, round(h.score, 5)) for h in want)
        )
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)
    assert store.search("the") == []  # stop word: empty query vector, nothing sent
    assert store.search("sleeping", filter={"lang": 'x" or id != "'})[0].id == "c"
    assert [h.id for h in store.search("milvus", filter={"e"})] == ["e"]
    assert store.get(["d"])[0].text == "the the the"  # stored with the placeholder dimension
    assert store.delete(["a", "zz"]) == 1
    assert "a" not in {h.id for h in store.search("milvus")}
    store.close()
    with MilvusSparseStore(fitted, uri=str(tmp_path / "s.db")) as reopened:  # validated, kept
        assert len(reopened) == len(DOCS) - 1
        want = [h.id for h in fitted.search("sleeping dog") if h.id != "a"]
        assert [h.id for h in reopened.search("sleeping dog")] == want


def test_matches_the_milvus_bm25_function_on_the_same_tokens(
    tmp_path: Path, fitted: BM25Index
) -> None:
    ip = MilvusSparseStore(fitted, uri=str(tmp_path / "s.db"), show_progress=False)
    fn = MilvusBM25Store(
        uri=str(tmp_path / "s.db"),
        collection="fn",
        pre_analyzer=fitted.analyzer,
        show_progress=False,
    )
    for store in (ip, fn):
        store.add(list(DOCS.values()), ids=list(DOCS))
    for query in ["loving milvus", "sleeping dog"]:
        a, b = ip.search(query), fn.search(query)
        assert {h.id: h.score for h in a} == pytest.approx({h.id: h.score for h in b}, rel=1e-5)


def test_shape_checks_and_bad_input(tmp_path: Path, fitted: BM25Index) -> None:
    db = str(tmp_path / "s.db")
    MilvusBM25Store(
        uri=db, collection="bm25", analyzer_params="standard", route="milvus", show_progress=False
    ).close()
    with pytest.raises(SchemaMismatchError, match="Milvus function"):
        MilvusSparseStore(fitted, uri=db, collection="bm25")
    MilvusBM25Store(uri=db, collection="exact", show_progress=False).close()
    with pytest.raises(SchemaMismatchError, match="exact route"):
        MilvusSparseStore(fitted, uri=db, collection="exact")
    with pytest.raises(ValueError, match="fitted rankwise BM25Index"):
        MilvusSparseStore(object(), uri=db)
    store = MilvusSparseStore(fitted, uri=db, show_progress=False)
    with pytest.raises(ValueError, match="k must be"):
        store.search("dog", k=0)
    with pytest.raises(ValueError, match="single string"):
        store.search_many("dog")
    assert store.search("dog") == []  # empty collection
    assert fitted.vocab_size < EMPTY_ROW_DIMENSION
