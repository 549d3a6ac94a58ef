"""RankwiseBM25Retriever on the embedded BM25 index: build, filters, updates, persistence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import Document, MetadataMode, NodeRelationship, TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.retrievers.rankwise import RankwiseBM25Retriever, metadata_filters_to_predicate

from rankwise.bm25 import BM25Index

QUERIES = [
    "supersonic flutter",
    "boundary layer heat transfer",
    "wing pressure",
    "pasta",
    "cylindrical shells buckling",
]


def ids(nodes) -> list[str]:
    return [n.node.node_id for n in nodes]


def ranking(retriever: RankwiseBM25Retriever, query: str) -> list[tuple[str, float]]:
    return [(n.node.node_id, n.score) for n in retriever.retrieve(query)]


def assert_same_rankings(a: RankwiseBM25Retriever, b: RankwiseBM25Retriever) -> None:
    for query in QUERIES:
        ra, rb = ranking(a, query), ranking(b, query)
        assert [i for i, _ in ra] == [i for i, _ in rb], query
        assert [s for _, s in ra] == pytest.approx([s for _, s in rb]), query


def test_scores_are_the_embedded_bm25_scores(nodes):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes)
    index = BM25Index(show_progress=False)
    index.add([n.get_content() for n in nodes], ids=[n.node_id for n in nodes])
    out = retriever.retrieve("supersonic flutter")
    assert len(out) == 2  # LlamaIndex's default similarity_top_k
    expected = index.search("supersonic flutter", k=2)
    assert ids(out) == [h.id for h in expected]
    assert [n.score for n in out] == pytest.approx([h.score for h in expected])
    by_id = {n.node_id: n for n in nodes}
    for result in out:
        assert result.node.metadata == by_id[result.node.node_id].metadata
        assert result.node.get_content() == by_id[result.node.node_id].get_content()
    assert isinstance(retriever.store, BM25Index)


def test_from_index_and_docstore_equal_from_nodes(nodes):
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    docstore = SimpleDocumentStore()
    docstore.add_documents(nodes)
    by_nodes = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=4)
    by_index = RankwiseBM25Retriever.from_defaults(index=index, similarity_top_k=4)
    by_docstore = RankwiseBM25Retriever.from_defaults(docstore=docstore, similarity_top_k=4)
    assert_same_rankings(by_nodes, by_index)
    assert_same_rankings(by_nodes, by_docstore)


def test_metadata_mode_embed_indexes_the_metadata_too(nodes):
    plain = RankwiseBM25Retriever(nodes, similarity_top_k=8)
    embed = RankwiseBM25Retriever(nodes, similarity_top_k=8, text_metadata_mode=MetadataMode.EMBED)
    # "structures" only occurs in metadata (topic of n3 and n6).
    assert ids(plain.retrieve("structures")) == []
    assert set(ids(embed.retrieve("structures"))) == {"n3", "n6"}


def brute_force(retriever: RankwiseBM25Retriever, query: str, filters: MetadataFilters) -> list:
    predicate = metadata_filters_to_predicate(filters)
    hits = retriever.store.search(query, k=len(retriever))
    return [h.id for h in hits if predicate(h.metadata)][: retriever.similarity_top_k]


@pytest.mark.parametrize(
    "filters",
    [
        MetadataFilters(filters=[MetadataFilter(key="topic", value="aero")]),
        MetadataFilters(filters=[MetadataFilter(key="topic", value="aero", operator="!=")]),
        MetadataFilters(filters=[MetadataFilter(key="year", value=1960, operator=">")]),
        MetadataFilters(filters=[MetadataFilter(key="year", value=1960, operator="<=")]),
        MetadataFilters(
            filters=[MetadataFilter(key="topic", value=["heat", "food"], operator="in")]
        ),
        MetadataFilters(filters=[MetadataFilter(key="topic", value=["aero"], operator="nin")]),
        MetadataFilters(filters=[MetadataFilter(key="tags", value="flutter", operator="contains")]),
        MetadataFilters(
            filters=[
                MetadataFilter(key="topic", value="heat"),
                MetadataFilter(key="year", value=1962, operator=FilterOperator.GTE),
            ],
            condition=FilterCondition.OR,
        ),
        MetadataFilters(
            filters=[
                MetadataFilter(key="topic", value="structures", operator="!="),
                MetadataFilters(
                    filters=[
                        MetadataFilter(key="year", value=1959, operator="<"),
                        MetadataFilter(key="year", value=1962, operator=">"),
                    ],
                    condition=FilterCondition.OR,
                ),
            ]
        ),
    ],
)
def test_filters_are_applied_inside_the_top_k(nodes, filters):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=2)
    for query in ["supersonic boundary layer flow heat wing", "flutter", "transfer"]:
        got = ids(retriever.retrieve(query, filters=filters))
        assert got == brute_force(retriever, query, filters)
        predicate = metadata_filters_to_predicate(filters)
        assert all(predicate(n.metadata) for n in retriever.get_nodes(got))


def test_a_filter_fills_the_top_k_from_below(nodes):
    # Unfiltered top-2 for "supersonic" are aero/structures docs; the filter keeps n2 only
    # among them, so the top-k is not "top-2 then filter" (which would return fewer).
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=2)
    heat_or_cone = MetadataFilters(
        filters=[MetadataFilter(key="tags", value=["boundary"], operator="any")]
    )
    out = retriever.retrieve("supersonic boundary", filters=heat_or_cone)
    assert len(out) == 2
    assert all("boundary" in n.node.metadata["tags"] for n in out)


async def test_aretrieve_matches_retrieve(nodes):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3)
    for query in QUERIES:
        assert ids(await retriever.aretrieve(query)) == ids(retriever.retrieve(query))
    aero = MetadataFilters(filters=[MetadataFilter(key="topic", value="aero")])
    assert ids(await retriever.aretrieve("supersonic", filters=aero)) == ids(
        retriever.retrieve("supersonic", filters=aero)
    )


def test_insert_and_delete_then_search_equals_a_fresh_build(nodes):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes[:5], similarity_top_k=4)
    retriever.insert(nodes[5:])
    assert retriever.delete(["n1", "n3", "not-there"]) == 2
    replacement = TextNode(
        id_="n2", text="Supersonic flutter of a boundary layer wing.", metadata={"topic": "new"}
    )
    retriever.insert([replacement])
    final = [n for n in nodes if n.node_id not in {"n1", "n2", "n3"}] + [replacement]
    fresh = RankwiseBM25Retriever.from_defaults(nodes=final, similarity_top_k=4)
    assert len(retriever) == len(fresh) == 6
    assert sorted(retriever.node_ids) == sorted(n.node_id for n in final)
    assert_same_rankings(retriever, fresh)
    assert retriever.get_nodes(["n2"])[0].metadata == {"topic": "new"}


def test_delete_ref_doc_removes_the_nodes_of_a_document():
    doc_a = Document(id_="doc-a", text="unused")
    doc_b = Document(id_="doc-b", text="unused")
    chunks = []
    for i, (doc, text) in enumerate(
        [(doc_a, "flutter one"), (doc_a, "flutter two"), (doc_b, "flutter three")]
    ):
        chunk = TextNode(id_=f"c{i}", text=text)
        chunk.relationships[NodeRelationship.SOURCE] = doc.as_related_node_info()
        chunks.append(chunk)
    retriever = RankwiseBM25Retriever(chunks, similarity_top_k=5)
    assert retriever.delete_ref_doc("doc-a") == 2
    assert ids(retriever.retrieve("flutter")) == ["c2"]


def test_persistence_round_trip_restores_every_setting(nodes, tmp_path):
    no_stemming = {"tokenizer": "standard", "filter": ["lowercase"]}
    default_filters = MetadataFilters(
        filters=[MetadataFilter(key="topic", value="food", operator="!=")]
    )
    extra = Document(id_="doc-x", text="Flutters and fluttering panels.", metadata={"year": 1970})
    retriever = RankwiseBM25Retriever.from_defaults(
        nodes=[*nodes, extra],
        analyzer=no_stemming,
        k1=0.9,
        b=0.4,
        inverted_index_algo="DAAT_WAND",
        similarity_top_k=3,
        filters=default_filters,
        text_metadata_mode=MetadataMode.EMBED,
    )
    # Without stemming "flutter" does not match "Flutters"/"fluttering".
    assert "doc-x" not in ids(retriever.retrieve("flutter"))
    retriever.persist(tmp_path / "bm25")
    loaded = RankwiseBM25Retriever.from_persist_dir(tmp_path / "bm25")

    store = loaded.store
    assert isinstance(store, BM25Index)
    assert store.analyzer.config == no_stemming
    assert (store.k1, store.b, store.inverted_index_algo) == (0.9, 0.4, "DAAT_WAND")
    assert loaded.similarity_top_k == 3
    assert loaded.filters == default_filters
    assert loaded.text_metadata_mode == MetadataMode.EMBED
    assert_same_rankings(retriever, loaded)
    assert "doc-x" not in ids(loaded.retrieve("flutter"))
    assert ids(loaded.retrieve("flutters")) == ["doc-x"]

    # Node text, metadata, relationships and class round-trip.
    originals = {n.node_id: n for n in [*nodes, extra]}
    restored = {n.node_id: n for n in loaded.get_nodes()}
    assert restored.keys() == originals.keys()
    for node_id, node in originals.items():
        assert type(restored[node_id]) is type(node)
        assert restored[node_id].get_content() == node.get_content()
        assert restored[node_id].metadata == node.metadata
        assert restored[node_id].relationships == node.relationships

    # The loaded retriever keeps working: updates after loading.
    loaded.insert([TextNode(id_="late", text="flutter flutter flutter", metadata={})])
    assert ids(loaded.retrieve("flutter"))[0] == "late"


def test_callable_analyzer_must_be_given_again_at_load(nodes, tmp_path):
    def split(text: str) -> list[str]:
        return text.lower().split()

    retriever = RankwiseBM25Retriever(nodes, analyzer=split, similarity_top_k=3)
    retriever.persist(tmp_path / "r")
    with pytest.raises(ValueError, match="analyzer="):
        RankwiseBM25Retriever.from_persist_dir(tmp_path / "r")
    loaded = RankwiseBM25Retriever.from_persist_dir(tmp_path / "r", analyzer=split)
    assert_same_rankings(retriever, loaded)


def test_from_persist_dir_rejects_other_directories(tmp_path):
    with pytest.raises(ValueError, match="persist_dir"):
        RankwiseBM25Retriever.from_persist_dir(tmp_path)
    (tmp_path / "retriever.json").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="persist_dir"):
        RankwiseBM25Retriever.from_persist_dir(tmp_path)


def test_empty_query_and_empty_index(nodes):
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes)
    assert retriever.retrieve("   ") == []
    assert retriever.retrieve("zzzz unknown words") == []
    empty = RankwiseBM25Retriever.from_defaults(nodes=[])
    assert empty.retrieve("flutter") == []
    assert len(empty) == 0
    assert bool(empty)
    empty.insert(nodes[:1])
    assert ids(empty.retrieve("flutter")) == ["n0"]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"similarity_top_k": 0}, "similarity_top_k"),
        ({"similarity_top_k": True}, "similarity_top_k"),
        ({"similarity_top_k": "3"}, "similarity_top_k"),
        ({"filters": {"topic": "aero"}}, "filters"),
        ({"text_metadata_mode": "loud"}, "text_metadata_mode"),
        ({"k1": -1.0}, "k1"),
    ],
)
def test_bad_arguments(nodes, kwargs: dict[str, Any], argument: str):
    with pytest.raises(ValueError, match=argument):
        RankwiseBM25Retriever.from_defaults(nodes=nodes, **kwargs)


def test_ids_and_counts_follow_the_core_rules(nodes):
    """One rule per argument (``rankwise._checks``): a NumPy integer is a count, an empty or
    non-str node id is refused by name, as every rankwise store refuses it."""
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=np.int64(2))
    assert retriever.similarity_top_k == 2
    assert type(retriever.similarity_top_k) is int
    with pytest.raises(ValueError, match=r"^node_ids\[1\] must be a non-empty str"):
        retriever.delete(["n0", ""])
    with pytest.raises(TypeError, match=r"^node_ids\[0\] must be a str, got int"):
        retriever.delete([7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^ref_doc_id must be a str"):
        retriever.delete_ref_doc(None)  # type: ignore[arg-type]
    assert len(retriever.retrieve("flutter")) >= 1


def test_bad_sources_and_updates(nodes):
    with pytest.raises(ValueError, match="one of index, nodes or docstore"):
        RankwiseBM25Retriever.from_defaults()
    with pytest.raises(ValueError, match="only one"):
        RankwiseBM25Retriever.from_defaults(nodes=nodes, docstore=SimpleDocumentStore())
    with pytest.raises(ValueError, match="index"):
        RankwiseBM25Retriever.from_defaults(index=nodes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no nodes in its docstore"):
        RankwiseBM25Retriever.from_defaults(
            index=VectorStoreIndex([], embed_model=MockEmbedding(embed_dim=8))
        )
    with pytest.raises(ValueError, match="docstore"):
        RankwiseBM25Retriever.from_defaults(docstore={"n0": nodes[0]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"nodes\[1\]"):
        RankwiseBM25Retriever.from_defaults(nodes=[nodes[0], "text"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="twice"):
        RankwiseBM25Retriever.from_defaults(nodes=[nodes[0], nodes[0]])
    retriever = RankwiseBM25Retriever.from_defaults(nodes=nodes)
    with pytest.raises(ValueError, match="node_ids"):
        retriever.delete("n1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nodes"):
        retriever.insert(nodes[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="similarity_top_k"):
        retriever.similarity_top_k = 0
    bad_filter = MetadataFilters(filters=[MetadataFilter(key="topic", value="x", operator="in")])
    with pytest.raises(ValueError, match="filters"):
        retriever.retrieve("flutter", filters=bad_filter)
