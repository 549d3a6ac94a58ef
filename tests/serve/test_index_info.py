"""What an index folder holds, as `rankwise info` and `/v1/info` show it: store, size, analyzer,
BM25 parameters and, for a Milvus index, the route BM25 runs on (recorded at index time and
used again on every reopen)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import httpx
import pytest

from rankwise.cli import main
from tests.serve.conftest import DOCS, start_live


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return path


def info(capsys: pytest.CaptureFixture[str], index: Path, *extra: str) -> str:
    assert main(["info", str(index), *extra]) == 0
    return capsys.readouterr().out


def test_info_of_an_embedded_index(serve_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = json.loads(info(capsys, serve_index, "--json"))
    assert got == {
        "path": str(serve_index.resolve()),
        "store": "embedded",
        "documents": len(DOCS),
        "analyzer": {"type": "english"},
        "k1": 1.2,
        "b": 0.75,
    }
    lines = info(capsys, serve_index).splitlines()
    assert lines[0].split() == ["path", str(serve_index.resolve())]
    assert ["documents", str(len(DOCS))] in [line.split() for line in lines]


def test_info_of_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rankwise info: error:")
    assert "nowhere" in err


def _milvus_index(corpus: Path, tmp_path: Path) -> Path:
    """The corpus indexed into Milvus Lite by `rankwise index` (skips without milvus-lite)."""
    pytest.importorskip("milvus_lite")
    out = tmp_path / "mx"
    assert main(["index", str(corpus), "--out", str(out), "--store", "milvus", "-q"]) == 0
    return out


@pytest.mark.milvus
def test_milvus_index_records_its_route_and_info_shows_it(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _milvus_index(corpus, tmp_path)
    capsys.readouterr()
    manifest = json.loads((out / "rankwise-milvus.json").read_text(encoding="utf-8"))
    assert manifest["route"] == "exact"  # Milvus Lite: rankwise scores, Milvus stores
    shown = json.loads(info(capsys, out, "--json"))
    assert shown["store"] == "milvus"
    assert shown["route"] == "exact"
    assert shown["analysis"] == manifest["analysis"]
    assert shown["documents"] == len(DOCS)
    assert ["route", "exact"] in [line.split() for line in info(capsys, out).splitlines()]

    live, stop = start_live(out, None)
    try:
        served = httpx.get(live.url + "/v1/info", timeout=30).json()
    finally:
        stop()
        live.server.store.close()
    assert served["index"]["route"] == "exact"
    assert served["index"]["store"] == "milvus"
    assert served["index"]["documents"] == len(DOCS)


@pytest.mark.milvus
def test_milvus_route_is_kept_on_reopen(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _milvus_index(corpus, tmp_path)
    manifest_path = out / "rankwise-milvus.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    # a manifest from before the route was recorded: the route taken on opening is shown
    legacy = {k: v for k, v in manifest.items() if k != "route"}
    manifest_path.write_text(json.dumps(legacy), encoding="utf-8")
    capsys.readouterr()
    assert json.loads(info(capsys, out, "--json"))["route"] == "exact"

    # the recorded route is the one asked for on reopening: a collection built on the exact
    # route does not open as a Milvus-BM25 one, and the error says so
    manifest_path.write_text(json.dumps({**manifest, "route": "milvus"}), encoding="utf-8")
    with warnings.catch_warnings():  # route='milvus' on Lite warns (once per process)
        warnings.simplefilter("ignore", RuntimeWarning)
        assert main(["search", str(out), "swept wing", "--json"]) == 1
    assert "exists with a different shape" in capsys.readouterr().err
