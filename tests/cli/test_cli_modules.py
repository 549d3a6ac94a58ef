"""The CLI's modules import in one direction, and ``rankwise eval`` is built from parts that
each do one job (issue 17 items 5 and 7)."""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

from rankwise.cli.errors import CliError
from rankwise.cli.evaluating import EvalIndexes, build_pipelines, eval_notes
from rankwise.pipeline import Retrieve
from rankwise.types import Hit

CLI = Path(__file__).resolve().parents[2] / "src" / "rankwise" / "cli"


def _cli_imports(path: Path) -> set[str]:
    """The ``rankwise.cli.*`` modules a module imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "rankwise.cli":
                found.update(f"rankwise.cli.{a.name}" for a in node.names)
            elif node.module.startswith("rankwise.cli."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rankwise.cli."))
    return found


def test_cli_modules_import_without_a_cycle() -> None:
    graph = {
        f"rankwise.cli.{p.stem}": _cli_imports(p) for p in CLI.glob("*.py") if p.stem != "__init__"
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = [m for m in graph if reaches(m, m, {m})]
    assert cycles == [], f"import cycle through {cycles}"
    assert "rankwise.cli.main" not in graph["rankwise.cli.commands"]
    main_module = importlib.import_module("rankwise.cli.main")
    assert main_module.CliError is CliError  # still importable from its old place


class _Fixed:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return [Hit(id=i, score=1.0 / (r + 1), text=i, metadata={}) for r, i in enumerate(self.ids)]


def _args(**kw: object) -> argparse.Namespace:
    base = {
        "retriever": None,
        "fetch_k": 50,
        "analyzer": "english",
        "k1": 1.2,
        "b": 0.75,
        "max_length": 128,
        "query_threads": 1,
    }
    return argparse.Namespace(**{**base, **kw})


def test_eval_notes_describe_the_hybrid_that_ran() -> None:
    built = EvalIndexes(
        bm25=Retrieve(_Fixed(["a", "b"]), stage="bm25"),
        dense=Retrieve(_Fixed(["b", "c"]), stage="dense"),
    )
    pipelines = build_pipelines(_args(), ["bm25", "dense", "hybrid"], built, None, depth=7)
    hybrid = pipelines[-1]
    assert [p.name for p in pipelines] == ["bm25", "dense", "hybrid RRF"]
    notes = eval_notes(_args(), built, pipelines, None)
    assert "hybrid: reciprocal-rank fusion (c=60) of BM25 and dense top-7" in notes
    hybrid.c = 10  # type: ignore[attr-defined]
    assert "hybrid: reciprocal-rank fusion (c=10) of BM25 and dense top-7" in eval_notes(
        _args(), built, pipelines, None
    )
