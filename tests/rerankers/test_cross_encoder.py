"""CrossEncoderReranker against a plain transformers reference loop on tiny random models."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rankwise.rerankers import CrossEncoderReranker, load
from rankwise.types import RerankResult

QUERY = "capital of france river"


@functools.cache
def _load(path: Path) -> tuple[Any, Any]:
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    return tok, model


def reference_scores(path: Path, query: str, docs: list[str], max_length: int = 512) -> list[float]:
    return list(_reference(path, query, tuple(docs), max_length))


@functools.cache
def _reference(path: Path, query: str, docs: tuple[str, ...], max_length: int) -> tuple[float, ...]:
    """One pair at a time, no padding, no sorting: the plainest possible loop."""
    tok, model = _load(path)
    out = []
    with torch.no_grad():
        for d in docs:
            enc = tok(
                query, d, truncation="only_second", max_length=max_length, return_tensors="pt"
            )
            logits = model(**enc).logits[0]
            out.append(float(logits[0]) if logits.numel() == 1 else float(logits[1] - logits[0]))
    return tuple(out)


@pytest.fixture(scope="module")
def ce(bert_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(str(bert_dir), device="cpu")


def test_scores_equal_reference_loop(
    ce: CrossEncoderReranker, bert_dir: Path, docs: list[str]
) -> None:
    ref = reference_scores(bert_dir, QUERY, docs)
    results = ce.rerank(QUERY, docs)
    assert len(results) == len(docs)
    by_index = {r.index: r.score for r in results}
    for i, expected in enumerate(ref):
        assert by_index[i] == pytest.approx(expected, abs=1e-4)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert [r.text for r in results] == [docs[r.index] for r in results]
    assert len(set(ref)) > len(ref) // 2  # the tiny model really discriminates


def test_two_logit_model_scores_positive_class(bert2_dir: Path, docs: list[str]) -> None:
    ref = reference_scores(bert2_dir, QUERY, docs)
    ce2 = CrossEncoderReranker(str(bert2_dir), device="cpu")
    got = {r.index: r.score for r in ce2.rerank(QUERY, docs)}
    assert [got[i] for i in range(len(docs))] == pytest.approx(ref, abs=1e-4)
    sig = CrossEncoderReranker(str(bert2_dir), device="cpu", activation="sigmoid")
    probs = {r.index: r.score for r in sig.rerank(QUERY, docs)}
    tok, model = _load(bert2_dir)
    with torch.no_grad():
        enc = tok(QUERY, docs[0], return_tensors="pt")
        softmax = torch.softmax(model(**enc).logits[0], dim=-1)[1].item()
    assert probs[0] == pytest.approx(softmax, abs=1e-5)


def test_xlmr_model_and_sigmoid(xlmr_dir: Path, docs: list[str]) -> None:
    ref = reference_scores(xlmr_dir, QUERY, docs)
    ce = CrossEncoderReranker(str(xlmr_dir), device="cpu", activation="sigmoid")
    got = {r.index: r.score for r in ce.rerank(QUERY, docs)}
    expected = [1 / (1 + math.exp(-x)) for x in ref]
    assert [got[i] for i in range(len(docs))] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("batch_size", "overhead"), [(1, 0.0), (3, 64.0), (32, float("inf"))])
def test_batching_does_not_change_scores(
    bert_dir: Path, docs: list[str], batch_size: int, overhead: float
) -> None:
    ce = CrossEncoderReranker(
        str(bert_dir), device="cpu", batch_size=batch_size, batch_overhead=overhead
    )
    ref = reference_scores(bert_dir, QUERY, docs)
    got = {r.index: r.score for r in ce.rerank(QUERY, docs)}
    assert [got[i] for i in range(len(docs))] == pytest.approx(ref, abs=1e-4)


def test_truncates_only_the_document(bert_dir: Path, docs: list[str]) -> None:
    ce = CrossEncoderReranker(str(bert_dir), device="cpu", max_length=24)
    long_query = "capital of france river bridge tower museum"
    ref = reference_scores(bert_dir, long_query, docs, max_length=24)
    got = {r.index: r.score for r in ce.rerank(long_query, docs)}
    assert [got[i] for i in range(len(docs))] == pytest.approx(ref, abs=1e-4)
    enc = ce._encode(long_query, [docs[0] * 5])
    tokens = ce.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    assert len(tokens) == 24
    assert tokens[1:8] == long_query.split()


def test_overlong_query_is_cut_not_an_error(bert_dir: Path) -> None:
    ce = CrossEncoderReranker(str(bert_dir), device="cpu", max_length=16)
    query = " ".join(["river"] * 40)
    results = ce.rerank(query, ["paris france", "the river"])
    assert len(results) == 2
    text, n = ce._prepare_query(query)
    assert n == 12  # 3/4 of max_length
    assert text.split() == ["river"] * 12


def test_long_document_windows_take_the_best_window(bert_dir: Path) -> None:
    words = ("red green blue black white " * 20).split()
    relevant = "capital of france river"
    long_doc = " ".join([*words, relevant])  # the relevant part lies past the first window
    short = ["paris france", "the river bridge"]
    trunc = CrossEncoderReranker(str(bert_dir), device="cpu", max_length=32)
    win = CrossEncoderReranker(
        str(bert_dir), device="cpu", max_length=32, long_documents="window", window_overlap=4
    )
    q_tokens = len(QUERY.split())
    room = 32 - q_tokens - 3
    all_words = long_doc.split()
    stride = room - 4
    windows = []
    start = 0
    while True:
        windows.append(" ".join(all_words[start : start + room]))
        if start + room >= len(all_words):
            break
        start += stride
    expected = max(reference_scores(bert_dir, QUERY, windows, max_length=32))
    got = {r.index: r.score for r in win.rerank(QUERY, [long_doc, *short])}
    assert got[0] == pytest.approx(expected, abs=1e-4)
    truncated = {r.index: r.score for r in trunc.rerank(QUERY, [long_doc, *short])}
    assert got[0] >= truncated[0] - 1e-6
    # documents that fit are scored exactly as without windows
    assert got[1] == pytest.approx(truncated[1], abs=1e-5)
    assert got[2] == pytest.approx(truncated[2], abs=1e-5)


def test_empty_documents_make_no_model_call(
    ce: CrossEncoderReranker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("the model must not run")

    monkeypatch.setattr(ce, "_forward", boom)
    monkeypatch.setattr(ce, "_encode", boom)
    assert ce.rerank(QUERY, []) == []
    assert ce(QUERY, [], top_k=3) == []


async def test_async_empty_documents(ce: CrossEncoderReranker) -> None:
    assert await ce.arerank(QUERY, []) == []


@pytest.mark.parametrize(
    ("query", "documents", "top_k", "needle"),
    [
        ("", ["a"], None, "query"),
        ("   ", ["a"], None, "query"),
        (3, ["a"], None, "query"),
        ("q", ["a", 5], None, "documents[1]"),
        ("q", "a string", None, "documents"),
        ("q", ["a"], 0, "top_k"),
        ("q", ["a"], -2, "top_k"),
        ("q", ["a"], 1.5, "top_k"),
        ("q", ["a"], True, "top_k"),
    ],
)
def test_bad_input(
    ce: CrossEncoderReranker, query: Any, documents: Any, top_k: Any, needle: str
) -> None:
    # a wrong type is a TypeError, a wrong value a ValueError (rankwise._checks)
    with pytest.raises(
        (TypeError, ValueError), match=needle.replace("[", r"\[").replace("]", r"\]")
    ):
        ce.rerank(query, documents, top_k)


@pytest.mark.parametrize(
    ("query", "documents", "error", "needle"),
    [
        (3, ["a"], TypeError, "query must be a str"),
        ("q", ["a", 5], TypeError, r"documents\[1\] must be a str"),
        ("bad \ud800 query", ["a"], ValueError, "query contains a lone surrogate"),
        ("q", ["fine", "bad \udfff doc"], ValueError, r"documents\[1\] contains a lone surrogate"),
    ],
)
async def test_types_and_lone_surrogates_are_refused_before_the_tokenizer(
    ce: CrossEncoderReranker, query: Any, documents: Any, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle):
        ce.rerank(query, documents)
    with pytest.raises(error, match=needle):
        await ce.arerank(query, documents)
    with pytest.raises(error, match=needle):
        ce.rerank_many(["ok", query], [["a"], documents])


def test_top_k_and_carry_through(ce: CrossEncoderReranker, docs: list[str]) -> None:
    full = ce.rerank(QUERY, docs[:5])
    assert len(ce.rerank(QUERY, docs[:5], top_k=50)) == 5
    top2 = ce.rerank(QUERY, docs[:5], top_k=2)
    assert top2 == full[:2]
    ids = [f"d{i}" for i in range(5)]
    metas = [{"n": i} for i in range(5)]
    res = ce.rerank(QUERY, docs[:5], ids=ids, metadatas=metas)
    for r in res:
        assert isinstance(r, RerankResult)
        assert r.id == f"d{r.index}"
        assert r.metadata == {"n": r.index}
    with pytest.raises(ValueError, match="ids"):
        ce.rerank(QUERY, docs[:5], ids=ids[:3])


def test_rerank_many_and_async(ce: CrossEncoderReranker, docs: list[str]) -> None:
    many = ce.rerank_many([QUERY, "wing flow"], [docs[:4], docs[4:9]], top_k=2)
    assert many == [ce.rerank(QUERY, docs[:4], top_k=2), ce.rerank("wing flow", docs[4:9], top_k=2)]
    with pytest.raises(ValueError, match="queries"):
        ce.rerank_many([QUERY], [docs[:2], docs[:2]])


async def test_arerank_equals_rerank(ce: CrossEncoderReranker, docs: list[str]) -> None:
    assert await ce.arerank(QUERY, docs, top_k=5) == ce.rerank(QUERY, docs, top_k=5)


@pytest.mark.parametrize(("mode", "tolerance"), [("int8", 0.25), ("bf16", 0.1)])
def test_fast_modes_are_opt_in_and_close(
    mode: str, tolerance: float, bert_dir: Path, docs: list[str]
) -> None:
    ce = CrossEncoderReranker(str(bert_dir), device="cpu")
    assert ce.fast is False
    assert ce.fast_mode is None
    assert not any("quantized" in type(m).__module__ for m in ce.model.modules())
    fast = CrossEncoderReranker(str(bert_dir), device="cpu", fast=mode)  # type: ignore[arg-type]
    assert fast.fast is True
    assert fast.fast_mode == mode
    quantized = any("quantized" in type(m).__module__ for m in fast.model.modules())
    assert quantized == (mode == "int8")
    assert fast.unpad == (mode == "bf16")  # bf16 keeps the padding-free path
    assert f"fast={mode!r}" in repr(fast)
    exact = {r.index: r.score for r in ce.rerank(QUERY, docs)}
    approx = {r.index: r.score for r in fast.rerank(QUERY, docs)}
    assert approx != exact  # a different computation, not the fp32 one
    spread = max(exact.values()) - min(exact.values())
    assert all(abs(exact[i] - approx[i]) < tolerance * spread for i in exact)


def test_fast_true_picks_bf16_where_the_cpu_has_it(bert_dir: Path) -> None:
    from rankwise.rerankers.cross_encoder import native_bf16

    fast = CrossEncoderReranker(str(bert_dir), device="cpu", fast=True)
    assert fast.fast_mode == ("bf16" if native_bf16() else "int8")


def test_fast_mode_validation(bert_dir: Path) -> None:
    with pytest.raises(ValueError, match="fast must be"):
        CrossEncoderReranker(str(bert_dir), device="cpu", fast="fp8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CPU mode"):
        CrossEncoderReranker(str(bert_dir), device="cuda:0", fast=True)


def test_progress_bar_off_for_small_calls(
    bert_dir: Path, docs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    CrossEncoderReranker(str(bert_dir), device="cpu").rerank(QUERY, docs)
    assert "rerank" not in capsys.readouterr().err
    CrossEncoderReranker(str(bert_dir), device="cpu", show_progress=True).rerank(QUERY, docs)
    assert "rerank" in capsys.readouterr().err


def test_constructor_validation(bert_dir: Path) -> None:
    for kwargs, needle in [
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": -1}, "max_length"),
        ({"activation": "softmax"}, "activation"),
        ({"long_documents": "split"}, "long_documents"),
        ({"window_overlap": -1}, "window_overlap"),
        ({"dtype": "int4"}, "dtype"),
    ]:
        with pytest.raises(ValueError, match=needle):
            CrossEncoderReranker(str(bert_dir), device="cpu", **kwargs)


def test_device_none_picks_available(bert_dir: Path) -> None:
    ce = CrossEncoderReranker(str(bert_dir))
    assert ce.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "device" in repr(ce)


def test_load_factory(bert_dir: Path) -> None:
    r = load(f"cross-encoder:{bert_dir}", device="cpu", batch_size=4)
    assert isinstance(r, CrossEncoderReranker)
    assert r.batch_size == 4
    assert r.name == f"cross-encoder:{bert_dir}"


@pytest.mark.parametrize("per_pair_max_head_dim", [0, 4096])  # padded / per-pair attention
@pytest.mark.parametrize("which", ["bert", "xlmr", "bert2"])
def test_unpadded_path_equals_padded_path(
    which: str,
    per_pair_max_head_dim: int,
    bert_dir: Path,
    xlmr_dir: Path,
    bert2_dir: Path,
    docs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rankwise.rerankers import _unpadded

    monkeypatch.setattr(_unpadded, "PER_PAIR_MAX_HEAD_DIM", per_pair_max_head_dim)
    path = {"bert": bert_dir, "xlmr": xlmr_dir, "bert2": bert2_dir}[which]
    unpadded = CrossEncoderReranker(str(path), device="cpu", batch_size=8)
    assert unpadded.unpad is True  # supported architecture, self-check passed
    padded = CrossEncoderReranker(str(path), device="cpu", batch_size=8, unpad=False)
    a = {r.index: r.score for r in unpadded.rerank(QUERY, docs)}
    b = {r.index: r.score for r in padded.rerank(QUERY, docs)}
    assert [a[i] for i in range(len(docs))] == pytest.approx(
        [b[i] for i in range(len(docs))], abs=1e-4
    )


def test_unpad_refused_for_unknown_architectures(bert_dir: Path) -> None:
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    net = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=300, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=1)
    )
    tok = AutoTokenizer.from_pretrained(bert_dir)
    ce = CrossEncoderReranker("custom", device="cpu", model=net, tokenizer=tok)
    assert ce.unpad is False
    assert len(ce.rerank(QUERY, ["paris france", "river"])) == 2
    with pytest.raises(ValueError, match="unpad"):
        CrossEncoderReranker("custom", device="cpu", model=net, tokenizer=tok, unpad=True)
