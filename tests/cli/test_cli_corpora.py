"""`rankwise` on real corpora (issue 16, 13.6): chunking, filters, group-by-doc, --device,
eval data checks, metrics, --plot, CLI manners, relocatable Milvus Lite indexes."""

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


def search_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    code, out, err = run(capsys, "search", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


LICENCE = " ".join(
    f"Section {i}. The licensee may copy the software, and the licensor keeps every right "
    f"of clause {i} unless the parties agree in writing."
    for i in range(40)
)


@pytest.fixture
def long_folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "legal").mkdir(parents=True)
    (root / "legal" / "LICENSE.md").write_text(LICENCE, encoding="utf-8")
    (root / "notes.txt").write_text("A short note about wings and lift.", encoding="utf-8")
    return root


# -- chunking -------------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["tokens", "chars"])
def test_index_chunks_with_ids_parent_offsets_and_source(
    long_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], unit: str
) -> None:
    size, overlap = (40, 8) if unit == "tokens" else (300, 60)
    out = tmp_path / "idx"
    code, stdout, _ = run(
        capsys, "index", str(long_folder), "--out", str(out), "-q",
        "--chunk-size", str(size), "--chunk-overlap", str(overlap), "--chunk-unit", unit,
    )  # fmt: skip
    assert code == 0
    assert " chunks in " in stdout
    from rankwise.bm25 import Analyzer, BM25Index

    index = BM25Index.load(out)
    ids = index.ids()
    lic = [i for i in ids if i.startswith("legal/LICENSE.md#")]
    assert len(lic) > 5
    assert lic == [f"legal/LICENSE.md#{n}" for n in range(len(lic))]
    assert "notes.txt#0" in ids
    analyzer = Analyzer("english")
    source = (long_folder / "legal" / "LICENSE.md").resolve()
    prev_end = 0
    for n, hit in enumerate(index.get(lic)):
        meta = hit.metadata
        assert meta["parent_id"] == "legal/LICENSE.md"
        assert meta["chunk"] == n
        assert meta["source_path"] == str(source)
        piece = LICENCE[meta["char_start"] : meta["char_end"]]
        assert hit.text == piece
        if unit == "tokens":
            assert len(analyzer.analyze(piece)) <= size
        else:
            assert len(piece) <= size
        if n:
            assert meta["char_start"] < prev_end  # consecutive chunks overlap
        prev_end = meta["char_end"]
    assert prev_end == len(LICENCE)


def test_search_group_by_doc_keeps_the_best_chunk_per_document(
    long_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "idx"
    assert main(["index", str(long_folder), "--out", str(out), "-q", "--chunk-size", "30"]) == 0
    capsys.readouterr()
    flat = search_json(capsys, str(out), "licensee wings", "-k", "50")
    grouped = search_json(capsys, str(out), "licensee wings", "-k", "2", "--group-by-doc")
    parents = [r["metadata"]["parent_id"] for r in grouped["results"]]
    assert sorted(parents) == ["legal/LICENSE.md", "notes.txt"]
    best: dict[str, str] = {}
    for r in flat["results"]:
        best.setdefault(r["metadata"]["parent_id"], r["id"])
    assert [r["id"] for r in grouped["results"]] == [best[p] for p in parents]
    assert set(grouped) == set(flat)  # the schema does not change


def test_chunk_overlap_must_be_smaller(
    long_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "index", str(long_folder), "--out", str(tmp_path / "i"),
        "--chunk-size", "10", "--chunk-overlap", "10",
    )  # fmt: skip
    assert code == 1
    assert "--chunk-overlap (10) must be smaller than --chunk-size (10)" in err


# -- filters --------------------------------------------------------------------------------
FILTER_DOCS = [
    {"_id": f"d{i}", "text": f"wing flow number {i}", "year": 1950 + 5 * i,
     "lang": "en" if i % 2 else "fr", **({"tag": "x"} if i % 3 == 0 else {})}
    for i in range(12)
]  # fmt: skip


@pytest.fixture
def filter_corpus(tmp_path: Path) -> Path:
    f = tmp_path / "f.jsonl"
    f.write_text("".join(json.dumps(d) + "\n" for d in FILTER_DOCS), encoding="utf-8")
    return f


def _oracle(conditions: list[tuple[str, str, Any]]) -> set[str]:
    import operator

    ops = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
           "<": operator.lt, "<=": operator.le}  # fmt: skip
    keep = set()
    for d in FILTER_DOCS:
        if all(
            key in d and type(d[key]) is type(v) and ops[op](d[key], v) for key, op, v in conditions
        ):
            keep.add(str(d["_id"]))
    return keep


FILTER_CASES: list[tuple[list[str], list[tuple[str, str, Any]]]] = [
    (["lang=en"], [("lang", "=", "en")]),
    (["lang!=en"], [("lang", "!=", "en")]),
    (["year>1990"], [("year", ">", 1990)]),
    (["year>=1990"], [("year", ">=", 1990)]),
    (["year<1965"], [("year", "<", 1965)]),
    (["year<=1965", "lang=fr"], [("year", "<=", 1965), ("lang", "=", "fr")]),
    (["tag!=y"], [("tag", "!=", "y")]),  # documents without the key are not kept
    (['year="1960"'], [("year", "=", "1960")]),  # a quoted value is a string: no match
    (["lang>=f", "year<2000"], [("lang", ">=", "f"), ("year", "<", 2000)]),
]


