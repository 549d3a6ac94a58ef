"""LLMReranker against each family's official recipe, on tiny random decoder-only models.

The references below are written from the authors' published code (Qwen3-Reranker model card;
FlagEmbedding's ``BaseLLMReranker.compute_score_single_gpu``; mxbai-rerank's
``MxbaiRerankV2.prepare_inputs``/``forward``): full prompts, left padding, batches of 8, the
full-vocabulary forward and the logits at the last position.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rankwise.rerankers import LLMReranker, load
from rankwise.rerankers._llm_templates import (
    BGEGemmaTemplate,
    MxbaiV2Template,
    Qwen3Template,
)
from rankwise.testing.tiny_models import random_text, save_tiny_causal_lm

QUERY = "capital of france river"
INSTRUCTION = "Find passages about european cities"

#: model folder name (names the family, so the template is detected) -> architecture
MODELS = {
    "qwen3": ("Qwen3-Reranker-tiny", "qwen3"),
    "bge-gemma2": ("bge-reranker-v2-gemma-tiny2", "gemma2"),
    "bge-gemma": ("bge-reranker-v2-gemma-tiny", "gemma"),
    "mxbai-v2": ("mxbai-rerank-tiny-v2", "qwen2"),
}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm")
    return {
        key: save_tiny_causal_lm(root / folder, kind, seed=i)
        for i, (key, (folder, kind)) in enumerate(MODELS.items())
    }


Make = Callable[..., LLMReranker]


@pytest.fixture(scope="module")
def llm(model_dirs: dict[str, Path]) -> Make:
    """``llm(key, **kwargs)``: the reranker of model ``key`` with those arguments, built once per
    module (loading and the load-time self-checks are most of a tiny model's cost)."""
    made: dict[tuple[str, tuple[tuple[str, Any], ...]], LLMReranker] = {}

    def make(key: str, **kwargs: Any) -> LLMReranker:
        spec = (key, tuple(sorted((k, v) for k, v in kwargs.items() if v is not None)))
        if spec not in made:
            made[spec] = LLMReranker(str(model_dirs[key]), device="cpu", **kwargs)
        return made[spec]

    return make


@pytest.fixture(scope="module")
def llm_docs() -> list[str]:
    rng = random.Random(11)
    docs = [random_text(rng, 1, 40) for _ in range(19)]
    docs[3] = "Paris is the capital of France; the river is the Seine."
    docs[5] = ""  # an empty document is still a prompt
    docs[7] = random_text(rng, 150, 150)  # cut under small budgets
    return docs


@functools.cache
def _load(path: Path) -> tuple[Any, Any]:
    tok = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    return tok, model


def prepare_only_second(first: list[int], second: list[int], max_length: int) -> list[int]:
    """``tokenizer.prepare_for_model(first, second, truncation="only_second",
    max_length=..., add_special_tokens=False)["input_ids"]`` of transformers 4.x (removed from
    fast tokenizers in 5): drop the overflow from the end of ``second``."""
    overflow = len(first) + len(second) - max_length
    if overflow > 0:
        assert overflow < len(second), "the reference would refuse this pair"
        second = second[: len(second) - overflow]
    return first + second


def _last_logits(model: Any, batch: Any) -> Any:
    with torch.no_grad():
        return model(**batch).logits[:, -1, :].float()


def qwen3_reference(
    path: Path, query: str, docs: list[str], instruction: str | None, max_length: int = 8192
) -> tuple[list[float], list[float]]:
    """Qwen3-Reranker model card: (log-odds, printed probability) per document."""
    tok, model = _load(path)
    prefix = Qwen3Template.PREFIX
    suffix = Qwen3Template.SUFFIX
    prefix_tokens = tok.encode(prefix, add_special_tokens=False)
    suffix_tokens = tok.encode(suffix, add_special_tokens=False)
    yes, no = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")
    task = (
        instruction or "Given a web search query, retrieve relevant passages that answer the query"
    )
    pairs = [f"<Instruct>: {task}\n<Query>: {query}\n<Document>: {d}" for d in docs]
    raw: list[float] = []
    prob: list[float] = []
    for s in range(0, len(pairs), 8):
        inputs = tok(
            pairs[s : s + 8],
            padding=False,
            truncation="longest_first",
            return_attention_mask=False,
            max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
        )
        inputs["input_ids"] = [prefix_tokens + e + suffix_tokens for e in inputs["input_ids"]]
        batch = tok.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
        logits = _last_logits(model, batch)
        true, false = logits[:, yes], logits[:, no]
        scores = torch.nn.functional.log_softmax(torch.stack([false, true], dim=1), dim=1)
        prob += scores[:, 1].exp().tolist()
        raw += (true - false).tolist()
    return raw, prob


def bge_reference(
    path: Path, query: str, docs: list[str], prompt: str | None, max_length: int = 512
) -> tuple[list[float], list[float]]:
    """FlagEmbedding BaseLLMReranker.compute_score: (logit of "Yes", its sigmoid)."""
    tok, model = _load(path)
    prompt = prompt or BGEGemmaTemplate.DEFAULT_PROMPT
    prompt_inputs = tok(prompt, add_special_tokens=False)["input_ids"]
    sep_inputs = tok("\n", add_special_tokens=False)["input_ids"]
    yes_loc = tok("Yes", add_special_tokens=False)["input_ids"][0]
    encode_max_length = max_length + len(sep_inputs) + len(prompt_inputs)
    q = tok(
        ["A: " + query] * len(docs),
        add_special_tokens=False,
        max_length=max_length * 3 // 4,
        truncation=True,
    )["input_ids"]
    p = tok(
        ["B: " + d for d in docs], add_special_tokens=False, max_length=max_length, truncation=True
    )["input_ids"]
    raw: list[float] = []
    for s in range(0, len(docs), 8):
        items = []
        for qi, pi in zip(q[s : s + 8], p[s : s + 8], strict=True):
            first = [tok.bos_token_id, *qi]
            ids = prepare_only_second(first, sep_inputs + pi, encode_max_length)
            ids = ids + sep_inputs + prompt_inputs
            items.append({"input_ids": ids, "attention_mask": [1] * len(ids)})
        batch = tok.pad(items, padding=True, pad_to_multiple_of=8, return_tensors="pt")
        raw += _last_logits(model, batch)[:, yes_loc].tolist()
    return raw, [1 / (1 + math.exp(-x)) for x in raw]


def mxbai_reference(
    path: Path, query: str, docs: list[str], instruction: str | None, max_length: int = 8192
) -> tuple[list[float], list[float]]:
    """mxbai-rerank MxbaiRerankV2.predict: (logit("1") - logit("0"), its sigmoid)."""
    tok, model = _load(path)

    def ids(x: str) -> list[int]:
        return list(tok(x, add_special_tokens=False)["input_ids"])

    yes, no = ids("1")[0], ids("0")[0]
    task, sep = ids(MxbaiV2Template.TASK), ids("\n")
    prefix, suffix = ids(MxbaiV2Template.PREFIX), ids(MxbaiV2Template.SUFFIX)
    predefined = len(prefix) + len(task) + len(suffix) + len(sep)
    model_max = model.config.max_position_embeddings
    if max_length + predefined > model_max:
        max_length = model_max - predefined
    raw: list[float] = []
    for s in range(0, len(docs), 8):
        items = []
        for d in docs[s : s + 8]:
            qp = f"query: {query}"
            if instruction:
                qp = f"instruction: {instruction}\n{qp}"
            qi = tok(qp, add_special_tokens=False, max_length=max_length * 3 // 4, truncation=True)
            doc_max = min(model_max - len(qi["input_ids"]) - predefined, max_length)
            di = tok(
                f"document: {d}", add_special_tokens=False, max_length=doc_max, truncation=True
            )
            pair = prepare_only_second(qi["input_ids"], sep + di["input_ids"], max_length)
            full = prefix + pair + sep + task + suffix
            items.append({"input_ids": full, "attention_mask": [1] * len(full)})
        batch = tok.pad(items, padding="longest", pad_to_multiple_of=8, return_tensors="pt")
        logits = _last_logits(model, batch)
        raw += (logits[:, yes] - logits[:, no]).tolist()
    return raw, [1 / (1 + math.exp(-x)) for x in raw]


REFERENCES = {
    "qwen3": qwen3_reference,
    "bge-gemma2": bge_reference,
    "bge-gemma": bge_reference,
    "mxbai-v2": mxbai_reference,
}
#: a max_length that cuts the long test document (what it counts differs per family)
CUT = {"qwen3": 96, "bge-gemma2": 48, "bge-gemma": 48, "mxbai-v2": 48}
TEMPLATE_OF = {
    "qwen3": "qwen3",
    "bge-gemma2": "bge-gemma",
    "bge-gemma": "bge-gemma",
    "mxbai-v2": "mxbai-v2",
}


def by_index(results: Any) -> list[float]:
    scores = {r.index: r.score for r in results}
    return [scores[i] for i in range(len(scores))]


# -- exactness against the official recipes --------------------------------------------------
@pytest.mark.parametrize("key", list(MODELS))
@pytest.mark.parametrize(
    ("instruction", "cut"),
    [(None, False), (INSTRUCTION, True)],
    ids=["default-prompt-and-length", "custom-prompt-cut"],
)
def test_scores_equal_official_recipe(
    key: str,
    instruction: str | None,
    cut: bool,
    model_dirs: dict[str, Path],
    llm: Make,
    llm_docs: list[str],
) -> None:
    """Each family's scores against its official recipe: once with its default prompt and
    length, once with a custom instruction and a budget that cuts the long document (the two
    settings meet in the token budget, so the cut runs with the custom, longer prompt)."""
    path = model_dirs[key]
    max_length = CUT[key] if cut else None
    rr = llm(key, instruction=instruction, max_length=max_length)
    assert rr.template_name == TEMPLATE_OF[key]  # detected from the folder name
    kwargs = {} if max_length is None else {"max_length": max_length}
    raw, prob = REFERENCES[key](path, QUERY, llm_docs, instruction, **kwargs)
    got = by_index(rr.rerank(QUERY, llm_docs))
    assert got == pytest.approx(raw, abs=1e-4)
    assert len({round(x, 4) for x in raw}) > len(raw) // 2  # the tiny model discriminates
    if instruction is None and not cut:  # the printed probability, once per family
        sig = llm(key, activation="sigmoid")
        assert by_index(sig.rerank(QUERY, llm_docs)) == pytest.approx(prob, abs=1e-5)


def test_custom_instruction_changes_the_prompt(llm: Make) -> None:
    for key in ("qwen3", "bge-gemma", "mxbai-v2"):
        plain = llm(key, instruction=None, max_length=None)
        custom = llm(key, instruction=INSTRUCTION, max_length=CUT[key])
        a, _ = plain.encode(QUERY, ["x"])
        b, _ = custom.encode(QUERY, ["x"])
        assert (a.head + a.tail) != (b.head + b.tail)


# -- prefix sharing ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(MODELS))
def test_prefix_sharing_equals_full_prompts(key: str, llm: Make, llm_docs: list[str]) -> None:
    shared = llm(key, batch_size=5)
    full = llm(key, share_prefix=False, batch_size=1)
    assert shared.share_prefix
    assert not full.share_prefix
    a = shared._raw_scores(QUERY, llm_docs)
    b = full._raw_scores(QUERY, llm_docs)
    assert a == pytest.approx(b, abs=1e-4)


def test_gemma2_sliding_window_is_exercised(llm: Make, llm_docs: list[str]) -> None:
    """The tiny Gemma 2 has a 24-token window: prompts longer than it must still match."""
    rr = llm("bge-gemma2", batch_size=5)
    layout, parts = rr.encode(QUERY, llm_docs)
    assert rr.model.config.sliding_window < len(layout.head) + max(len(p) for p in parts)


# -- truncation --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(MODELS))
def test_truncation_cuts_only_the_document(key: str, llm: Make, llm_docs: list[str]) -> None:
    rr = llm(key, instruction=None, max_length=CUT[key])
    long_doc = llm_docs[7]
    layout, (part,) = rr.encode(QUERY, [long_doc])
    assert part[-len(layout.tail) :] == layout.tail  # the scored position survives
    doc_ids = rr.tokenizer(rr.template.document_text(long_doc), add_special_tokens=False)[
        "input_ids"
    ]
    kept = part[: -len(layout.tail)]
    assert kept == doc_ids[: len(kept)]
    assert len(kept) == layout.doc_limit < len(doc_ids)
    if key == "qwen3":  # whole prompt within max_length
        assert len(layout.head) + len(part) == CUT[key]
    # a naive cut of the whole prompt to the same length would have dropped the suffix
    naive = (layout.head + doc_ids + layout.tail)[: len(layout.head) + len(part)]
    assert naive[-len(layout.tail) :] != layout.tail


def test_long_query_rules(model_dirs: dict[str, Path], llm: Make) -> None:
    long_query = " ".join(["wing"] * 80)
    qwen = llm("qwen3", max_length=64)
    with pytest.raises(ValueError, match="query"):
        qwen.rerank(long_query, ["a doc"])
    # bge-gemma and mxbai cut the query to 3/4 of max_length, as their reference code does
    for key in ("bge-gemma", "mxbai-v2"):
        rr = llm(key, max_length=64)
        (res,) = rr.rerank(long_query, ["a doc"])
        assert math.isfinite(res.score)
        raw, _ = REFERENCES[key](model_dirs[key], long_query, ["a doc"], None, max_length=64)
        assert res.score == pytest.approx(raw[0], abs=1e-4)


# -- the reranker contract ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen(llm: Make) -> LLMReranker:
    return llm("qwen3", instruction=None, max_length=None)


def test_input_contract(qwen: LLMReranker, llm_docs: list[str]) -> None:
    for bad in ("", "   \n"):
        with pytest.raises(ValueError, match="query"):
            qwen.rerank(bad, llm_docs)
    assert qwen.rerank(QUERY, []) == []
    top = qwen.rerank(QUERY, llm_docs, top_k=3)
    full = qwen.rerank(QUERY, llm_docs)
    assert top == full[:3]
    assert len(top) == 3
    assert [r.score for r in full] == sorted((r.score for r in full), reverse=True)
    assert [r.text for r in full] == [llm_docs[r.index] for r in full]
    with pytest.raises(ValueError, match="top_k"):
        qwen.rerank(QUERY, llm_docs, top_k=0)


def test_hundred_thousand_character_document(llm: Make) -> None:
    """Cut to the budget (1024 tokens here: the 8192 default only makes the forward slower)."""
    qwen = llm("qwen3", max_length=1024)
    rng = random.Random(3)
    huge = random_text(rng, 20000, 20000)[:100_000]
    assert len(huge) == 100_000
    res = qwen.rerank(QUERY, [huge, "paris"])
    assert len(res) == 2
    assert all(math.isfinite(r.score) for r in res)
    layout, parts = qwen.encode(QUERY, [huge])
    assert len(layout.head) + len(parts[0]) == qwen.max_length  # cut to the budget exactly


def test_async_and_many(qwen: LLMReranker, llm_docs: list[str]) -> None:
    sync = qwen.rerank(QUERY, llm_docs)
    got = asyncio.run(qwen.arerank(QUERY, llm_docs))
    assert [(r.index, r.score) for r in got] == [(r.index, r.score) for r in sync]
    many = qwen.rerank_many([QUERY, "wing"], [llm_docs, llm_docs[:4]], top_k=2)
    assert many[0] == sync[:2]
    assert len(many[1]) == 2
    amany = asyncio.run(qwen.arerank_many([QUERY, "wing"], [llm_docs, llm_docs[:4]], top_k=2))
    assert [[r.index for r in x] for x in amany] == [[r.index for r in x] for x in many]


def test_progress_bar(llm: Make, qwen: LLMReranker, capsys: pytest.CaptureFixture[str]) -> None:
    loud = llm("qwen3", show_progress=True)
    loud.rerank(QUERY, ["a", "b"])
    assert "rerank" in capsys.readouterr().err
    capsys.readouterr()
    qwen.rerank(QUERY, ["a", "b"])
    assert capsys.readouterr().err == ""


def test_fast_modes_stay_close(
    model_dirs: dict[str, Path], qwen: LLMReranker, llm_docs: list[str]
) -> None:
    path = str(model_dirs["qwen3"])
    exact = qwen._raw_scores(QUERY, llm_docs)
    for mode in ("bf16", "int8"):
        rr = LLMReranker(path, device="cpu", fast=mode)
        assert rr.fast
        assert rr.fast_mode == mode
        got = rr._raw_scores(QUERY, llm_docs)
        assert got != exact  # approximate: the scores move ...
        corr = torch.corrcoef(torch.tensor([got, exact]))[0, 1].item()
        assert corr > 0.95  # ... but stay those of the same model
    assert LLMReranker(path, device="cpu", fast=True).fast_mode in ("bf16", "int8")


# -- templates, devices, dtypes ----------------------------------------------------------------
def test_unknown_model_needs_a_template(
    model_dirs: dict[str, Path], qwen: LLMReranker, tmp_path: Path
) -> None:
    anon = tmp_path / "my-model"  # the same model in a folder whose name says nothing
    shutil.copytree(model_dirs["qwen3"], anon)
    with pytest.raises(ValueError, match=r"bge-gemma.*mxbai-v2.*qwen3"):
        LLMReranker(str(anon), device="cpu")
    with pytest.raises(ValueError, match="template"):
        LLMReranker(str(anon), device="cpu", template="qwen")
    explicit = LLMReranker(str(anon), device="cpu", template="qwen3")
    assert explicit.rerank(QUERY, ["paris"])[0].score == pytest.approx(
        qwen.rerank(QUERY, ["paris"])[0].score, abs=1e-6
    )


def test_sequence_classifier_is_refused(tmp_path: Path) -> None:
    from rankwise.testing.tiny_models import save_tiny_model

    path = save_tiny_model(tmp_path / "Qwen3-Reranker-seq-cls", "bert")
    with pytest.raises(ValueError, match="cross-encoder"):
        LLMReranker(str(path), device="cpu")


def test_device_and_dtype_validation(model_dirs: dict[str, Path]) -> None:
    path = str(model_dirs["qwen3"])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            LLMReranker(path, device="cuda")
    with pytest.raises(ValueError, match="device"):
        LLMReranker(path, device="gpu-please")
    with pytest.raises(ValueError, match="float16"):
        LLMReranker(path, device="cpu", dtype="float16")
    with pytest.raises(ValueError, match="dtype"):
        LLMReranker(path, device="cpu", dtype="int8")
    with pytest.raises(ValueError, match="fast"):
        LLMReranker(path, device="cpu", fast=True, dtype="bfloat16")
    assert LLMReranker(path, device="cpu", fast="bf16").model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="batch_size"):
        LLMReranker(path, device="cpu", batch_size=0)
    with pytest.raises(ValueError, match="activation"):
        LLMReranker(path, device="cpu", activation="softmax")  # type: ignore[arg-type]
    bf16 = LLMReranker(path, device="cpu", dtype="bfloat16")
    assert bf16.model.dtype == torch.bfloat16
    assert math.isfinite(bf16.rerank(QUERY, ["paris"])[0].score)


def test_mps_or_unknown_devices_are_refused_before_loading(model_dirs: dict[str, Path]) -> None:
    """The shared device rule (rankwise._model_paths.check_device) on top of torch's parser."""
    path = str(model_dirs["qwen3"])
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            LLMReranker(path, device="mps")
    with pytest.raises(ValueError, match="use 'cpu' or 'cuda"):
        LLMReranker(path, device="meta")
    with pytest.raises(ValueError, match="floating point"):
        LLMReranker(path, device="cpu", dtype=torch.int8)


def test_gpu_dtype_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA: bf16 by default, fp16 where bf16 is unsupported, fp16/bf16/fp32 on request, and
    no CPU-only fast mode (checked here without a GPU: the choice, not the kernels)."""
    from types import SimpleNamespace

    from rankwise.rerankers.cross_encoder import resolve_fast

    def choose(dtype: Any, bf16: bool) -> Any:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        gpu = SimpleNamespace(fast_mode=None, device="cuda:0")
        return LLMReranker._resolve_dtype(gpu, torch, dtype)  # type: ignore[arg-type]

    assert choose(None, bf16=True) == torch.bfloat16
    assert choose(None, bf16=False) == torch.float16
    assert choose("fp16", bf16=True) == torch.float16
    assert choose("float32", bf16=True) == torch.float32
    with pytest.raises(ValueError, match="floating point"):
        choose(torch.int64, bf16=True)
    with pytest.raises(ValueError, match="CPU mode"):
        resolve_fast(True, "cuda:0")


def test_answer_head_check_allows_half_precision_rounding_of_large_logits(
    model_dirs: dict[str, Path],
) -> None:
    """In bf16 each logit the model computes is rounded at its own size; two large, close logits
    must not fail the load-time check (a real 0.6B-8B reranker's logits are ~10-30)."""
    from rankwise.rerankers._llm_templates import make_template

    path = model_dirs["qwen3"]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    template = make_template("qwen3", tok, max_length=None, instruction=None, model_max_length=4096)
    with torch.no_grad():  # large logits, "yes" and "no" close together
        weight = model.get_output_embeddings().weight
        weight.mul_(20.0)  # logits ~ -37, as large as a real reranker's
        weight[template.no_id] = weight[template.yes_id] * 0.99
    rr = LLMReranker(str(path), device="cpu", dtype="bfloat16", model=model, tokenizer=tok)
    assert math.isfinite(rr.rerank(QUERY, ["paris"])[0].score)


# -- transformers versions: prefix sharing needs the per-layer cache API (4.56+) --------------
def test_installed_transformers_takes_the_shared_prefix_path(qwen: LLMReranker) -> None:
    from rankwise.rerankers._llm_forward import prefix_sharing_available

    assert prefix_sharing_available()  # the pinned transformers (constraints.txt) has the API
    assert qwen.share_prefix


@pytest.mark.parametrize(
    ("api", "available"),
    [("lists", False), ("layer_classes", False), ("layers", True)],
    ids=["4.36-4.53", "4.54-4.55", "4.56+"],
)
def test_cache_api_detection(api: str, available: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The three shapes transformers' cache_utils has had: ``key_cache`` lists (no layer
    class), a first per-layer form (``Cache(layer_classes, ...)``) and the current one."""
    import sys
    import types

    from rankwise.rerankers._llm_forward import prefix_sharing_available

    fake = types.ModuleType("transformers.cache_utils")

    class Cache:
        if api == "layers":

            def __init__(self, layers: Any = None, layer_class_to_replicate: Any = None) -> None:
                pass
        else:

            def __init__(self, layer_classes: Any = None) -> None:
                pass

    fake.Cache = Cache  # type: ignore[attr-defined]
    if api != "lists":
        fake.DynamicLayer = type("DynamicLayer", (), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers.cache_utils", fake)
    assert prefix_sharing_available() is available


def test_older_transformers_score_full_prompts_after_a_warning(
    model_dirs: dict[str, Path],
    qwen: LLMReranker,
    llm_docs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """transformers 4.44-4.55 lack the cache API: every prompt runs in full, same scores.
    (Checked for real with transformers 4.46.3, 4.55.4 and 4.57.1 installed aside.)"""
    import rankwise.rerankers.llm as llm_module

    monkeypatch.setattr(llm_module, "prefix_sharing_available", lambda: False)
    with pytest.warns(RuntimeWarning, match=r"transformers>=4\.56"):
        old = LLMReranker(str(model_dirs["qwen3"]), device="cpu")
    assert not old.share_prefix
    assert old._raw_scores(QUERY, llm_docs) == pytest.approx(
        qwen._raw_scores(QUERY, llm_docs), abs=1e-4
    )


def test_a_prefix_that_does_not_reproduce_the_full_prompt_is_not_used(
    model_dirs: dict[str, Path], llm: Make, llm_docs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load-time self-check compares shared and full hidden states: a cache that loses the
    head (as a changed cache API could) turns sharing off instead of scoring garbage."""
    import rankwise.rerankers.llm as llm_module

    real = llm_module.head_states

    def last_token_only(decoder: Any, ids: Any, keyword: str) -> Any:
        return [(k[:, :, -1:], v[:, :, -1:]) for k, v in real(decoder, ids, keyword)]

    monkeypatch.setattr(llm_module, "head_states", last_token_only)
    with pytest.warns(RuntimeWarning, match="does not reproduce"):
        broken = LLMReranker(str(model_dirs["mxbai-v2"]), device="cpu")
    assert not broken.share_prefix
    monkeypatch.undo()
    want = llm("mxbai-v2")._raw_scores(QUERY, llm_docs)
    assert broken._raw_scores(QUERY, llm_docs) == pytest.approx(want, abs=1e-4)


# -- entry points: load, CLI, LangChain, LlamaIndex --------------------------------------------
def test_load_spec(model_dirs: dict[str, Path], qwen: LLMReranker, llm_docs: list[str]) -> None:
    rr = load(f"llm:{model_dirs['qwen3']}", device="cpu", batch_size=4)
    assert isinstance(rr, LLMReranker)
    assert rr.batch_size == 4
    assert rr.name == f"llm:{model_dirs['qwen3']}"
    assert by_index(rr.rerank(QUERY, llm_docs)) == pytest.approx(
        by_index(qwen.rerank(QUERY, llm_docs)), abs=1e-5
    )


def test_cli_search_rerank_llm(
    model_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rankwise.cli import main

    corpus = tmp_path / "docs.jsonl"
    rows = [{"_id": f"d{i}", "text": t} for i, t in enumerate(["wing lift", "paris river", "flow"])]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["index", str(corpus), "--out", str(tmp_path / "idx"), "-q"]) == 0
    capsys.readouterr()
    spec = f"llm:{model_dirs['qwen3']}"
    code = main(["search", str(tmp_path / "idx"), "paris", "--rerank", spec, "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["reranker"] == spec
    assert payload["results"]
    assert {r["id"] for r in payload["results"]} <= {"d0", "d1", "d2"}


def test_langchain_compressor_takes_llm_spec(
    model_dirs: dict[str, Path], qwen: LLMReranker
) -> None:
    lc = pytest.importorskip("langchain_rankwise")
    from langchain_core.documents import Document

    spec = f"llm:{model_dirs['qwen3']}"
    compressor = lc.RankwiseRerank(reranker=spec, top_n=2, reranker_kwargs={"device": "cpu"})
    assert isinstance(compressor.reranker, LLMReranker)
    docs = [Document(page_content=t) for t in ("wing lift", "paris river", "shock flow")]
    out = compressor.compress_documents(docs, QUERY)
    want = qwen.rerank(QUERY, [d.page_content for d in docs], top_k=2)
    assert [d.page_content for d in out] == [r.text for r in want]
    assert [d.metadata["relevance_score"] for d in out] == pytest.approx([r.score for r in want])


def test_llamaindex_postprocessor_takes_llm_spec(
    model_dirs: dict[str, Path], qwen: LLMReranker
) -> None:
    pytest.importorskip("llama_index.postprocessor.rankwise")
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.rankwise import RankwiseRerank

    spec = f"llm:{model_dirs['qwen3']}"
    post = RankwiseRerank(spec, top_n=2, reranker_kwargs={"device": "cpu"})
    texts = ("wing lift", "paris river", "shock flow")
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.0) for t in texts]
    out = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    want = qwen.rerank(QUERY, list(texts), top_k=2)
    assert [n.node.get_content() for n in out] == [r.text for r in want]
    assert [n.score for n in out] == pytest.approx([r.score for r in want])
