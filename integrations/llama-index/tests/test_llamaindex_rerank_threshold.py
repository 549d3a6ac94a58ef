"""RankwiseRerank(score_threshold=...) as in LangChain, and which text each framework scores."""

from __future__ import annotations

import pytest
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.rankwise import RankwiseRerank

QUERY = "supersonic wing flutter"


def scored(nodes: list[TextNode]) -> list[NodeWithScore]:
    return [NodeWithScore(node=n, score=float(i)) for i, n in enumerate(nodes)]


def test_score_threshold_drops_low_scores(nodes, overlap_reranker):
    everything = RankwiseRerank(overlap_reranker, top_n=8).postprocess_nodes(
        scored(nodes), query_str=QUERY
    )
    post = RankwiseRerank(overlap_reranker, top_n=8, score_threshold=2.0)
    kept = post.postprocess_nodes(scored(nodes), query_str=QUERY)
    assert [n.node.node_id for n in kept] == [
        n.node.node_id for n in everything if n.score is not None and n.score >= 2.0
    ]
    assert len(kept) < len(everything)
    assert post.to_dict()["score_threshold"] == 2.0


async def test_score_threshold_on_the_async_path(nodes, overlap_reranker):
    post = RankwiseRerank(overlap_reranker, top_n=8, score_threshold=3.0)
    kept = await post.apostprocess_nodes(scored(nodes), query_bundle=QueryBundle(QUERY))
    assert kept
    assert all(n.score is not None and n.score >= 3.0 for n in kept)


@pytest.mark.parametrize("bad", ["high", True, float("nan")])
def test_bad_threshold_names_the_argument(overlap_reranker, bad):
    with pytest.raises(ValueError, match="score_threshold"):
        RankwiseRerank(overlap_reranker, score_threshold=bad)


def test_metadata_mode_none_scores_what_langchain_scores(nodes, overlap_reranker):
    lc = pytest.importorskip("langchain_rankwise")
    from langchain_core.documents import Document

    docs = [Document(page_content=n.get_content(), metadata=dict(n.metadata)) for n in nodes]
    lc_out = lc.RankwiseRerank(reranker=overlap_reranker, top_n=4).compress_documents(docs, QUERY)
    li_out = RankwiseRerank(
        overlap_reranker, top_n=4, metadata_mode=MetadataMode.NONE
    ).postprocess_nodes(scored(nodes), query_str=QUERY)
    assert [d.page_content for d in lc_out] == [n.node.get_content() for n in li_out]
    assert [d.metadata["relevance_score"] for d in lc_out] == [n.score for n in li_out]
