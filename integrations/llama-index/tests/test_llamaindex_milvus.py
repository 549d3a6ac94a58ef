"""RankwiseBM25Retriever on Milvus Lite (store=MilvusBM25Store): the embedded index's results."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.retrievers.rankwise import RankwiseBM25Retriever

from rankwise.milvus import MilvusBM25Store

pytestmark = pytest.mark.milvus

FILTERS = [
    None,
    MetadataFilters(filters=[MetadataFilter(key="topic", value="aero")]),  # pushed down
    MetadataFilters(filters=[MetadataFilter(key="year", value=1960, operator=FilterOperator.GT)]),
    MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value="heat"),
            MetadataFilter(key="tags", value="flutter", operator=FilterOperator.CONTAINS),
        ],
        condition=FilterCondition.OR,
    ),
]


def ids(nodes) -> list[str]:
    return [n.node.node_id for n in nodes]


@pytest.fixture
def milvus_store(tmp_path: Path):
    store = MilvusBM25Store(uri=str(tmp_path / "li.db"), collection="li", show_progress=False)
    yield store
    store.close()


def test_milvus_store_matches_the_embedded_index(nodes, milvus_store):
    # Defaults on both sides (the english analysis); non-equality filters run inside Milvus
    # as escaped expressions, not on the client.
    on_milvus = RankwiseBM25Retriever.from_defaults(
        nodes=nodes, store=milvus_store, similarity_top_k=3
    )
    embedded = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3)
    for query in ["supersonic flutter", "boundary layer heat transfer", "wing pressure flow"]:
        for filters in FILTERS:
            got = on_milvus.retrieve(query, filters=filters)
            want = embedded.retrieve(query, filters=filters)
            assert ids(got) == ids(want), (query, filters)
            assert [n.score for n in got] == pytest.approx([n.score for n in want], rel=1e-4)
    first = on_milvus.retrieve("supersonic flutter")[0].node
    assert first.metadata == next(n.metadata for n in nodes if n.node_id == first.node_id)


def test_hostile_filter_values_stay_literals(nodes, milvus_store):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, store=milvus_store)
    hostile = MetadataFilters(filters=[MetadataFilter(key="topic", value='x" or id != "')])
    assert retriever.retrieve("supersonic flutter", filters=hostile) == []


def test_updates_and_persistence_on_milvus(nodes, milvus_store, tmp_path):
    retriever = RankwiseBM25Retriever.from_defaults(
        nodes=nodes[:4], store=milvus_store, similarity_top_k=8
    )
    retriever.insert(nodes[4:])
    assert retriever.delete(["n0", "n6"]) == 2
    assert ids(retriever.retrieve("flutter")) == []
    retriever.insert([TextNode(id_="n9", text="panel flutter", metadata={"topic": "x"})])
    assert ids(retriever.retrieve("flutter")) == ["n9"]
    retriever.persist(tmp_path / "saved")
    loaded = RankwiseBM25Retriever.from_persist_dir(tmp_path / "saved", store=milvus_store)
    assert loaded.similarity_top_k == 8
    assert ids(loaded.retrieve("flutter")) == ["n9"]
    assert loaded.get_nodes(["n9"])[0].metadata == {"topic": "x"}


def _leaf(key, value, op):
    return MetadataFilter(key=key, value=value, operator=op)


PARITY = [
    MetadataFilters(filters=[_leaf("topic", "aero", FilterOperator.NE)]),
    MetadataFilters(filters=[_leaf("topic", ["aero", "heat"], FilterOperator.NIN)]),
    MetadataFilters(filters=[_leaf("topic", ["aero", "heat"], FilterOperator.IN)]),
    MetadataFilters(filters=[_leaf("year", 1960, FilterOperator.GTE)]),
    MetadataFilters(filters=[_leaf("year", 1960, FilterOperator.LT)]),
    MetadataFilters(filters=[_leaf("tags", "boundary", FilterOperator.CONTAINS)]),
    MetadataFilters(filters=[_leaf("tags", ["cone", "wing"], FilterOperator.ANY)]),
    MetadataFilters(filters=[_leaf("tags", ["boundary", "cone"], FilterOperator.ALL)]),
    MetadataFilters(
        filters=[_leaf("topic", "aero", FilterOperator.EQ), _leaf("year", 1962, FilterOperator.GT)],
        condition=FilterCondition.NOT,
    ),
    MetadataFilters(
        filters=[
            MetadataFilters(
                filters=[
                    _leaf("topic", "heat", FilterOperator.EQ),
                    _leaf("year", 1958, FilterOperator.NE),
                ]
            ),
            _leaf("tags", "flutter", FilterOperator.CONTAINS),
        ],
        condition=FilterCondition.OR,
    ),
]


def test_metadata_filters_run_inside_milvus_as_the_in_memory_predicate_does(nodes, milvus_store):
    # a node without the filtered keys: it matches NE and NIN only, as in LlamaIndex's store
    bare = TextNode(id_="bare", text="supersonic flutter of a bare wing panel", metadata={})
    every = [*nodes, bare]
    on_milvus = RankwiseBM25Retriever.from_defaults(
        nodes=every, store=milvus_store, similarity_top_k=10
    )
    embedded = RankwiseBM25Retriever.from_defaults(nodes=every, similarity_top_k=10)
    for filters in PARITY:
        for query in ["supersonic flutter wing", "boundary layer heat"]:
            got = on_milvus.retrieve(query, filters=filters)
            want = embedded.retrieve(query, filters=filters)
            assert ids(got) == ids(want), filters
    ne = on_milvus.retrieve("supersonic flutter wing", filters=PARITY[0])
    assert "bare" in ids(ne)
