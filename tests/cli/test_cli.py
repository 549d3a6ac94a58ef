"""The `rankwise` command line: index, search, eval, JSON schemas, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rankwise.cli import main

Run = tuple[int, str, str]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(
    *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rankwise", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


@pytest.fixture
def index_dir(tmp_path: Path, jsonl_corpus: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "idx"
    code, _, _ = run(capsys, "index", str(jsonl_corpus), "--out", str(out), "-q")
    assert code == 0
    return out


# -- index ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["jsonl_corpus", "beir_dataset", "text_folder"])
def test_index_every_corpus_layout(
    layout: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus: Path = request.getfixturevalue(layout)
    out = tmp_path / f"idx-{layout}"
    code, stdout, _ = run(capsys, "index", str(corpus), "--out", str(out), "-q")
    assert code == 0
    assert stdout.startswith("indexed 6 documents in ")
    assert "documents/s" in stdout
    code, stdout, _ = run(capsys, "search", str(out), "hypersonic heat", "--json")
    assert code == 0
    top = json.loads(stdout)["results"][0]
    assert top["id"] == ("d3.md" if layout == "text_folder" else "d3")


def test_index_shows_progress_on_stderr(
    jsonl_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "index", str(jsonl_corpus), "--out", str(tmp_path / "i"))
    assert code == 0
    assert "indexing" in err
    assert "6/6" in err


def test_index_analyzer_option_is_stored(
    jsonl_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "std"
    code, _, _ = run(
        capsys, "index", str(jsonl_corpus), "--out", str(out), "--analyzer", "standard", "-q"
    )
    assert code == 0
    # "loving" is not stemmed by the standard analyzer, so "loves" finds nothing
    _, stdout, _ = run(capsys, "search", str(out), "loves", "--json")
    assert json.loads(stdout)["results"] == []
    _, stdout, _ = run(capsys, "search", str(out), "loving", "--json")
    assert [r["id"] for r in json.loads(stdout)["results"]] == ["d4"]


# -- search --------------------------------------------------------------------------------
def test_search_table(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "search", str(index_dir), "swept wing lift")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["#", "id", "bm25", "text"]
    assert lines[2].split()[:2] == ["1", "d1"]
    assert "results; retrieve" in out


SEARCH_KEYS = {"schema", "query", "k", "index", "reranker", "timings_ms", "results"}
RESULT_KEYS = {"rank", "id", "score", "retrieval_score", "text", "metadata"}


def check_search_schema(payload: dict[str, Any]) -> None:
    assert set(payload) == SEARCH_KEYS
    assert payload["schema"] == "rankwise.search/v1"
    assert set(payload["timings_ms"]) == {"retrieve", "rerank"}
    for i, r in enumerate(payload["results"], 1):
        assert set(r) == RESULT_KEYS
        assert r["rank"] == i
        assert isinstance(r["id"], str)
        assert isinstance(r["score"], float)
        assert isinstance(r["retrieval_score"], float)
        assert isinstance(r["text"], str)
        assert isinstance(r["metadata"], dict)
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_json_schema(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "search", str(index_dir), "wing pressure airfoil", "-k", "1", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    check_search_schema(payload)
    assert payload["query"] == "wing pressure airfoil"
    assert payload["k"] == 1
    assert payload["reranker"] is None
    assert len(payload["results"]) == 1
    r = payload["results"][0]
    assert r["score"] == r["retrieval_score"]
    _, out, _ = run(capsys, "search", str(index_dir), "swept wing", "--json")
    d1 = json.loads(out)["results"][0]
    assert d1["id"] == "d1"
    assert d1["metadata"] == {"year": 1956, "title": "Wings"}
    assert d1["text"].startswith("Wings The lift")  # title + " " + text, as load_beir


def test_search_with_embedding_reranker(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "search", str(index_dir), "1956", "--rerank", "embedding:default", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    check_search_schema(payload)
    assert payload["reranker"] == "embedding:all-MiniLM-L6-v2"
    assert payload["results"][0]["id"] in {"d1", "d6"}
    assert all(-1.0 <= r["score"] <= 1.0 for r in payload["results"])
    code, out, _ = run(
        capsys, "search", str(index_dir), "wing flow", "--rerank", "embedding:default", "-k", "2"
    )
    assert code == 0
    assert out.splitlines()[0].split() == ["#", "id", "rerank", "bm25", "text"]


def test_search_no_results(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "search", str(index_dir), "zzzz unknownterm")
    assert code == 0
    assert out.strip() == "no results for 'zzzz unknownterm'"


# -- eval ----------------------------------------------------------------------------------
EVAL_KEYS = {
    "schema",
    "dataset",
    "metrics",
    "pipelines",
    "settings",
    "notes",
    "plot",
    "setup_s",
    "wall_s",
}


def test_eval_default_runs_the_four_demo_pipelines(
    beir_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "plot.png"
    code, out, _ = run(
        capsys,
        "eval",
        str(beir_dataset),
        "--json",
        "--plot",
        str(png),
        "--cache-dir",
        str(tmp_path / "cache"),
        "-q",
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == EVAL_KEYS
    assert payload["schema"] == "rankwise.eval/v1"
    assert payload["dataset"] == {"name": "tinybeir", "documents": 6, "queries": 3}
    assert payload["metrics"] == ["ndcg@10", "recall@100", "mrr@10"]
    names = [p["name"] for p in payload["pipelines"]]
    assert names == ["BM25", "dense", "hybrid RRF", "hybrid RRF + rerank (bi-encoder)"]
    stages = {p["name"]: p["stages"] for p in payload["pipelines"]}
    assert stages["hybrid RRF + rerank (bi-encoder)"] == ["bm25", "dense", "fusion", "rerank"]
    for p in payload["pipelines"]:
        assert set(p["metrics"]) == {"ndcg@10", "recall@100", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in p["metrics"].values())
        assert set(p["latency_ms"]) == {*p["stages"], "total"}
        for st in p["latency_ms"].values():
            assert st["mean_ms"] >= 0
            assert st["p95_ms"] >= 0
    bm25 = payload["pipelines"][0]["metrics"]
    assert bm25["mrr@10"] == 1.0  # each judged query's relevant document ranks first
    # q1's second relevant document (d5) shares no term with the query: BM25 cannot find it
    assert bm25["recall@100"] == pytest.approx((0.5 + 1 + 1) / 3)
    dense = payload["pipelines"][1]["metrics"]
    assert dense["recall@100"] == 1.0  # the dense index ranks all six documents
    assert payload["settings"]["reranker"] == "embedding:all-MiniLM-L6-v2"
    assert any("bi-encoder" in n for n in payload["notes"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy"))


def test_eval_table_and_single_retriever(
    beir_dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "eval", str(beir_dataset), "--retriever", "bm25", "--no-cache", "-q")
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("pipeline"))
    assert "nDCG@10" in header
    assert "Recall@100" in header
    assert "MRR@10" in header
    assert "bm25 ms" in header
    assert "total ms (mean / p95)" in header
    rows = [line for line in lines if line.startswith(("BM25", "dense", "hybrid"))]
    assert [r.split()[0] for r in rows] == ["BM25"]
    assert "wall time" in out


def test_eval_retriever_with_rerank_spec(
    beir_dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "eval",
        str(beir_dataset),
        "--retriever",
        "bm25,dense",
        "--rerank",
        "embedding:default",
        "--k",
        "5",
        "--recall-k",
        "3",
        "--json",
        "--no-cache",
        "-q",
    )
    assert code == 0
    payload = json.loads(out)
    assert [p["name"] for p in payload["pipelines"]] == [
        "BM25",
        "dense",
        "BM25 + rerank (bi-encoder)",
        "dense + rerank (bi-encoder)",
    ]
    assert payload["metrics"] == ["ndcg@5", "recall@3", "mrr@5"]


def test_eval_bundled_cranfield_bm25_subset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "eval", "cranfield", "--retriever", "bm25", "--max-queries", "20", "--json", "-q"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["dataset"] == {"name": "cranfield", "documents": 1400, "queries": 20}
    assert 0.1 < payload["pipelines"][0]["metrics"]["ndcg@10"] < 0.9


# -- errors --------------------------------------------------------------------------------
def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"rankwise {command}: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_missing_corpus_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "index", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "i")
    )
    assert code == 1
    assert out == ""
    assert "nope.jsonl" in one_line_error(err, "index")
    assert "no such file" in err


def test_bad_jsonl_line_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "ok"}\n{"id": "b", "text": \n', encoding="utf-8")
    code, _, err = run(capsys, "index", str(bad), "--out", str(tmp_path / "i"), "-q")
    assert code == 1
    assert "bad JSONL line 2" in one_line_error(err, "index")
    assert not (tmp_path / "i").exists()


def test_unknown_reranker_spec(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", str(index_dir), "wing", "--rerank", "nonsense:model")
    assert code == 1
    assert "unknown reranker" in one_line_error(err, "search")
    code, _, err = run(capsys, "search", str(index_dir), "wing", "--rerank", "nocolon")
    assert code == 1
    assert "unknown reranker spec" in one_line_error(err, "search")


def test_unknown_dataset_and_missing_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "eval", str(tmp_path / "nowhere"), "--retriever", "bm25")
    assert code == 1
    assert "nowhere" in one_line_error(err, "eval")
    code, _, err = run(capsys, "search", str(tmp_path / "noindex"), "q")
    assert code == 1
    assert "noindex" in one_line_error(err, "search")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["index", "corpus.jsonl"])  # --out missing
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["eval", "cranfield", "--retriever", "bm26"])
    assert info.value.code == 2
    assert "unknown retriever" in capsys.readouterr().err


def test_debug_raises_instead_of_one_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        main(["--debug", "index", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "i")])
    with pytest.raises(FileNotFoundError):
        main(["index", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "i"), "--debug"])


def test_python_dash_m_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    ok = run_subprocess("--version")
    assert ok.returncode == 0
    assert ok.stdout.startswith("rankwise ")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "ok"}\n{"id": "a", "text": "dup"}\n', encoding="utf-8")
    proc = run_subprocess("index", str(bad), "--out", str(tmp_path / "i"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        f"rankwise index: error: {bad}: bad JSONL line 2: duplicate document id 'a'"
    )
    proc = run_subprocess("--debug", "index", str(bad), "--out", str(tmp_path / "i"))
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "CorpusError" in proc.stderr


@pytest.mark.milvus
def test_index_and_search_on_milvus_lite(
    jsonl_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pymilvus")
    out = tmp_path / "mx"
    code, stdout, _ = run(
        capsys, "index", str(jsonl_corpus), "--out", str(out), "--store", "milvus", "-q"
    )
    assert code == 0
    assert "documents/s" in stdout
    assert "milvus.db (collection rankwise)" in stdout
    manifest = json.loads((out / "rankwise-milvus.json").read_text(encoding="utf-8"))
    # Milvus Lite has no English stemmer: rankwise analyzes on the client instead
    assert manifest["analysis"] == "client"
    code, stdout, _ = run(capsys, "search", str(out), "who loves milvus", "--json")
    assert code == 0
    payload = json.loads(stdout)
    check_search_schema(payload)
    assert [r["id"] for r in payload["results"]] == ["d4"]
    assert payload["results"][0]["text"] == "We are loving Milvus! Information retrieval with BM25."


def test_eval_max_length_shares_the_dense_embedder_with_the_reranker(
    beir_dataset: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rankwise.cli.commands as commands

    def no_factory(spec: str) -> Any:
        raise AssertionError(f"the embedding reranker should reuse the dense embedder: {spec}")

    monkeypatch.setattr(commands, "load_reranker", no_factory)
    code, out, _ = run(
        capsys,
        "eval",
        str(beir_dataset),
        "--max-length",
        "16",
        "--retriever",
        "dense",
        "--rerank",
        "embedding:default",
        "--json",
        "--no-cache",
        "-q",
    )
    assert code == 0
    payload = json.loads(out)
    assert [p["name"] for p in payload["pipelines"]] == ["dense", "dense + rerank (bi-encoder)"]
    dense, reranked = payload["pipelines"]
    # reranking the dense candidates by the same embeddings keeps the dense ranking
    assert reranked["metrics"] == dense["metrics"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankwise.testing.tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-ce"))


def test_search_and_eval_with_a_cross_encoder_spec(
    index_dir: Path,
    beir_dataset: Path,
    tiny_cross_encoder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rankwise.rerankers import CrossEncoderReranker

    spec = f"cross-encoder:{tiny_cross_encoder}"
    code, out, _ = run(
        capsys, "search", str(index_dir), "wing flow heat", "--rerank", spec, "--json"
    )
    assert code == 0
    payload = json.loads(out)
    check_search_schema(payload)
    assert payload["reranker"].startswith("cross-encoder:")
    texts = [r["text"] for r in payload["results"]]
    expected = CrossEncoderReranker(str(tiny_cross_encoder)).rerank("wing flow heat", texts)
    assert [r["score"] for r in payload["results"]] == pytest.approx([e.score for e in expected])
    code, out, _ = run(
        capsys, "eval", str(beir_dataset), "--retriever", "bm25", "--rerank", spec, "--json", "-q"
    )
    assert code == 0
    rows = [p["name"] for p in json.loads(out)["pipelines"]]
    assert rows == ["BM25", "BM25 + rerank (cross-encoder)"]
