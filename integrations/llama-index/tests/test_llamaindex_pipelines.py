"""End to end inside LlamaIndex: query engines, vector index + BM25 hybrid, QueryFusionRetriever,
spec-string rerankers (a tiny local cross-encoder and the fake loopback Cohere API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.postprocessor.rankwise import RankwiseRerank
from llama_index.retrievers.rankwise import RankwiseBM25Retriever, RankwiseHybridRetriever

from rankwise.rerankers import CrossEncoderReranker
from rankwise.rerankers.errors import RerankError
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score


def ids(nodes) -> list[str]:
    return [n.node.node_id for n in nodes]


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankwise.testing.tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-ce")


@pytest.fixture
def fake_api() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as server:
        yield server


def cohere_rerank(server: FakeRerankServer, **kwargs) -> RankwiseRerank:
    return RankwiseRerank(
        "cohere:rerank-v3.5",
        reranker_kwargs={"api_key": "test-key", "base_url": server.url},
        **kwargs,
    )


def test_query_engine_with_bm25_and_rerank_sync(nodes, overlap_reranker, events):
    bm25 = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=6)
    engine = RetrieverQueryEngine.from_args(
        bm25,
        llm=MockLLM(),
        node_postprocessors=[RankwiseRerank(overlap_reranker, top_n=2)],
    )
    response = engine.query("supersonic wing flutter")
    retrieved = bm25.retrieve("supersonic wing flutter")
    expected = RankwiseRerank(overlap_reranker, top_n=2).postprocess_nodes(
        retrieved, query_str="supersonic wing flutter"
    )
    assert ids(response.source_nodes) == ids(expected)
    assert [n.score for n in response.source_nodes] == [n.score for n in expected]
    assert len(events.of(ReRankStartEvent)) == 2
    assert len(events.of(ReRankEndEvent)) == 2


async def test_query_engine_with_bm25_and_rerank_async(nodes, overlap_reranker, events):
    bm25 = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=6)
    post = RankwiseRerank(overlap_reranker, top_n=2)
    engine = RetrieverQueryEngine.from_args(bm25, llm=MockLLM(), node_postprocessors=[post])
    response = await engine.aquery("supersonic wing flutter")
    assert ids(response.source_nodes) == ["n0", "n6"]
    assert overlap_reranker.async_calls == 1  # the native async path, not a thread
    (start,) = events.of(ReRankStartEvent)
    assert ids(start.nodes) == ids(bm25.retrieve("supersonic wing flutter"))


def test_vector_index_plus_bm25_hybrid(nodes):
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    dense = index.as_retriever(similarity_top_k=3)
    bm25 = RankwiseBM25Retriever.from_defaults(index=index, similarity_top_k=3)
    hybrid = RankwiseHybridRetriever([dense, bm25], similarity_top_k=None)
    query = "cylindrical shells buckling"
    dense_ids, bm25_ids = ids(dense.retrieve(query)), ids(bm25.retrieve(query))
    fused = hybrid.retrieve(query)
    assert set(ids(fused)) == set(dense_ids) | set(bm25_ids)
    assert "n3" in bm25_ids
    # Weighting BM25 up puts its best document first.
    weighted = RankwiseHybridRetriever([dense, bm25], weights=[1.0, 3.0], similarity_top_k=1)
    assert ids(weighted.retrieve(query)) == ["n3"]


async def test_vector_index_plus_bm25_hybrid_async_with_reranker(nodes, overlap_reranker):
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    hybrid = RankwiseHybridRetriever(
        [index.as_retriever(similarity_top_k=4), RankwiseBM25Retriever(nodes, similarity_top_k=4)],
        reranker=overlap_reranker,
        similarity_top_k=2,
    )
    query = "heat transfer boundary layer"
    out = await hybrid.aretrieve(query)
    assert ids(out) == ids(hybrid.retrieve(query))
    assert len(out) == 2
    assert set(ids(out)) == {"n1", "n7"}  # the two documents with all four words


def test_query_fusion_retriever_takes_our_bm25(nodes):
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    bm25 = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3)
    fusion = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=3), bm25],
        llm=MockLLM(),
        num_queries=1,
        mode="reciprocal_rerank",
        similarity_top_k=4,
        use_async=False,
    )
    out = fusion.retrieve("cylindrical shells buckling")
    assert "n3" in ids(out)
    assert len(out) <= 4


async def test_query_fusion_retriever_async_with_our_bm25(nodes):
    bm25 = RankwiseBM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3)
    fusion = QueryFusionRetriever(
        [bm25], llm=MockLLM(), num_queries=1, similarity_top_k=2, use_async=True
    )
    out = await fusion.aretrieve("cylindrical shells buckling")
    assert ids(out)[0] == "n3"


def test_tiny_cross_encoder_spec_and_serialization(nodes, tiny_cross_encoder):
    spec = f"cross-encoder:{tiny_cross_encoder}"
    post = RankwiseRerank(spec, top_n=3, reranker_kwargs={"show_progress": False})
    assert post.model == spec
    inputs = [NodeWithScore(node=n, score=1.0) for n in nodes]
    out = post.postprocess_nodes(inputs, query_str="wing flow pressure")
    direct = CrossEncoderReranker(str(tiny_cross_encoder), show_progress=False).rerank(
        "wing flow pressure", [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    )
    assert ids(out) == [nodes[r.index].node_id for r in direct[:3]]
    assert [n.score for n in out] == pytest.approx([r.score for r in direct[:3]], abs=1e-5)

    data = post.to_dict()
    assert data["class_name"] == "RankwiseRerank"
    assert data["model"] == spec
    rebuilt = RankwiseRerank.from_dict(data)
    assert isinstance(rebuilt, RankwiseRerank)
    assert rebuilt.top_n == 3
    again = rebuilt.postprocess_nodes(inputs, query_str="wing flow pressure")
    assert ids(again) == ids(out)
    assert [n.score for n in again] == pytest.approx([n.score for n in out], abs=1e-5)


def test_hybrid_with_a_spec_string_reranker(nodes, tiny_cross_encoder):
    hybrid = RankwiseHybridRetriever(
        [RankwiseBM25Retriever(nodes, similarity_top_k=4)],
        reranker=f"cross-encoder:{tiny_cross_encoder}",
        similarity_top_k=2,
    )
    out = hybrid.retrieve("supersonic flow")
    assert len(out) == 2
    candidates = RankwiseBM25Retriever(nodes, similarity_top_k=4).retrieve("supersonic flow")
    # the hybrid reranks every candidate and keeps the reranker's two best, with its scores
    direct = CrossEncoderReranker(str(tiny_cross_encoder), show_progress=False).rerank(
        "supersonic flow",
        [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in candidates],
    )
    assert ids(out) == [candidates[r.index].node.node_id for r in direct[:2]]
    assert [n.score for n in out] == pytest.approx([r.score for r in direct[:2]], abs=1e-5)


@pytest.mark.parametrize(
    "spec", ["cohere:rerank-v3.5", "voyage:rerank-2.5", "jina:jina-reranker-v2-base-multilingual"]
)
async def test_rerank_apis_through_the_fake_server(nodes, fake_api, spec):
    provider = spec.split(":")[0]
    post = RankwiseRerank(
        spec,
        top_n=2,
        reranker_kwargs={"api_key": "test-key", "base_url": fake_api.base_url(provider)},
    )
    assert post.model == spec
    inputs = [NodeWithScore(node=n, score=0.0) for n in nodes]
    texts = {n.node_id: n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes}
    expected = sorted(nodes, key=lambda n: -overlap_score("supersonic flutter", texts[n.node_id]))
    out = post.postprocess_nodes(inputs, query_str="supersonic flutter")
    assert ids(out) == [n.node_id for n in expected[:2]]
    assert [n.score for n in out] == pytest.approx(
        [overlap_score("supersonic flutter", texts[n.node_id]) for n in expected[:2]]
    )
    aout = await post.apostprocess_nodes(inputs, query_str="supersonic flutter")
    assert ids(aout) == ids(out)
    requests = fake_api.requests_for(provider)
    assert len(requests) == 2
    for request in requests:
        assert request.json["query"] == "supersonic flutter"
        assert request.json["documents"] == [texts[n.node_id] for n in nodes]


async def test_two_apostprocess_against_a_slow_api_take_about_one_delay(nodes, fake_api, stopwatch):
    fake_api.default = Reply.ok(delay=0.5)
    post = cohere_rerank(fake_api, top_n=2)
    inputs = [NodeWithScore(node=n, score=0.0) for n in nodes]
    results: list[list] = []

    async def both() -> None:
        results[:] = await asyncio.gather(
            post.apostprocess_nodes(inputs, query_bundle=QueryBundle("supersonic flutter")),
            post.apostprocess_nodes(inputs, query_bundle=QueryBundle("heat transfer")),
        )

    elapsed = await stopwatch.abest(both, under=0.85)
    assert elapsed < 0.85, f"the two rerank calls were serialized ({elapsed:.2f}s)"
    requests = fake_api.requests_for("cohere")
    assert len(requests) % 2 == 0
    assert {r.json["query"] for r in requests} == {"supersonic flutter", "heat transfer"}
    assert [len(r) for r in results] == [2, 2]


def test_api_errors_surface_as_rerank_errors(nodes, fake_api):
    fake_api.script(Reply.error(400, "bad request from test"))
    post = cohere_rerank(fake_api)
    with pytest.raises(RerankError, match="bad request from test"):
        post.postprocess_nodes([NodeWithScore(node=nodes[0], score=1.0)], query_str="flutter")