@pytest.mark.parametrize(("flags", "conditions"), FILTER_CASES)
def test_search_filter_operators_match_a_brute_force_oracle(
    filter_corpus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    conditions: list[tuple[str, str, Any]],
) -> None:
    out = tmp_path / "idx"
    assert main(["index", str(filter_corpus), "--out", str(out), "-q"]) == 0
    argv = [str(out), "wing flow", "-k", "3"]
    for f in flags:
        argv += ["--filter", f]
    got = search_json(capsys, *argv)
    want = _oracle(conditions)
    ids = [r["id"] for r in got["results"]]
    assert set(ids) <= want
    assert len(ids) == min(3, len(want))


def test_equality_filter_is_the_dict_filter(
    filter_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rankwise.bm25 import BM25Index

    out = tmp_path / "idx"
    assert main(["index", str(filter_corpus), "--out", str(out), "-q"]) == 0
    got = search_json(capsys, str(out), "wing flow", "-k", "20", "--filter", "year=1960")
    hits = BM25Index.load(out).search("wing flow", k=20, filter={"year": 1960})
    assert [r["id"] for r in got["results"]] == [h.id for h in hits] == ["d2"]


@pytest.mark.parametrize(
    ("flag", "message"),
    [("year", "is not KEY=VALUE"), ("=3", "is not KEY=VALUE"), ("year>true", "compares numbers")],
)
def test_bad_filter_is_one_clear_line(
    index_dir: Path, capsys: pytest.CaptureFixture[str], flag: str, message: str
) -> None:
    code, _, err = run(capsys, "search", str(index_dir), "wing", "--filter", flag)
    assert code == 1
    assert message in err


@pytest.mark.milvus
def test_filters_give_the_same_answers_on_milvus_lite(
    filter_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("milvus_lite")
    emb, mil = tmp_path / "emb", tmp_path / "mil"
    assert main(["index", str(filter_corpus), "--out", str(emb), "-q"]) == 0
    assert main(["index", str(filter_corpus), "--out", str(mil), "-q", "--store", "milvus"]) == 0
    capsys.readouterr()
    for flags, _ in FILTER_CASES:
        argv = ["wing flow", "-k", "4"]
        for f in flags:
            argv += ["--filter", f]
        a = search_json(capsys, str(emb), *argv)["results"]
        b = search_json(capsys, str(mil), *argv)["results"]
        assert [r["id"] for r in a] == [r["id"] for r in b], flags


# -- --device -------------------------------------------------------------------------------
def test_device_needs_a_local_reranker(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", str(index_dir), "wing", "--device", "cpu")
    assert code == 1
    assert "--device needs --rerank" in err
    code, _, err = run(
        capsys,
        "search",
        str(index_dir),
        "wing",
        "--rerank",
        "cohere:rerank-v3.5",
        "--device",
        "cpu",
    )
    assert code == 1
    assert "--device applies to local models" in err


def test_device_reaches_the_reranker(
    index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rankwise.testing.tiny_models import save_tiny_model

    model = save_tiny_model(tmp_path / "ce")
    got = search_json(
        capsys, str(index_dir), "wing", "--rerank", f"cross-encoder:{model}", "--device", "cpu"
    )
    assert got["results"]
    code, _, err = run(
        capsys, "search", str(index_dir), "wing", "--rerank", f"cross-encoder:{model}",
        "--device", "nodevice",
    )  # fmt: skip
    assert code == 1
    assert "nodevice" in err


# -- eval data checks -----------------------------------------------------------------------
def _qrels(root: Path, text: str) -> None:
    (root / "qrels" / "test.tsv").write_text(text, encoding="utf-8")


def test_eval_refuses_unknown_ids_unless_allowed(
    beir_dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _qrels(
        beir_dataset,
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\tghost1\t1\nq2\tghost2\t1\nq9\td3\t1\n",
    )
    code, out, err = run(capsys, "eval", str(beir_dataset), "--retriever", "bm25", "-q")
    assert code == 1
    assert out == ""
    assert "1 query id in the qrels is not in queries.jsonl ('q9')" in err
    assert "2 document ids in the qrels are not in corpus.jsonl ('ghost1', 'ghost2'" in err
    assert "--allow-missing" in err
    code, out, err = run(
        capsys, "eval", str(beir_dataset), "--retriever", "bm25", "-q", "--allow-missing", "--json"
    )
    assert code == 0
    assert "warning" in err
    assert "ghost1" in err
    assert json.loads(out)["pipelines"][0]["name"] == "BM25"


def test_eval_bad_qrels_line_names_file_and_line(
    beir_dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _qrels(beir_dataset, "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td5\tbad\n")
    code, _, err = run(capsys, "eval", str(beir_dataset), "--retriever", "bm25", "-q")
    assert code == 1
    assert "test.tsv: bad qrels line 3: score 'bad' is not a number" in err


def test_eval_file_for_folder_says_so(
    jsonl_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "eval", str(jsonl_corpus), "--retriever", "bm25")
    assert code == 1
    assert "docs.jsonl is a file; a dataset is a BEIR folder" in err


def test_eval_metrics_option(beir_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "eval", str(beir_dataset), "--retriever", "bm25", "-q", "--json",
        "--metrics", "ndcg@10,recall@100,mrr@10,map@100,p@10",
    )  # fmt: skip
    assert code == 0
    payload = json.loads(out)
    assert payload["metrics"] == ["ndcg@10", "recall@100", "mrr@10", "map@100", "p@10"]
    values = payload["pipelines"][0]["metrics"]
    assert 0 < values["map@100"] <= 1
    assert 0 < values["p@10"] <= 0.1 * 2  # at most 2 relevant per query here
    code, out, _ = run(
        capsys, "eval", str(beir_dataset), "--retriever", "bm25", "-q", "--metrics", "map@5,P@1"
    )
    assert "MAP@5" in out
    assert "P@1" in out
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(beir_dataset), "--metrics", "ap@10"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: rankwise eval" in err
    assert "unknown metric 'ap@10'" in err


def test_eval_plot_checks_matplotlib_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    # the dataset does not even exist: the missing dependency is reported first
    code, _, err = run(capsys, "eval", str(tmp_path / "nowhere"), "--plot", str(tmp_path / "p.png"))
    assert code == 1
    assert "--plot needs the optional dependency 'matplotlib'" in err
    assert 'pip install "rankwise[cli]"' in err


# -- manners ---------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def test_closed_pipe_exits_quietly_with_status_0(tmp_path: Path) -> None:
    corpus = tmp_path / "big.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "text": "wing " + "lift " * 400 + str(i)}) + "\n"
            for i in range(300)
        ),
        encoding="utf-8",
    )
    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "--out", str(idx), "-q"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "rankwise", "search", str(idx), "wing", "-k", "300", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(10)  # like `| head -c 10`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Broken pipe" not in err
    assert err == ""


def test_subcommand_usage_error_prints_that_subcommands_usage(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["search", str(index_dir), "wing", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: rankwise search")
    assert "rankwise search: error: unrecognized arguments: --bogus" in err


def test_bad_analyzer_message_does_not_stutter(
    jsonl_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "index", str(jsonl_corpus), "--out", str(tmp_path / "i"), "--analyzer", "klingon"
    )
    assert code == 1
    line = err.strip()
    assert line == (
        "rankwise index: error: unknown --analyzer 'klingon': use english (the default), "
        "standard, chinese or a JSON object of Milvus analyzer_params"
    )
    code, _, err = run(
        capsys, "index", str(jsonl_corpus), "--out", str(tmp_path / "i"),
        "--analyzer", '{"tokenizer": "bogus"}',
    )  # fmt: skip
    assert err.strip() == (
        "rankwise index: error: the --analyzer JSON is not a valid analyzer: unknown tokenizer "
        "'bogus'; known: standard, whitespace, jieba"
    )
    # eval checks it before loading anything
    code, _, err = run(capsys, "eval", str(tmp_path / "nowhere"), "--analyzer", "klingon")
    assert code == 1
    assert "unknown --analyzer 'klingon'" in err


# -- relocatable Milvus Lite indexes (issue 13.6) -------------------------------------------
@pytest.mark.milvus
def test_milvus_index_searchable_from_elsewhere_and_after_a_move(
    jsonl_corpus: Path, tmp_path: Path
) -> None:
    pytest.importorskip("milvus_lite")

    def cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rankwise", *argv],
            cwd=cwd, capture_output=True, text=True, env=_env(), timeout=300,
        )  # fmt: skip

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    done = cli(work, "index", str(jsonl_corpus), "--out", "idxm", "--store", "milvus", "-q")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((work / "idxm" / "rankwise-milvus.json").read_text())
    assert manifest["uri"] == "milvus.db"  # relative to the index folder
    first = cli(elsewhere, "search", str(work / "idxm"), "swept wing", "--json")
    assert first.returncode == 0, first.stderr
    ids = [r["id"] for r in json.loads(first.stdout)["results"]]
    assert ids[0] == "d1"
    moved = tmp_path / "moved-index"
    (work / "idxm").rename(moved)
    again = cli(elsewhere, "search", str(moved), "swept wing", "--json")
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in json.loads(again.stdout)["results"]] == ids


@pytest.fixture
def index_dir(tmp_path: Path, jsonl_corpus: Path) -> Path:
    out = tmp_path / "idx"
    assert main(["index", str(jsonl_corpus), "--out", str(out), "-q"]) == 0
    return out


def test_a_query_with_a_lone_surrogate_is_refused(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "search", str(index_dir), "wing \udcff")
    assert code == 1
    assert "the query contains a lone surrogate" in err
