"""SentenceEmbedder (bundled all-MiniLM-L6-v2) and the embedding-similarity reranker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankwise.embeddings import (
    ENV_MODEL,
    SentenceEmbedder,
    bundled_model_path,
    resolve_model,
    shared_embedder,
)
from rankwise.rerankers.embedding import EmbeddingReranker

DARTMOUTH = (
    "What event in 1956 marked the official birth of artificial intelligence as a discipline?"
)
DOCS = [
    "In 1950, Alan Turing published his seminal paper, 'Computing Machinery and Intelligence'.",
    "The Dartmouth Conference of 1956 is considered the birthplace of artificial intelligence.",
    "In 1951, British mathematician Christopher Strachey wrote a checkers program.",
    "The Logic Theorist, written in 1956, is called the first artificial intelligence program.",
]
LONG = " ".join(["the boundary layer flow over a swept wing at supersonic speed"] * 40)


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(batch_size=2)


@pytest.fixture(scope="module")
def st_model() -> Any:
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(bundled_model_path()), device="cpu")


def test_bundled_model_is_found_offline() -> None:
    path = bundled_model_path()
    assert path is not None
    assert (path / "model.safetensors").is_file()
    assert resolve_model(None) == str(path)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == str(path)


def test_env_var_overrides_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_MODEL, str(tmp_path))
    assert resolve_model(None) == str(tmp_path)
    assert resolve_model("other/model") == "other/model"


def test_equals_sentence_transformers(embedder: SentenceEmbedder, st_model: Any) -> None:
    texts = [DARTMOUTH, *DOCS, LONG, "x"]
    ours = embedder.encode(texts)
    ref = st_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_truncates_at_256_tokens_not_the_tokenizer_files_128(embedder: SentenceEmbedder) -> None:
    assert embedder.max_length == 256
    enc = embedder._tokenizer([LONG], padding=True, truncation=True, max_length=256)
    assert len(enc["input_ids"][0]) == 256
    short = SentenceEmbedder(max_length=128, cache_size=0)
    assert not np.allclose(short.encode(LONG), embedder.encode(LONG), atol=1e-3)


def test_order_and_batching_do_not_change_vectors(embedder: SentenceEmbedder) -> None:
    a = SentenceEmbedder(batch_size=1, cache_size=0).encode(DOCS)
    b = SentenceEmbedder(batch_size=64, cache_size=0).encode(list(reversed(DOCS)))[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_cache_skips_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    emb = SentenceEmbedder(cache_size=3)
    calls: list[list[str]] = []
    real = emb._encode_uncached

    def counting(texts: list[str], show_progress: bool) -> Any:
        calls.append(list(texts))
        return real(texts, show_progress)

    monkeypatch.setattr(emb, "_encode_uncached", counting)
    first = emb.encode(["a b", "c d", "a b"])
    assert calls == [["a b", "c d"]]
    np.testing.assert_array_equal(first[0], first[2])
    again = emb.encode(["c d", "a b"])
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first[[1, 0]])
    emb.encode(["e", "f"])  # evicts the least recently used entries
    assert emb.cache_info() == {"size": 3, "max_size": 3}
    emb.remember(["zz"], np.ones((1, 384), dtype=np.float32))
    np.testing.assert_array_equal(emb.encode(["zz"])[0], np.ones(384, dtype=np.float32))


def test_bad_input(embedder: SentenceEmbedder) -> None:
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        embedder.encode(["ok", 3])  # type: ignore[list-item]
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEmbedder(batch_size=0)
    with pytest.raises(ValueError, match="model_name"):
        SentenceEmbedder("/no/such/model/folder").encode(["x"])


def test_import_is_lazy() -> None:
    code = (
        "import sys, rankwise.embeddings, rankwise.dense, rankwise.rerankers.embedding,"
        " rankwise.pipeline, rankwise.corpus, rankwise.evaluation, rankwise.cli.commands;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_reranker_ranks_by_cosine(embedder: SentenceEmbedder) -> None:
    rr = EmbeddingReranker(embedder=embedder)
    assert rr.name == "embedding:all-MiniLM-L6-v2"
    res = rr.rerank(DARTMOUTH, DOCS, top_k=2)
    q = embedder.encode([DARTMOUTH])[0]
    d = embedder.encode(DOCS)
    expected = np.argsort(-(d @ q), kind="stable")[:2]
    assert [r.index for r in res] == list(expected)
    assert res[0].index == 1  # the Dartmouth Conference
    assert res[0].score == pytest.approx(float(d[1] @ q), abs=1e-5)
    assert rr.rerank(DARTMOUTH, []) == []


def test_reranking_already_embedded_documents_costs_no_model_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emb = SentenceEmbedder()
    emb.encode([DARTMOUTH, *DOCS])  # e.g. the dense side embedded them
    rr = EmbeddingReranker(embedder=emb)

    def boom(texts: list[str], show_progress: bool) -> Any:
        raise AssertionError(f"model called for {texts}")

    monkeypatch.setattr(emb, "_encode_uncached", boom)
    assert len(rr.rerank(DARTMOUTH, DOCS)) == len(DOCS)


def test_factory_spec_shares_the_process_embedder() -> None:
    from rankwise.rerankers import load

    rr = load("embedding:default")
    assert isinstance(rr, EmbeddingReranker)
    assert rr.embedder is shared_embedder()
    assert load("embedding:").embedder is shared_embedder()
    with pytest.raises(ValueError, match="either a model or an embedder"):
        EmbeddingReranker("x", embedder=shared_embedder())


def test_model_name_or_path_is_a_deprecated_alias_of_model_name() -> None:
    # Issue 17 item 3: one name (model_name) for a model rankwise loads; the old name works
    # for one release and warns naming the new one.
    path = str(bundled_model_path())
    with pytest.warns(DeprecationWarning, match="use model_name="):
        old = SentenceEmbedder(model_name_or_path=path)
    assert old.model_name == SentenceEmbedder(path).model_name == path
    assert old.fingerprint() == SentenceEmbedder(model_name=path).fingerprint()
    with pytest.warns(DeprecationWarning, match="use model_name"):
        assert old.model_name_or_path == path
    with pytest.warns(DeprecationWarning, match="use model_name="):
        assert shared_embedder(model_name_or_path=path) is shared_embedder(path)
    with pytest.warns(DeprecationWarning, match="use model_name="):
        reranker = EmbeddingReranker(model_name_or_path=path)
    assert reranker.embedder is shared_embedder(path)
    with (
        pytest.raises(TypeError, match="model_name="),
        pytest.warns(DeprecationWarning, match="model_name_or_path"),
    ):
        SentenceEmbedder(path, model_name_or_path=path)
