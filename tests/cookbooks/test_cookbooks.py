"""Every cookbook runs top to bottom offline, and is stored in git without outputs.

A plain ``pytest`` executes the notebooks here with nbclient (one kernel per notebook, the
kernel of this interpreter). ``pytest --nbmake cookbooks`` runs them the nbmake way too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

COOKBOOKS = Path(__file__).resolve().parents[2] / "cookbooks"
NOTEBOOKS = sorted(COOKBOOKS.glob("*.ipynb"))


def test_there_are_cookbooks() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "01_langchain_hybrid_rerank.ipynb",
        "02_llamaindex_query_engine.ipynb",
        "03_milvus_lite_pipeline.ipynb",
        "04_evaluation_cranfield.ipynb",
        "05_seed_examples.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a code cell has a count"
    assert nb.cells[0].cell_type == "markdown"  # each notebook opens with the why


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cookbook_runs_offline(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment: offline hub, a private embedding cache.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("RANKWISE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RANKWISE_COOKBOOK_RERANKER", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=int(os.environ.get("RANKWISE_COOKBOOK_CELL_TIMEOUT", "300")),
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "error"
    ]
    assert errors == []
