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
