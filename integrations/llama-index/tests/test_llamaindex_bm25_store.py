"""RankwiseBM25Retriever over an external ``store=`` (any TextStore, e.g. Milvus)."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.schema import NodeRelationship, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.retrievers.rankwise import RankwiseBM25Retriever, metadata_filters_to_predicate

from rankwise.testing.stores import WordCountStore
from rankwise.types import FilterNotSupportedError

AERO = MetadataFilters(filters=[MetadataFilter(key="topic", value="aero")])
NOT_AERO = MetadataFilters(
    filters=[MetadataFilter(key="topic", value="aero", operator=FilterOperator.NE)]
)


def ids(nodes) -> list[str]:
    return [n.node.node_id for n in nodes]


def test_searches_the_store_and_returns_copies_of_the_nodes(nodes, fake_store_cls):
    store = fake_store_cls()
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, store=store, similarity_top_k=3)
    assert len(store) == len(nodes) == len(retriever)
    out = retriever.retrieve("supersonic flutter")
    expected = store.search("supersonic flutter", k=3)
    assert ids(out) == [h.id for h in expected]
    assert [n.score for n in out] == [h.score for h in expected]
    first = out[0].node
    assert first.node_id == "n0"
    assert first.metadata == nodes[0].metadata
    assert first.relationships[NodeRelationship.SOURCE].node_id == "doc-n0"
    first.metadata["touched"] = True
    assert "touched" not in retriever.retrieve("supersonic flutter")[0].node.metadata
    assert "touched" not in nodes[0].metadata


def test_store_documents_it_never_saw_come_back_as_text_nodes(fake_store_cls):
    store = fake_store_cls()
    store.add(["panel flutter tests"], ids=["ext-1"], metadatas=[{"src": "milvus"}])
    retriever = RankwiseBM25Retriever.from_defaults(store=store)
    (hit,) = retriever.retrieve("flutter")
    assert isinstance(hit.node, TextNode)
    assert hit.node.node_id == "ext-1"
    assert hit.node.get_content() == "panel flutter tests"
    assert hit.node.metadata == {"src": "milvus"}


def test_equality_filters_are_pushed_down_as_a_mapping(nodes, fake_store_cls):
    store = fake_store_cls()
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, store=store, filters=AERO)
    out = retriever.retrieve("supersonic boundary layer")
    assert store.filters_seen[-1] == {"topic": "aero"}
    assert ids(out) == ["n2", "n0"]


def test_other_filters_go_to_the_store_in_a_form_it_applies_inside_its_top_k(fake_store_cls):
    # 200 documents all matching the query; only every 50th passes the filter, and those
    # rank last: the store (not the retriever) must find them inside its top-k.
    store = fake_store_cls()
    many = [
        TextNode(
            id_=f"d{i:03d}",
            text="flutter " * (200 - i),
            metadata={"bucket": i % 50, "year": 1900 + i},
        )
        for i in range(200)
    ]
    retriever = RankwiseBM25Retriever(many, store=store, similarity_top_k=3)
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="bucket", value=[0], operator=FilterOperator.IN),
            MetadataFilter(key="year", value=1960, operator=FilterOperator.GT),
        ]
    )
    out = retriever.retrieve("flutter", filters=filters)
    predicate = metadata_filters_to_predicate(filters)
    brute = [h.id for h in store.search("flutter", k=1000) if predicate(h.metadata)][:3]
    assert ids(out) == brute == ["d100", "d150"]
    # one search, with the filter: no deeper unfiltered ranking filtered on the client
    assert store.searches[0] == ("flutter", 3)
    assert callable(store.filters_seen[0])


class ExpressionStore(WordCountStore):
    """Declares Milvus's filter forms, as the Milvus stores do."""

    filter_kinds = ("mapping", "ids", "expression")

    def search(self, query, k=10, filter=None):
        self.filters_seen.append(filter)
        return []


def test_a_milvus_like_store_gets_an_escaped_expression_and_no_predicate():
    store = ExpressionStore()
    hostile = 'x" or id != "'
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value=hostile, operator=FilterOperator.NE),
            MetadataFilter(key="year", value=1960, operator=FilterOperator.GT),
        ],
        condition=FilterCondition.OR,
    )
    retriever = RankwiseBM25Retriever(store=store, filters=filters)
    assert retriever.retrieve("flutter") == []
    assert store.filters_seen == [
        '((not exists metadata["topic"] or metadata["topic"] != "x\\" or id != \\"") '
        'or (exists metadata["year"] and metadata["year"] > 1960))'
    ]
    # equalities joined by AND stay a mapping, which every store takes
    retriever.retrieve("flutter", filters=AERO)
    assert store.filters_seen[-1] == {"topic": "aero"}
    # what no Milvus expression says exactly is refused where it is given, not approximated
    text_match = MetadataFilters(
        filters=[MetadataFilter(key="topic", value="ae", operator=FilterOperator.TEXT_MATCH)]
    )
    with pytest.raises(FilterNotSupportedError, match="TEXT_MATCH"):
        RankwiseBM25Retriever(store=store, filters=text_match)
    with pytest.raises(FilterNotSupportedError, match="TEXT_MATCH"):
        retriever.retrieve("flutter", filters=text_match)


