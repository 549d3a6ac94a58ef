"""BGEReranker: equal to FlagEmbedding's own FlagReranker.compute_score on a tiny XLM-R model."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from rankwise.rerankers import BGEReranker, load
from rankwise.testing.flagembedding_compat import import_flagembedding

QUERY = "capital of france river"


@pytest.fixture(scope="module")
def flag_reranker(xlmr_dir: Path) -> Any:
    flag = import_flagembedding()
    return flag.FlagReranker(str(xlmr_dir), use_fp16=False, devices="cpu")


@pytest.mark.parametrize("normalize", [True, False])
def test_scores_equal_flagembedding(
    flag_reranker: Any, xlmr_dir: Path, docs: list[str], normalize: bool
) -> None:
    expected = flag_reranker.compute_score([[QUERY, d] for d in docs], normalize=normalize)
    bge = BGEReranker(str(xlmr_dir), device="cpu", normalize=normalize)
    assert bge.backend == "lean"
    got = {r.index: r.score for r in bge.rerank(QUERY, docs)}
    assert [got[i] for i in range(len(docs))] == pytest.approx(expected, abs=1e-5)
    if normalize:
        assert all(0 < s < 1 for s in got.values())
    else:
        assert any(s < 0 for s in got.values()) or any(s > 1 for s in got.values())


def test_truncation_rules_equal_flagembedding(
    flag_reranker: Any, xlmr_dir: Path, docs: list[str]
) -> None:
    long_query = " ".join(["capital", "of", "france", "river", "bridge"] * 6)  # 30 tokens
    pairs = [[long_query, d] for d in docs]
    expected = flag_reranker.compute_score(pairs, max_length=24, normalize=True)
    bge = BGEReranker(str(xlmr_dir), device="cpu", max_length=24)
    got = {r.index: r.score for r in bge.rerank(long_query, docs)}
    assert [got[i] for i in range(len(docs))] == pytest.approx(expected, abs=1e-5)


def test_default_model_name_and_load(xlmr_dir: Path) -> None:
    r = load(f"bge:{xlmr_dir}", device="cpu", normalize=False)
    assert isinstance(r, BGEReranker)
    assert r.normalize is False
    assert r.name == f"bge:{xlmr_dir}"
    assert "normalize=False" in repr(r)


def test_decoder_models_are_delegated_to_flagembedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decoder-only (LLM) reranker goes to FlagEmbedding's class, with our kwargs."""
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=8,
    ).save_pretrained(tmp_path)
    calls: dict[str, Any] = {}

    class FakeLLMReranker:
        def __init__(self, name: str, **kwargs: Any) -> None:
            calls["init"] = (name, kwargs)

        def compute_score(self, pairs: list[list[str]], **kwargs: Any) -> list[float]:
            calls["score"] = (pairs, kwargs)
            return [float(len(d)) for _, d in pairs]

    fake = types.ModuleType("FlagEmbedding")
    fake.FlagLLMReranker = FakeLLMReranker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "FlagEmbedding", fake)
    r = BGEReranker(str(tmp_path), device="cpu", score_kwargs={"cutoff_layers": [28]})
    assert r.backend == "flagembedding"
    res = r.rerank("q", ["aa", "a", "aaa"])
    assert [x.index for x in res] == [2, 0, 1]
    assert calls["init"][0] == str(tmp_path)
    assert calls["init"][1]["normalize"] is True
    assert calls["init"][1]["use_fp16"] is False
    assert calls["score"][1] == {"normalize": True, "cutoff_layers": [28]}
    assert r.rerank("q", []) == []


def test_missing_flagembedding_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1
    ).save_pretrained(tmp_path)
    monkeypatch.setitem(sys.modules, "FlagEmbedding", None)
    with pytest.raises(ImportError, match=r'pip install "rankwise\[bge\]"'):
        BGEReranker(str(tmp_path), device="cpu")


