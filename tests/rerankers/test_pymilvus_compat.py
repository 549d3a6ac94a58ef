"""rankwise.compat.pymilvus against pymilvus-model itself: same signatures and defaults, same
orders and scores on tiny models and the fake API, same environment variables, same result
objects, same BM25 vectors and file format."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankwise.compat import pymilvus as compat
from rankwise.rerankers import RerankError, RetryPolicy
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score
from rankwise.types import RerankResult as RankwiseResult

QUERY = "capital of france"
DOCS = [
    "berlin is the capital of germany",
    "paris is the capital of france",
    "the seine flows through paris",
    "france has many rivers",
    "bananas are yellow",
    "capital letters",
    "the tower in paris france",
]
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
RERANK_CLASSES = [
    "BGERerankFunction",
    "CrossEncoderRerankFunction",
    "CohereRerankFunction",
    "VoyageRerankFunction",
    "JinaRerankFunction",
    "TEIRerankFunction",
]
API_KEY_VARS = ["CO_API_KEY", "COHERE_API_KEY", "VOYAGE_API_KEY", "JINAAI_API_KEY", "JINA_API_KEY"]


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_KEY_VARS:
        monkeypatch.delenv(name, raising=False)


def pm_reranker() -> Any:
    return pytest.importorskip("pymilvus.model.reranker")


def fake_order(docs: list[str]) -> list[int]:
    scores = [overlap_score(QUERY, d) for d in docs]
    return sorted(range(len(docs)), key=lambda i: (-scores[i], i))


# -- signatures ------------------------------------------------------------------------------
def _params(func: Any) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


@pytest.mark.parametrize("name", RERANK_CLASSES)
def test_constructor_and_call_signatures_match_pymilvus_model(name: str) -> None:
    theirs = getattr(pm_reranker(), name)
    ours = getattr(compat, name)
    their_init, our_init = _params(theirs.__init__), _params(ours.__init__)
    for param, default in their_init.items():
        assert param in our_init, f"{name} lacks {param}="
        assert our_init[param] == default, f"{name}({param}=) defaults differ"
    # the positional order of pymilvus-model's parameters is kept
    assert list(our_init)[: len(their_init)] == list(their_init)
    assert (
        _params(ours.__call__)
        == _params(theirs.__call__)
        == {
            "query": inspect.Parameter.empty,
            "documents": inspect.Parameter.empty,
            "top_k": 5,
        }
    )


def test_bm25_signature_matches_pymilvus_model() -> None:
    sparse = pytest.importorskip("pymilvus.model.sparse")
    assert _params(compat.BM25EmbeddingFunction.__init__) == _params(
        sparse.BM25EmbeddingFunction.__init__
    )
    for method in ("fit", "encode_queries", "encode_documents", "save", "load"):
        assert list(_params(getattr(compat.BM25EmbeddingFunction, method))) == list(
            _params(getattr(sparse.BM25EmbeddingFunction, method))
        )


# -- local models: same order and scores as pymilvus-model -----------------------------------
def _same(ours: list[Any], theirs: list[Any]) -> None:
    assert [r.index for r in ours] == [r.index for r in theirs]
    assert [r.text for r in ours] == [r.text for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a.score == pytest.approx(float(b.score), rel=1e-4, abs=1e-5)


def test_cross_encoder_matches_pymilvus_model(bert_dir: Path) -> None:
    pytest.importorskip("sentence_transformers")
    theirs = pm_reranker().CrossEncoderRerankFunction(str(bert_dir), device="cpu")
    ours = compat.CrossEncoderRerankFunction(str(bert_dir), device="cpu")
    for top_k in (5, 3, None):
        _same(ours(QUERY, DOCS, top_k=top_k), theirs(QUERY, DOCS, top_k=top_k))
    _same(ours(QUERY, DOCS), theirs(QUERY, DOCS))
    assert len(ours(QUERY, DOCS)) == 5


@pytest.mark.parametrize("kind", ["sigmoid", "identity", "custom"])
def test_cross_encoder_activation_fct_matches_pymilvus_model(bert_dir: Path, kind: str) -> None:
    pytest.importorskip("sentence_transformers")
    import torch

    def make() -> Any:
        if kind == "sigmoid":
            return torch.nn.Sigmoid()
        if kind == "identity":
            return torch.nn.Identity()
        return lambda t: torch.tanh(t) * 3

    theirs = pm_reranker().CrossEncoderRerankFunction(
        str(bert_dir), device="cpu", activation_fct=make()
    )
    ours = compat.CrossEncoderRerankFunction(str(bert_dir), device="cpu", activation_fct=make())
    _same(ours(QUERY, DOCS, top_k=None), theirs(QUERY, DOCS, top_k=None))


def test_bge_matches_pymilvus_model(xlmr_dir: Path) -> None:
    # FlagEmbedding 1.4.2 does not import under transformers 5; rankwise's shim lets it, so
    # pymilvus-model's own class can run here for the comparison.
    from rankwise.rerankers._flagembedding import import_flagembedding

    try:
        import_flagembedding()
    except ImportError as exc:  # pragma: no cover - FlagEmbedding is in the bge extra
        pytest.skip(f"FlagEmbedding is not importable: {exc}")
    theirs = pm_reranker().BGERerankFunction(
        str(xlmr_dir), device="cpu", model_class="encoder-only-base"
    )
    ours = compat.BGERerankFunction(str(xlmr_dir), device="cpu")
    for top_k in (5, 2, None):
        _same(ours(QUERY, DOCS, top_k=top_k), theirs(QUERY, DOCS, top_k=top_k))
    raw = compat.BGERerankFunction(str(xlmr_dir), device="cpu", normalize=False)
    scores = [r.score for r in raw(QUERY, DOCS, top_k=None)]
    assert any(s < 0 or s > 1 for s in scores)  # raw logits, not sigmoids
    assert [r.index for r in raw(QUERY, DOCS)] == [r.index for r in ours(QUERY, DOCS)]


async def test_local_functions_have_async_twin(bert_dir: Path) -> None:
    ours = compat.CrossEncoderRerankFunction(str(bert_dir), device="cpu")
    assert await ours.arerank(QUERY, DOCS, top_k=3) == ours(QUERY, DOCS, top_k=3)


# -- results ---------------------------------------------------------------------------------
def test_results_are_pymilvus_shaped_rankwise_results(bert_dir: Path) -> None:
    base = pytest.importorskip("pymilvus.model.base")
    results = compat.CrossEncoderRerankFunction(str(bert_dir))(QUERY, DOCS, top_k=2)
    for r in results:
        assert isinstance(r, RankwiseResult)
        theirs = base.RerankResult(text=r.text, score=r.score, index=r.index)
        assert repr(r) == repr(theirs)
        assert str(r) == str(theirs)
        assert r.to_dict() == theirs.to_dict()


def test_top_k_zero_or_none_keeps_everything_and_bad_top_k_is_a_value_error(
    bert_dir: Path,
) -> None:
    ours = compat.CrossEncoderRerankFunction(str(bert_dir))
    assert len(ours(QUERY, DOCS, top_k=0)) == len(DOCS)
    assert len(ours(QUERY, DOCS, top_k=None)) == len(DOCS)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="top_k"):
            ours(QUERY, DOCS, top_k=bad)


def test_cross_encoder_needs_a_model_name() -> None:
    with pytest.raises(ValueError, match="model_name"):
        compat.CrossEncoderRerankFunction()


# -- API functions ---------------------------------------------------------------------------
def _api(name: str, server: FakeRerankServer, **kwargs: Any) -> Any:
    kwargs.setdefault("retry", FAST)
    cls = getattr(compat, name)
    if name == "TEIRerankFunction":
        return cls(server.base_url("tei"), **kwargs)
    provider = name.removesuffix("RerankFunction").lower()
    kwargs.setdefault("api_key", "k")
    return cls(base_url=server.base_url(provider), **kwargs)


@pytest.mark.parametrize(
    "name",
    ["CohereRerankFunction", "VoyageRerankFunction", "JinaRerankFunction", "TEIRerankFunction"],
)
def test_api_functions_default_top_k_order_and_text(name: str, fake_api: FakeRerankServer) -> None:
    fn = _api(name, fake_api)
    results = fn(QUERY, DOCS)
    assert [r.index for r in results] == fake_order(DOCS)[:5]
    assert [r.text for r in results] == [DOCS[i] for i in fake_order(DOCS)[:5]]
    assert [r.index for r in fn(QUERY, DOCS, top_k=None)] == fake_order(DOCS)


@pytest.mark.parametrize(
    "name",
    ["CohereRerankFunction", "VoyageRerankFunction", "JinaRerankFunction", "TEIRerankFunction"],
)
async def test_api_functions_retry_and_async(name: str, fake_api: FakeRerankServer) -> None:
    fn = _api(name, fake_api)
    fake_api.script(Reply.rate_limited(retry_after=0), Reply.ok())
    assert [r.index for r in await fn.arerank(QUERY, DOCS, top_k=2)] == fake_order(DOCS)[:2]
    assert len(fake_api.requests) == 2
    fake_api.default = Reply.server_error()
    with pytest.raises(RerankError) as info:
        fn(QUERY, DOCS)
    assert info.value.attempts == 3


def test_tei_matches_pymilvus_model(fake_api: FakeRerankServer) -> None:
    theirs = pm_reranker().TEIRerankFunction(fake_api.base_url("tei"))
    ours = compat.TEIRerankFunction(fake_api.base_url("tei"))
    assert ours.api_url == theirs.api_url
    _same(ours(QUERY, DOCS), theirs(QUERY, DOCS))
    # pymilvus-model always cuts to five; rankwise honours top_k
    assert len(ours(QUERY, DOCS, top_k=2)) == 2


def test_jina_matches_pymilvus_model(
    fake_api: FakeRerankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    jinaai = pytest.importorskip("pymilvus.model.reranker.jinaai")
    # pymilvus-model posts to a module constant; point it at the fake (test-only)
    monkeypatch.setattr(jinaai, "API_URL", f"{fake_api.base_url('jina')}/v1/rerank")
    theirs = jinaai.JinaRerankFunction(api_key="k")
    ours = compat.JinaRerankFunction(api_key="k", base_url=fake_api.base_url("jina"))
    for top_k in (5, 2):
        _same(ours(QUERY, DOCS, top_k=top_k), theirs(QUERY, DOCS, top_k=top_k))


def test_voyage_matches_pymilvus_model(
    fake_api: FakeRerankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reranker_module = pytest.importorskip("pymilvus.model.reranker.voyageai")
    base = pytest.importorskip("voyageai._base")
    # voyageai.Client takes its URL from get_default_base_url when none is passed (test-only)
    monkeypatch.setattr(base, "get_default_base_url", lambda *_: fake_api.base_url("voyage"))
    theirs = reranker_module.VoyageRerankFunction(api_key="k")
    ours = compat.VoyageRerankFunction(api_key="k", base_url=fake_api.base_url("voyage"))
    for top_k in (5, 2):
        _same(ours(QUERY, DOCS, top_k=top_k), theirs(QUERY, DOCS, top_k=top_k))
    assert fake_api.requests[0].json["model"] == fake_api.requests[-1].json["model"] == "rerank-2"


def test_jina_reads_pymilvus_env_var_then_rankwise_one(
    fake_api: FakeRerankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="JINAAI_API_KEY"):
        compat.JinaRerankFunction(base_url=fake_api.base_url("jina"))
    monkeypatch.setenv("JINA_API_KEY", "rankwise-key")
    assert compat.JinaRerankFunction().api_key == "rankwise-key"
    monkeypatch.setenv("JINAAI_API_KEY", "pymilvus-key")
    fn = compat.JinaRerankFunction(base_url=fake_api.base_url("jina"), retry=FAST)
    assert fn.api_key == "pymilvus-key"
    fn(QUERY, DOCS)
    assert fake_api.requests[-1].headers["authorization"] == "Bearer pymilvus-key"
    assert fake_api.requests[-1].json["model"] == "jina-reranker-v2-base-multilingual"


def test_cohere_reads_sdk_env_var_and_return_documents(
    fake_api: FakeRerankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="CO_API_KEY"):
        compat.CohereRerankFunction(base_url=fake_api.url)
    monkeypatch.setenv("CO_API_KEY", "co-key")
    fn = compat.CohereRerankFunction(base_url=fake_api.url, return_documents=False, retry=FAST)
    results = fn(QUERY, DOCS, top_k=2)
    assert [(r.index, r.text) for r in results] == [(i, "") for i in fake_order(DOCS)[:2]]
    request = fake_api.requests[-1]
    assert request.headers["authorization"] == "Bearer co-key"
    assert request.json["model"] == "rerank-english-v3.0"


def test_voyage_env_var_and_default_model(
    fake_api: FakeRerankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="VOYAGE_API_KEY"):
        compat.VoyageRerankFunction(base_url=fake_api.base_url("voyage"))
    monkeypatch.setenv("VOYAGE_API_KEY", "vo-key")
    fn = compat.VoyageRerankFunction(base_url=fake_api.base_url("voyage"), retry=FAST)
    fn(QUERY, DOCS)
    assert fake_api.requests[-1].json["model"] == "rerank-2"


# -- BM25 ------------------------------------------------------------------------------------
CORPUS = [
    "The Dartmouth Conference in 1956 is considered the birthplace of artificial intelligence",
    "Alan Turing published Computing Machinery and Intelligence in 1950",
    "Turing also developed the first program designed to play chess",
    "The Logic Theorist was the first true AI program, proving theorems",
    "Milvus stores vectors; BM25 ranks documents by term statistics",
]
QUERIES = ["birth of artificial intelligence", "Turing chess program program", "vectors"]


def test_default_analyzer_is_offline_english() -> None:
    analyzer = compat.build_default_analyzer()
    assert analyzer("The cats are loving the Loves of IT") == ["cat", "love", "love"]
    with pytest.raises(ValueError, match="language"):
        compat.build_default_analyzer("xx")


def test_bm25_vectors_equal_pymilvus_model_with_the_same_analyzer(tmp_path: Path) -> None:
    sparse = pytest.importorskip("pymilvus.model.sparse")
    analyzer = compat.build_default_analyzer("en")
    theirs = sparse.BM25EmbeddingFunction(analyzer=analyzer, corpus=CORPUS)
    ours = compat.BM25EmbeddingFunction(analyzer=analyzer, corpus=CORPUS)
    assert ours.dim == theirs.dim
    np.testing.assert_allclose(
        ours.encode_documents(CORPUS).toarray(), theirs.encode_documents(CORPUS).toarray()
    )
    np.testing.assert_allclose(
        ours.encode_queries(QUERIES).toarray(), theirs.encode_queries(QUERIES).toarray()
    )
    # files move both ways
    ours.save(tmp_path / "ours.json")
    theirs.save(tmp_path / "theirs.json")
    back = compat.BM25EmbeddingFunction(analyzer=analyzer)
    back.load(tmp_path / "theirs.json")
    np.testing.assert_allclose(
        back.encode_queries(QUERIES).toarray(), theirs.encode_queries(QUERIES).toarray()
    )
    other = sparse.BM25EmbeddingFunction(analyzer=analyzer)
    other.load(str(tmp_path / "ours.json"))
    np.testing.assert_allclose(
        other.encode_documents(CORPUS).toarray(), ours.encode_documents(CORPUS).toarray()
    )


def test_bm25_scores_rank_like_a_brute_force_bm25() -> None:
    analyzer = compat.build_default_analyzer()
    bm25 = compat.BM25EmbeddingFunction(corpus=CORPUS * 3)  # repeated: positive IDFs
    tokens = [analyzer(d) for d in CORPUS * 3]
    n, avgdl = len(tokens), sum(map(len, tokens)) / len(tokens)
    for query in QUERIES:
        expected = []
        for doc in tokens:
            score = 0.0
            for term in analyzer(query):
                df = sum(term in d for d in tokens)
                if df:
                    tf = doc.count(term)
                    idf = math.log(n - df + 0.5) - math.log(df + 0.5)
                    score += idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * len(doc) / avgdl))
            expected.append(score)
        got = (bm25.encode_documents(CORPUS * 3) @ bm25.encode_queries([query]).T).toarray()
        np.testing.assert_allclose(got.ravel(), expected, rtol=1e-5, atol=1e-6)


def test_bm25_errors_name_the_problem(tmp_path: Path) -> None:
    bm25 = compat.BM25EmbeddingFunction()
    with pytest.raises(ValueError, match="not fitted"):
        bm25.encode_queries(["x"])
    with pytest.raises(ValueError, match="encode_documents"):
        bm25(["x"])
    with pytest.raises(ValueError, match="path is required"):
        bm25.load()
    with pytest.raises(ValueError, match="no such file"):
        bm25.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps({"idf_word": ["a"]}))
    with pytest.raises(ValueError, match="not a BM25EmbeddingFunction file"):
        bm25.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="corpus"):
        bm25.fit("a string, not a list")
