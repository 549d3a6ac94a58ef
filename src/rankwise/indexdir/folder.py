"""An index folder as ``rankwise index`` writes it, opened for ``rankwise search``/``info`` and
for ``rankwise serve``: the embedded BM25 index or the manifest of a Milvus collection, plus
the reranker a spec string names.

It sits below both the CLI and the server, so neither imports the other to open an index.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rankwise.indexdir.errors import CliError
from rankwise.rerankers.base import BaseReranker

MILVUS_MANIFEST = "rankwise-milvus.json"


LOCAL_KINDS = ("cross-encoder", "bge", "embedding")


def load_reranker(spec: str, device: str | None = None) -> BaseReranker:
    """A reranker from a spec string, through :func:`rankwise.rerankers.load`."""
    if not spec or ":" not in spec:
        raise CliError(
            f"unknown reranker spec {spec!r}: expected <kind>:<model>, e.g. embedding:default, "
            "cross-encoder:<name-or-path>, bge:<...>, llm:<name-or-path>, cohere:<model>, "
            "voyage:<model>, jina:<model>, tei:<url>"
        )
    from rankwise.rerankers import load

    kwargs: dict[str, Any] = {}
    if device is not None:
        kind = spec.partition(":")[0].strip().lower()
        if kind not in LOCAL_KINDS:
            raise CliError(
                f"--device applies to local models ({', '.join(LOCAL_KINDS)}); "
                f"{kind} reranks on the provider's servers"
            )
        kwargs["device"] = device
    reranker = load(spec, **kwargs)
    if not isinstance(reranker, BaseReranker):  # pragma: no cover - factory contract
        raise CliError(f"reranker spec {spec!r} did not give a reranker")
    return reranker


def resolve_uri(uri: str, folder: Path) -> str:
    """The Milvus URI a manifest in ``folder`` names (Lite paths are relative to ``folder``)."""
    from rankwise.milvus import is_lite_uri

    if not is_lite_uri(uri) or "://" in uri:
        return uri
    path = Path(uri)
    if path.is_absolute():
        return str(path)
    inside = folder / path
    if not inside.exists() and path.exists():  # a manifest written before paths were relative
        return str(path.resolve())
    return str(inside.resolve())


def milvus_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments of the Milvus store from a manifest."""
    kwargs: dict[str, Any] = {
        "uri": cfg["uri"],
        "collection": cfg["collection"],
        "k1": cfg["k1"],
        "b": cfg["b"],
    }
    token = os.environ.get("MILVUS_TOKEN")
    if token:
        kwargs["token"] = token
    if cfg.get("route") is not None:  # the route the index was built on (older ones: "auto")
        kwargs["route"] = cfg["route"]
    analyzer = cfg.get("analyzer")
    if cfg.get("analysis") == "client":
        from rankwise.bm25 import Analyzer

        kwargs["pre_analyzer"] = Analyzer(analyzer or "english")
    elif analyzer is not None:
        kwargs["analyzer_params"] = analyzer
    return kwargs


def open_index(path: str | Path) -> Any:
    """The store saved at ``path``: an embedded BM25 index or a Milvus collection manifest."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(2, "No such file or directory", str(folder))
    if not folder.is_dir():
        raise CliError(f"{folder} is not an index folder")
    manifest = folder / MILVUS_MANIFEST
    if manifest.is_file():
        from rankwise.milvus import MilvusBM25Store

        cfg = json.loads(manifest.read_text(encoding="utf-8"))
        cfg["uri"] = resolve_uri(str(cfg["uri"]), folder)
        return MilvusBM25Store(show_progress=False, **milvus_kwargs(cfg))
    from rankwise.bm25 import BM25Index

    return BM25Index.load(folder)


def index_description(path: str | Path) -> dict[str, Any]:
    """What kind of index the folder holds, for ``/v1/info``: path, store, analyzer, k1, b."""
    folder = Path(path)
    manifest = folder / MILVUS_MANIFEST
    if manifest.is_file():
        cfg = json.loads(manifest.read_text(encoding="utf-8"))
        return {
            "path": str(folder.resolve()),
            "store": "milvus",
            "collection": cfg.get("collection"),
            "analyzer": cfg.get("analyzer") or "english",
            "analysis": cfg.get("analysis"),
            "route": cfg.get("route"),
            "k1": cfg.get("k1"),
            "b": cfg.get("b"),
        }
    info: dict[str, Any] = {"path": str(folder.resolve()), "store": "embedded"}
    return info


def describe_index(path: str | Path, store: Any) -> dict[str, Any]:
    """:func:`index_description` plus what the opened ``store`` knows: its size, and the
    analyzer, k1 and b of an embedded index (``rankwise info``, ``/v1/info``)."""
    info = index_description(path)
    info["documents"] = len(store)
    if info["store"] == "embedded":
        analyzer = getattr(store, "analyzer", None)
        try:
            info["analyzer"] = None if analyzer is None else analyzer.config
        except ValueError:  # a callable analyzer has no config
            info["analyzer"] = "callable"
        info["k1"], info["b"] = store.k1, store.b
    elif info.get("route") is None:  # written before the route was recorded: the one taken now
        info["route"] = getattr(store, "route", None)
    return info