def test_bad_arguments(xlmr_dir: Path) -> None:
    with pytest.raises(ValueError, match="backend"):
        BGEReranker(str(xlmr_dir), backend="onnx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="normalize"):
        BGEReranker(str(xlmr_dir), normalize="yes")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama causal LM with a locally built tokenizer (an LLM reranker's shape)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rankwise.testing.tiny_models import build_tokenizer

    path = tmp_path_factory.mktemp("tiny-llm-reranker")
    tok = build_tokenizer("xlm-roberta")
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def test_llm_reranker_hand_off_runs_real_flagembedding(
    llm_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The decoder-only hand-off runs FlagEmbedding's own FlagLLMReranker (under transformers
    5 too) and returns exactly its scores, ranked, without its progress bars."""
    r = BGEReranker(str(llm_dir), device="cpu")
    assert r.backend == "flagembedding"
    with pytest.raises(ValueError, match="fast"):
        BGEReranker(str(llm_dir), device="cpu", fast=True)
    docs = ["paris france capital", "river bridge", "the cat and the dog", "wing flow"]
    capfd.readouterr()
    got = {x.index: x.score for x in r.rerank(QUERY, docs)}
    assert "it/s" not in capfd.readouterr().err  # FlagEmbedding's bars are off by default
    loud = BGEReranker(str(llm_dir), device="cpu", show_progress=True)
    assert [x.score for x in loud.rerank(QUERY, docs)] == sorted(got.values(), reverse=True)
    assert "it/s" in capfd.readouterr().err
    flag = import_flagembedding().FlagLLMReranker(str(llm_dir), use_fp16=False, devices="cpu")
    want = flag.compute_score([[QUERY, d] for d in docs], normalize=True)
    assert [got[i] for i in range(len(docs))] == pytest.approx(want, abs=1e-6)
    assert all(0.0 < s < 1.0 for s in got.values())  # normalized by default


def test_flagembedding_import_leaves_no_placeholder_behind() -> None:
    """The transformers-5 placeholder module exists only while FlagEmbedding imports."""
    import subprocess

    code = (
        "import sys\n"
        "from rankwise.rerankers._flagembedding import import_flagembedding, mask_utils_missing\n"
        "missing = mask_utils_missing()\n"
        "assert hasattr(import_flagembedding(), 'FlagLLMReranker')\n"
        "name = 'transformers.modeling_attn_mask_utils'\n"
        "assert (name in sys.modules) == (not missing), sorted(sys.modules)[:3]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_layerwise_models_under_transformers_5_name_the_fix(tmp_path: Path) -> None:
    from transformers import LlamaConfig

    from rankwise.rerankers._flagembedding import mask_utils_missing

    if not mask_utils_missing():
        pytest.skip("transformers 4 installed: FlagEmbedding's layerwise reranker can run")
    path = tmp_path / "tiny-reranker-layerwise"
    LlamaConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1
    ).save_pretrained(path)
    with pytest.raises(ImportError, match=r"LayerWiseFlagLLMReranker.*transformers<5"):
        BGEReranker(str(path), device="cpu")


# -- one reranker, two scorers (issue 17 item 6) -----------------------------------------------
#: every public name of BGEReranker, with what the test below does with it
PUBLIC_API = {
    "rerank", "arerank", "rerank_many", "arerank_many", "rerank_hits", "arerank_hits",
    "close", "aclose", "name", "fast", "model", "tokenizer", "unpad",
}  # fmt: skip


@pytest.fixture(scope="module")
def both_backends(xlmr_dir: Path, llm_dir: Path) -> dict[str, BGEReranker]:
    return {
        "lean": BGEReranker(str(xlmr_dir), device="cpu"),
        "flagembedding": BGEReranker(str(llm_dir), device="cpu"),
    }


def test_public_api_is_the_one_tested() -> None:
    public = {n for n in dir(BGEReranker) if not n.startswith("_")}
    assert public == PUBLIC_API


@pytest.mark.parametrize("backend", ["lean", "flagembedding"])
async def test_every_public_method_works_on_both_backends(
    backend: str, both_backends: dict[str, BGEReranker]
) -> None:
    """Both scorers sit behind the same reranker: every public method and attribute works,
    with the scorer's own scores."""
    from rankwise.types import Hit

    r = both_backends[backend]
    docs = ["paris france capital", "river bridge", "the cat and the dog", "wing flow"]
    assert r.backend == backend
    assert r.name.startswith("bge:")
    assert f"backend={backend!r}" in repr(r)
    assert r.fast is False
    assert r.model is not None
    assert r.tokenizer is not None
    assert r.unpad is (backend == "lean" and r.scorer.unpad)  # type: ignore[attr-defined]
    want = r.scorer._score(QUERY, docs)
    ranked = r.rerank(QUERY, docs, top_k=3, ids=list("abcd"))
    assert [(x.index, x.id) for x in ranked] == [
        (i, "abcd"[i]) for i in sorted(range(4), key=lambda i: -want[i])[:3]
    ]
    assert [x.score for x in ranked] == pytest.approx(sorted(want, reverse=True)[:3], abs=1e-6)
    assert r(QUERY, docs) == r.rerank(QUERY, docs)
    assert [x.score for x in await r.arerank(QUERY, docs)] == pytest.approx(
        sorted(want, reverse=True), abs=1e-6
    )
    many = r.rerank_many([QUERY, "wing"], [docs, docs[:2]], top_k=1)
    assert [len(x) for x in many] == [1, 1]
    amany = await r.arerank_many([QUERY, "wing"], [docs, docs[:2]], top_k=1)
    assert [[x.index for x in m] for m in amany] == [[x.index for x in m] for m in many]
    hits = [Hit(id=f"h{i}", score=0.0, text=t, metadata={"i": i}) for i, t in enumerate(docs)]
    got_hits = r.rerank_hits(QUERY, hits, top_k=2)
    assert [h.id for h in got_hits] == [f"h{x.index}" for x in ranked[:2]]
    assert [h.id for h in await r.arerank_hits(QUERY, hits, top_k=2)] == [h.id for h in got_hits]
    with r as same:
        assert same is r
    async with r as same:
        assert same is r
    r.close()
    await r.aclose()
    assert r.rerank(QUERY, docs[:1])[0].score == pytest.approx(want[0], abs=1e-6)


def test_lean_scores_are_the_cross_encoders(xlmr_dir: Path, docs: list[str]) -> None:
    from rankwise.rerankers import CrossEncoderReranker

    bge = BGEReranker(str(xlmr_dir), device="cpu", normalize=False)
    assert isinstance(bge.scorer, CrossEncoderReranker)
    ce = CrossEncoderReranker(str(xlmr_dir), device="cpu", query_max_length=384)
    assert bge.rerank(QUERY, docs) == ce.rerank(QUERY, docs)


@pytest.fixture
def config_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the models whose config ``AutoConfig.from_pretrained`` read."""
    import transformers

    reads: list[str] = []
    original = transformers.AutoConfig.from_pretrained.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(name))
        return original(cls, name, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", classmethod(counting))
    return reads


def test_lean_backend_reads_the_config_once(xlmr_dir: Path, config_reads: list[str]) -> None:
    BGEReranker(str(xlmr_dir), device="cpu")
    assert config_reads == [str(xlmr_dir)]


def test_flagembedding_backend_reads_the_config_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_reads: list[str]
) -> None:
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1
    ).save_pretrained(tmp_path)
    fake = types.ModuleType("FlagEmbedding")
    fake.FlagLLMReranker = lambda name, **kwargs: types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "FlagEmbedding", fake)
    r = BGEReranker(str(tmp_path), device="cpu")
    assert r.backend == "flagembedding"
    assert config_reads == [str(tmp_path)]
