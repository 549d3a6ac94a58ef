"""RankwiseRerank: ordering, copies, events, callbacks, async path, serialization, bad input."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.rankwise import RankwiseRerank

QUERY = "supersonic wing flutter"


def scored(nodes: list[TextNode]) -> list[NodeWithScore]:
    # Retrieval scores that are deliberately not the overlap order.
    return [NodeWithScore(node=n, score=float(i)) for i, n in enumerate(nodes)]


def test_reranks_by_the_rerankers_scores_and_keeps_top_n(nodes, overlap_reranker):
    inputs = scored(nodes)
    post = RankwiseRerank(overlap_reranker, top_n=3)
    out = post.postprocess_nodes(inputs, query_bundle=QueryBundle(QUERY))
    # Scored on the embed content (text + metadata): n0 has the three query words in its
    # text and "flutter", "wing" in its tags (5); n6 has two plus the "flutter" tag (3);
    # n4 has "wing" in text and tags (2).
    assert [n.node.node_id for n in out] == ["n0", "n6", "n4"]
    assert [n.score for n in out] == [5.0, 3.0, 2.0]
    assert post.model == "test:overlap"
    assert post.top_n == 3


def test_default_top_n_is_two_and_query_str_works(nodes, overlap_reranker):
    post = RankwiseRerank(overlap_reranker)
    out = post.postprocess_nodes(scored(nodes), query_str=QUERY)
    assert [n.node.node_id for n in out] == ["n0", "n6"]


def test_never_mutates_the_input(nodes, overlap_reranker):
    inputs = scored(nodes)
    before = copy.deepcopy([(n.score, n.node.metadata, n.node.text) for n in inputs])
    post = RankwiseRerank(overlap_reranker, top_n=8, keep_retrieval_score=True)
    out = post.postprocess_nodes(inputs, query_bundle=QueryBundle(QUERY))
    assert [(n.score, n.node.metadata, n.node.text) for n in inputs] == before
    input_objects = {id(n) for n in inputs} | {id(n.node) for n in inputs}
    for result in out:
        assert id(result) not in input_objects
        assert id(result.node) not in input_objects
        assert id(result.node.metadata) not in {id(n.node.metadata) for n in inputs}
    # Mutating a result leaves the input alone too.
    out[0].node.metadata["touched"] = True
    assert all("touched" not in n.node.metadata for n in inputs)


def test_keep_retrieval_score_records_the_previous_score(nodes, overlap_reranker):
    inputs = scored(nodes)
    out = RankwiseRerank(overlap_reranker, top_n=8, keep_retrieval_score=True).postprocess_nodes(
        inputs, query_str=QUERY
    )
    by_id = {n.node.node_id: n.score for n in inputs}
    assert len(out) == 8
    for result in out:
        assert result.node.metadata["retrieval_score"] == by_id[result.node.node_id]
    plain = RankwiseRerank(overlap_reranker, top_n=8).postprocess_nodes(inputs, query_str=QUERY)
    assert all("retrieval_score" not in n.node.metadata for n in plain)


def test_scores_the_embed_content_of_each_node(overlap_reranker):
    visible = TextNode(id_="visible", text="plain text", metadata={"section": "flutter"})
    hidden = TextNode(
        id_="hidden",
        text="plain text",
        metadata={"section": "flutter"},
        excluded_embed_metadata_keys=["section"],
    )
    out = RankwiseRerank(overlap_reranker).postprocess_nodes(
        [NodeWithScore(node=hidden, score=1.0), NodeWithScore(node=visible, score=0.5)],
        query_str="flutter",
    )
    assert [n.node.node_id for n in out] == ["visible", "hidden"]
    assert [n.score for n in out] == [1.0, 0.0]
    assert overlap_reranker.calls[-1][1] == [
        hidden.get_content(metadata_mode=MetadataMode.EMBED),
        visible.get_content(metadata_mode=MetadataMode.EMBED),
    ]
    # metadata_mode=NONE scores the bare text: both tie at 0, input order kept.
    none_mode = RankwiseRerank(overlap_reranker, metadata_mode=MetadataMode.NONE)
    out = none_mode.postprocess_nodes(
        [NodeWithScore(node=hidden, score=1.0), NodeWithScore(node=visible, score=0.5)],
        query_str="flutter",
    )
    assert [n.score for n in out] == [0.0, 0.0]


def test_emits_rerank_events_to_a_registered_handler(nodes, overlap_reranker, events):
    inputs = scored(nodes)
    post = RankwiseRerank(overlap_reranker, top_n=2)
    out = post.postprocess_nodes(inputs, query_bundle=QueryBundle(QUERY))
    (start,) = events.of(ReRankStartEvent)
    (end,) = events.of(ReRankEndEvent)
    assert start.model_name == "test:overlap"
    assert start.top_n == 2
    assert start.query.query_str == QUERY
    assert [n.node.node_id for n in start.nodes] == [n.node.node_id for n in inputs]
    assert [n.node.node_id for n in end.nodes] == [n.node.node_id for n in out]
    assert events.events.index(start) < events.events.index(end)


async def test_async_path_uses_the_native_arerank_and_emits_events(nodes, overlap_reranker, events):
    post = RankwiseRerank(overlap_reranker, top_n=3)
    out = await post.apostprocess_nodes(scored(nodes), query_bundle=QueryBundle(QUERY))
    assert [n.node.node_id for n in out] == ["n0", "n6", "n4"]
    assert [n.score for n in out] == [5.0, 3.0, 2.0]
    assert overlap_reranker.async_calls == 1
    assert len(events.of(ReRankStartEvent)) == 1
    assert len(events.of(ReRankEndEvent)) == 1


def test_reports_a_reranking_callback_event(nodes, overlap_reranker):
    debug = LlamaDebugHandler()
    post = RankwiseRerank(overlap_reranker, top_n=2, callback_manager=CallbackManager([debug]))
    out = post.postprocess_nodes(scored(nodes), query_str=QUERY)
    ((start, end),) = debug.get_event_pairs(CBEventType.RERANKING)
    assert start.payload is not None
    assert end.payload is not None
    assert start.payload["model_name"] == "test:overlap"
    assert start.payload["top_k"] == 2
    assert start.payload["query_str"] == QUERY
    assert [n.node.node_id for n in end.payload["nodes"]] == [n.node.node_id for n in out]


def test_missing_query_and_empty_nodes(nodes, overlap_reranker, events):
    post = RankwiseRerank(overlap_reranker)
    with pytest.raises(ValueError, match="query_bundle"):
        post.postprocess_nodes(scored(nodes))
    assert post.postprocess_nodes([], query_str=QUERY) == []
    assert overlap_reranker.calls == []
    assert events.of(ReRankStartEvent) == []


async def test_async_missing_query_and_empty_nodes(nodes, overlap_reranker):
    post = RankwiseRerank(overlap_reranker)
    with pytest.raises(ValueError, match="query_bundle"):
        await post.apostprocess_nodes(scored(nodes))
    assert await post.apostprocess_nodes([], query_str=QUERY) == []


def test_class_name_and_to_dict(overlap_reranker):
    post = RankwiseRerank(overlap_reranker, top_n=4, keep_retrieval_score=True)
    assert RankwiseRerank.class_name() == "RankwiseRerank"
    data = post.to_dict()
    assert data["class_name"] == "RankwiseRerank"
    assert data["model"] == "test:overlap"
    assert data["top_n"] == 4
    assert data["keep_retrieval_score"] is True
    assert "callback_manager" not in data
    assert post.reranker is overlap_reranker


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"top_n": 0}, "top_n"),
        ({"top_n": -1}, "top_n"),
        ({"top_n": True}, "top_n"),
        ({"top_n": "2"}, "top_n"),
        ({"model": ""}, "model"),
        ({"metadata_mode": "everything"}, "metadata_mode"),
        ({"keep_retrieval_score": "yes"}, "keep_retrieval_score"),
        ({"reranker_kwargs": {"api_key": "x"}}, "reranker_kwargs"),
    ],
)
def test_bad_arguments_name_the_argument(overlap_reranker, kwargs: dict[str, Any], argument):
    with pytest.raises(ValueError, match=argument):
        RankwiseRerank(overlap_reranker, **kwargs)


def test_bad_reranker_argument():
    with pytest.raises(ValueError, match="reranker"):
        RankwiseRerank(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reranker"):
        RankwiseRerank("  ")
    with pytest.raises(ValueError, match="or model"):
        RankwiseRerank()


def test_empty_query_is_rejected_by_the_reranker(nodes, overlap_reranker):
    with pytest.raises(ValueError, match="query"):
        RankwiseRerank(overlap_reranker).postprocess_nodes(scored(nodes), query_str="  ")
