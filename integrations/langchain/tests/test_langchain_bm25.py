"""RankwiseBM25Retriever over the embedded rankwise.BM25Index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_rankwise import RankwiseBM25Retriever
from langchain_rankwise.bm25 import CONFIG_FILE
from lc_doubles import CORPUS, corpus_documents, make_bm25
from pydantic import ValidationError

from rankwise.bm25 import BM25Index


def test_from_documents_keeps_ids_metadata_and_scores() -> None:
    retriever = make_bm25(k=3)
    out = retriever.invoke("sparse vectors full text search")
    assert out[0].id == "doc3"
    assert out[0].page_content == CORPUS[3]
    assert out[0].metadata["n"] == 3
    assert out[0].metadata["even"] is False
    # metadata["rankwise_score"] is the index's own BM25 score
    (hit,) = retriever.store.search("sparse vectors full text search", k=1)
    assert out[0].metadata["rankwise_score"] == pytest.approx(hit.score)
    scores = [d.metadata["rankwise_score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)


def test_zero_score_documents_are_never_returned() -> None:
    retriever = make_bm25(k=8)
    out = retriever.invoke("XJ9000")
    assert [d.id for d in out] == ["doc6"]
    assert retriever.invoke("zeppelin") == []
    assert retriever.invoke("the and of") == []  # stop words only


def test_from_texts_with_index_params_and_generated_ids() -> None:
    texts = ["Running late again", "we run every day", "a quiet library"]
    retriever = RankwiseBM25Retriever.from_texts(
        texts,
        metadatas=[{"lang": "en"}, None, None],
        k=2,
        analyzer={"tokenizer": "standard"},
        k1=1.5,
        b=0.5,
        show_progress=False,
    )
    assert isinstance(retriever.store, BM25Index)
    assert retriever.store.k1 == 1.5
    assert retriever.store.b == 0.5
    # the standard tokenizer neither stems nor lowercases
    assert [d.page_content for d in retriever.invoke("run")] == ["we run every day"]
    out = retriever.invoke("Running")
    assert [d.page_content for d in out] == ["Running late again"]
    assert set(out[0].metadata) == {"lang", "rankwise_score"}
    assert len(out[0].id or "") == 32  # a generated uuid4 hex
    # the default english analyzer stems both to "run"
    english = RankwiseBM25Retriever.from_texts(texts, show_progress=False)
    assert {d.page_content for d in english.invoke("run")} == set(texts[:2])


def test_default_store_is_an_empty_index() -> None:
    retriever = RankwiseBM25Retriever()
    assert isinstance(retriever.store, BM25Index)
    assert retriever.invoke("anything") == []
    ids = retriever.add_documents([Document(page_content="hello world", id="h")])
    assert ids == ["h"]
    assert [d.id for d in retriever.invoke("hello")] == ["h"]


def test_add_documents_replaces_same_id_and_delete_removes() -> None:
    retriever = make_bm25(k=8)
    retriever.add_documents([Document(page_content="XJ9000 replaced text", id="doc6")])
    assert len(retriever.store) == len(CORPUS)
    assert retriever.get_by_ids(["doc6"])[0].page_content == "XJ9000 replaced text"
    assert retriever.delete(["doc6", "nope"]) == 1
    assert retriever.invoke("XJ9000") == []


def test_k_field_kwarg_and_filters() -> None:
    retriever = make_bm25(k=2)
    query = "BM25 rank fusion retrievers search Milvus"
    assert len(retriever.invoke(query)) == 2
    assert len(retriever.invoke(query, k=3)) == 3
    even = retriever.invoke(query, k=8, filter={"even": True})
    assert even
    assert all(d.metadata["even"] for d in even)
    assert {d.id for d in retriever.invoke(query, k=8, filter={"doc2", "doc7"})} <= {"doc2", "doc7"}
    assert [d.id for d in retriever.invoke(query, filter=lambda m: m["n"] == 3)] == ["doc3"]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    retriever = make_bm25(k=3)
    retriever.filter = {"even": True}
    retriever.save(tmp_path / "idx")
    config = json.loads((tmp_path / "idx" / CONFIG_FILE).read_text())
    assert config["k"] == 3
    assert not list((tmp_path / "idx").glob("*.pkl"))

    loaded = RankwiseBM25Retriever.load(tmp_path / "idx")
    assert loaded.k == 3
    assert loaded.filter == {"even": True}
    query = "BM25 rank fusion search Milvus automobile"
    before = [(d.id, d.metadata) for d in retriever.invoke(query)]
    assert before
    assert [(d.id, d.metadata) for d in loaded.invoke(query)] == before
    # overrides win over saved settings, and the loaded index stays writable
    loose = RankwiseBM25Retriever.load(tmp_path / "idx", k=1, filter=None, mmap=False)
    assert loose.k == 1
    assert loose.filter is None
    loose.add_documents([Document(page_content="a new Milvus note", id="new")])
    assert "new" in {d.id for d in loose.invoke("Milvus", k=5)}


def test_save_and_load_keeps_an_id_set_filter(tmp_path: Path) -> None:
    retriever = make_bm25()
    retriever.filter = frozenset({"doc1", "doc2"})
    retriever.save(tmp_path)
    loaded = RankwiseBM25Retriever.load(tmp_path)
    assert loaded.filter == frozenset({"doc1", "doc2"})
    assert {d.id for d in loaded.invoke("rank reranker")} == {"doc1", "doc2"}


async def test_async_matches_sync() -> None:
    retriever = make_bm25(k=3)
    query = "rank fusion of ranked lists"
    sync = retriever.invoke(query, filter={"even": True})
    asy = await retriever.ainvoke(query, filter={"even": True})
    assert [(d.id, d.metadata) for d in sync] == [(d.id, d.metadata) for d in asy]


def test_bad_input() -> None:
    retriever = make_bm25()
    with pytest.raises(ValueError, match="query"):
        retriever.invoke("")
    with pytest.raises(ValueError, match="k"):
        retriever.invoke("BM25", k=0)
    with pytest.raises(ValidationError, match="store"):
        RankwiseBM25Retriever(store="not a store")
    with pytest.raises(ValidationError, match="extra"):
        RankwiseBM25Retriever(top_k=3)
    with pytest.raises(ValueError, match="k"):
        RankwiseBM25Retriever.from_documents(corpus_documents(), k=0, show_progress=False)


def lower_split(text: str) -> list[str]:
    return text.lower().split()


def test_save_and_load_with_a_callable_analyzer(tmp_path: Path) -> None:
    retriever = RankwiseBM25Retriever.from_documents(
        corpus_documents(), analyzer=lower_split, show_progress=False
    )
    retriever.save(tmp_path)
    loaded = RankwiseBM25Retriever.load(tmp_path, analyzer=lower_split, show_progress=False)
    query = "ranks documents by term frequency"
    assert [d.id for d in loaded.invoke(query)] == [d.id for d in retriever.invoke(query)]
    assert loaded.invoke(query)[0].id == "doc0"


async def test_a_users_own_score_key_is_never_overwritten() -> None:
    from langchain_rankwise.bm25 import SCORE_KEY

    retriever = RankwiseBM25Retriever.from_texts(
        ["graded essay on rivers", "ungraded note on rivers"],
        metadatas=[{"score": "A+"}, {"score": 0.25, SCORE_KEY: "mine"}],
        k=2,
        show_progress=False,
    )
    for out in (retriever.invoke("rivers"), await retriever.ainvoke("rivers")):
        by_text = {d.page_content: d.metadata for d in out}
        assert by_text["graded essay on rivers"]["score"] == "A+"  # the user's value, kept
        assert by_text["ungraded note on rivers"]["score"] == 0.25
        assert all(isinstance(m[SCORE_KEY], float) and m[SCORE_KEY] > 0 for m in by_text.values())