def test_per_call_filters_override_the_defaults_without_leaking(nodes, fake_store_cls):
    retriever = RankwiseBM25Retriever(
        nodes, store=fake_store_cls(), similarity_top_k=8, filters=AERO
    )
    assert set(ids(retriever.retrieve("supersonic flow"))) == {"n0", "n2", "n4"}
    assert set(ids(retriever.retrieve("supersonic flow", filters=NOT_AERO))) == {"n6"}
    assert set(ids(retriever.retrieve("supersonic flow"))) == {"n0", "n2", "n4"}
    # An empty MetadataFilters switches the defaults off for one call.
    assert set(ids(retriever.retrieve("supersonic flow", filters=MetadataFilters(filters=[])))) == {
        "n0",
        "n2",
        "n4",
        "n6",
    }


async def test_per_call_filters_async_and_isolated_between_concurrent_calls(nodes, fake_store_cls):
    retriever = RankwiseBM25Retriever(nodes, store=fake_store_cls(delay=0.05), similarity_top_k=8)
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value="heat"),
            MetadataFilter(key="year", value=1960, operator=FilterOperator.LTE),
        ],
        condition=FilterCondition.AND,
    )
    filtered, unfiltered = await asyncio.gather(
        retriever.aretrieve("heat transfer boundary", filters=either),
        retriever.aretrieve("heat transfer boundary"),
    )
    assert set(ids(filtered)) == {"n1", "n7"}
    assert set(ids(unfiltered)) == {"n1", "n2", "n7"}


async def test_two_aretrieve_against_a_slow_store_take_about_one_delay(
    nodes, fake_store_cls, stopwatch
):
    retriever = RankwiseBM25Retriever(nodes, store=fake_store_cls(delay=0.5))
    ticks = 0
    results: list[list] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def both() -> None:
        results[:] = await asyncio.gather(
            retriever.aretrieve("flutter"), retriever.aretrieve("wing")
        )

    task = asyncio.create_task(ticker())
    elapsed = await stopwatch.abest(both, under=0.85)
    task.cancel()
    assert elapsed < 0.85, f"aretrieve calls were serialized ({elapsed:.2f}s)"
    assert ticks >= 10, "the event loop was blocked during the search"
    a, b = results
    assert ids(a) == ["n0", "n6"]
    assert ids(b) == ["n0", "n4"]


def test_insert_and_delete_through_the_store(nodes, fake_store_cls):
    store = fake_store_cls()
    retriever = RankwiseBM25Retriever(nodes[:4], store=store, similarity_top_k=8)
    retriever.insert(nodes[4:])
    assert len(store) == 8
    assert retriever.delete(["n0", "n6", "missing"]) == 2
    assert "n0" not in store.docs
    assert ids(retriever.retrieve("flutter")) == []
    retriever.insert([TextNode(id_="n1", text="flutter replaced", metadata={})])
    assert ids(retriever.retrieve("flutter")) == ["n1"]
    assert retriever.get_nodes(["n1"])[0].get_content() == "flutter replaced"


def test_external_store_persistence_needs_the_store_again(nodes, fake_store_cls, tmp_path):
    store = fake_store_cls()
    retriever = RankwiseBM25Retriever(nodes, store=store, similarity_top_k=3, filters=AERO)
    retriever.persist(tmp_path / "r")
    with pytest.raises(ValueError, match="store="):
        RankwiseBM25Retriever.from_persist_dir(tmp_path / "r")
    loaded = RankwiseBM25Retriever.from_persist_dir(tmp_path / "r", store=store)
    assert loaded.similarity_top_k == 3
    assert loaded.filters == AERO
    assert ids(loaded.retrieve("supersonic")) == ids(retriever.retrieve("supersonic"))
    assert loaded.get_nodes(["n0"])[0].relationships == nodes[0].relationships


def test_store_conflicts_and_bad_stores(nodes, fake_store_cls):
    with pytest.raises(ValueError, match="k1"):
        RankwiseBM25Retriever(nodes, store=fake_store_cls(), k1=1.5)
    with pytest.raises(ValueError, match="analyzer"):
        RankwiseBM25Retriever.from_defaults(nodes=nodes, store=fake_store_cls(), analyzer="english")
    with pytest.raises(ValueError, match="store"):
        RankwiseBM25Retriever(nodes, store=object())  # type: ignore[arg-type]
