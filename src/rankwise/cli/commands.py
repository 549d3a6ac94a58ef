"""The ``index``, ``search`` and ``eval`` commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rankwise._checks import text_arg
from rankwise.cli.errors import CliError
from rankwise.cli.render import table
from rankwise.indexdir.folder import (
    MILVUS_MANIFEST,
    describe_index,
    load_reranker,
    milvus_kwargs,
    open_index,
    resolve_uri,
)
from rankwise.indexdir.searching import SEARCH_SCHEMA

DEFAULT_RERANK = "embedding:default"
INDEX_BATCH = 5_000


def _out(text: str = "") -> None:
    print(text, file=sys.stdout, flush=True)


def _note(text: str, args: argparse.Namespace) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def parse_analyzer(value: str | None) -> str | dict[str, Any] | None:
    """``"english"`` stays a name; text starting with ``{`` is parsed as JSON params."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            params = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"--analyzer is not valid JSON: {exc.msg}") from None
        if not isinstance(params, dict):
            raise CliError("--analyzer JSON must be an object")
        return params
    return text


# -- index ---------------------------------------------------------------------------------
def _analyzer_or_error(value: Any) -> Any:
    """The analyzer the user asked for, checked now (before any file is read)."""
    from rankwise.bm25 import Analyzer

    try:
        return Analyzer("english" if value is None else value)
    except (ValueError, TypeError) as exc:
        if isinstance(value, str):
            raise CliError(
                f"unknown --analyzer {value!r}: use english (the default), standard, chinese or "
                "a JSON object of Milvus analyzer_params"
            ) from None
        reason = str(exc).removeprefix("analyzer params: ").removeprefix("analyzer: ")
        raise CliError(f"the --analyzer JSON is not a valid analyzer: {reason}") from None


def _source_of(corpus: str, fmt: str) -> Any:
    """The ``source_path`` of a chunk: the file its document came from (absolute)."""
    root = Path(corpus).resolve()
    if fmt == "beir":
        return str(root / "corpus.jsonl")
    if fmt == "jsonl":
        return str(root)
    return lambda doc: str(root / doc.metadata.get("path", doc.id))


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from rankwise.corpus import chunk_documents, detect_format, read_corpus

    fmt = detect_format(args.corpus)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out {out_dir} exists and is not a folder")
    analyzer = parse_analyzer(args.analyzer)
    analyzer_obj = _analyzer_or_error(analyzer)
    if args.chunk_size is None and args.chunk_overlap:
        raise CliError("--chunk-overlap needs --chunk-size")
    if args.chunk_size is not None and args.chunk_overlap >= args.chunk_size:
        raise CliError(
            f"--chunk-overlap ({args.chunk_overlap}) must be smaller than --chunk-size "
            f"({args.chunk_size})"
        )
    t_read = time.perf_counter()
    docs = read_corpus(args.corpus)
    read_s = time.perf_counter() - t_read
    _note(f"read {len(docs):,} documents ({fmt}) in {read_s:.2f} s", args)
    n_docs = len(docs)
    if args.chunk_size is not None:
        docs = chunk_documents(
            docs,
            args.chunk_size,
            args.chunk_overlap,
            unit=args.chunk_unit,
            analyzer=analyzer_obj,
            source=_source_of(args.corpus, fmt),
        )
        _note(
            f"cut into {len(docs):,} chunks of at most {args.chunk_size} {args.chunk_unit} "
            f"(overlap {args.chunk_overlap})",
            args,
        )

    store: Any
    if args.store == "milvus":
        store = _open_milvus(args, out_dir, analyzer)
    else:
        from rankwise.bm25 import BM25Index

        store = BM25Index(
            analyzer="english" if analyzer is None else analyzer,
            k1=args.k1,
            b=args.b,
            show_progress=False,
        )
    t0 = time.perf_counter()
    with tqdm(
        total=len(docs), unit="doc", desc="indexing", disable=args.quiet, file=sys.stderr
    ) as bar:
        for start in range(0, len(docs), INDEX_BATCH):
            batch = docs[start : start + INDEX_BATCH]
            store.add(
                [d.full_text for d in batch],
                ids=[d.id for d in batch],
                metadatas=[d.metadata for d in batch],
            )
            bar.update(len(batch))
    if args.store == "embedded":
        store.save(out_dir)
    else:
        _close(store)
    elapsed = time.perf_counter() - t0
    rate = len(docs) / elapsed if elapsed > 0 else float("inf")
    where = f"{args.uri or out_dir / 'milvus.db'} (collection {args.collection})"
    target = out_dir if args.store == "embedded" else where
    what, unit = f"{n_docs:,} documents", "documents"
    if args.chunk_size is not None:
        what, unit = f"{what} as {len(docs):,} chunks", "chunks"
    _out(f"indexed {what} in {elapsed:.2f} s ({rate:,.0f} {unit}/s) -> {target}")
    return 0


def _manifest_uri(uri: str, out_dir: Path) -> str:
    """How a Milvus Lite file is recorded: relative to the index folder when it lies inside it,
    else absolute, so the folder can be searched from anywhere and moved as a whole."""
    from rankwise.milvus import is_lite_uri

    if not is_lite_uri(uri) or "://" in uri:
        return uri
    path = Path(uri).resolve()
    try:
        return path.relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def _open_milvus(args: argparse.Namespace, out_dir: Path, analyzer: Any) -> Any:
    """A Milvus store for ``index``; analysis runs in Milvus when it can, else on the client.

    Milvus Lite, for example, has no English stemmer: with ``--analyzer english`` the text is
    analyzed by rankwise and Milvus only splits the tokens, so scores match the embedded index.
    """
    from rankwise.milvus import MilvusBM25Store, analyzer_params_for, is_lite_uri

    out_dir.mkdir(parents=True, exist_ok=True)
    uri = args.uri or str(out_dir / "milvus.db")
    if analyzer is None:
        analyzer = "english"
    analysis = "milvus"
    try:
        analyzer_params_for(analyzer, "lite" if is_lite_uri(uri) else "server")
    except ValueError:
        analysis = "client"
    cfg: dict[str, Any] = {
        "store": "milvus",
        "uri": _manifest_uri(uri, out_dir),
        "collection": args.collection,
        "analyzer": analyzer,
        "analysis": analysis,
        "k1": args.k1,
        "b": args.b,
    }
    kwargs = milvus_kwargs({**cfg, "uri": resolve_uri(cfg["uri"], out_dir)})
    if args.token:
        kwargs["token"] = args.token
    store = MilvusBM25Store(show_progress=False, **kwargs)
    cfg["route"] = store.route  # where BM25 runs ("milvus" or "exact"), kept on reopen
    (out_dir / MILVUS_MANIFEST).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return store


def cmd_info(args: argparse.Namespace) -> int:
    store = open_index(args.index)
    try:
        info = describe_index(args.index, store)
    finally:
        _close(store)
    if args.json:
        _out(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    width = max(len(key) for key in info)
    for key, value in info.items():
        shown = value if isinstance(value, (str, int, float)) else json.dumps(value)
        _out(f"{key:<{width}}  {shown}")
    return 0


# -- search --------------------------------------------------------------------------------
def _snippet(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def parse_filters(texts: list[str] | None) -> list[Any]:
    """``--filter`` options as conditions (see :mod:`rankwise.indexdir.filters`)."""
    from rankwise.indexdir.filters import FilterError, parse_condition

    try:
        return [parse_condition(t) for t in texts or []]
    except FilterError as exc:
        raise CliError(str(exc)) from None


def cmd_search(args: argparse.Namespace) -> int:

    if not args.query.strip():
        raise CliError("the query is empty")
    try:  # bytes that are not UTF-8 reach argv as lone surrogates
        text_arg(args.query, "the query")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    conditions = parse_filters(args.filter)
    reranker = load_reranker(args.rerank, args.device) if args.rerank else None
    if args.device and reranker is None:
        raise CliError("--device needs --rerank (BM25 search runs on the CPU)")
    store = open_index(args.index)
    try:
        return _search(args, store, reranker, conditions)
    finally:
        _close(store)


def _close(store: Any) -> None:
    """Release a store (a Milvus Lite file stays locked while its client is open)."""
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _search(args: argparse.Namespace, store: Any, reranker: Any, conditions: list[Any]) -> int:
    from rankwise.indexdir.searching import candidates, result_rows, search_payload
    from rankwise.rerankers.base import pair_results

    embedder = getattr(reranker, "embedder", None)
    if embedder is not None and hasattr(embedder, "dim"):
        embedder.dim  # noqa: B018 - load the model now, so the rerank timing excludes it
    fetch_k = max(args.fetch_k or max(args.k, 50), args.k) if reranker else args.k
    t0 = time.perf_counter()
    hits = candidates(
        store,
        args.query,
        fetch_k,
        conditions,
        min_groups=args.k if args.group_by_doc else 0,
    )
    retrieve_ms = (time.perf_counter() - t0) * 1000
    rerank_ms = None
    reranked = None
    if reranker is not None and hits:
        t1 = time.perf_counter()
        ranked = reranker.rerank(args.query, [h.text for h in hits])
        rerank_ms = (time.perf_counter() - t1) * 1000
        reranked = pair_results(hits, ranked)
    rows = result_rows(hits, args.k, reranked, group_by_doc=args.group_by_doc)
    if args.json:
        payload = search_payload(
            query=args.query,
            k=args.k,
            index=str(args.index),
            reranker=None if reranker is None else reranker.name,
            retrieve_ms=retrieve_ms,
            rerank_ms=rerank_ms,
            rows=rows,
        )
        _out(json.dumps(payload, ensure_ascii=False, default=str))
        return 0
    if not rows:
        _out(f"no results for {args.query!r}")
        return 0
    if reranker is None:
        headers = ["#", "id", "bm25", "text"]
        body = [[str(r["rank"]), r["id"], f"{r['score']:.3f}", _snippet(r["text"])] for r in rows]
    else:
        headers = ["#", "id", "rerank", "bm25", "text"]
        body = [
            [
                str(r["rank"]),
                r["id"],
                f"{r['score']:.3f}",
                f"{r['retrieval_score']:.3f}",
                _snippet(r["text"]),
            ]
            for r in rows
        ]
    _out(table(headers, body, "rlrr" + ("r" if reranker else "") + "l"))
    timing = f"retrieve {retrieve_ms:.1f} ms"
    if rerank_ms is not None and reranker is not None:
        timing += f", rerank ({reranker.name}) {rerank_ms:.1f} ms"
    _out(f"\n{len(rows)} results; {timing}")
    return 0


# -- eval ----------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from rankwise.cli import evaluating as ev
    from rankwise.pipeline import evaluate_pipelines

    t_start = time.perf_counter()
    if args.plot:  # before any work: a missing matplotlib should not cost a whole evaluation
        from rankwise._optional import require

        require("matplotlib", "cli", feature="--plot")
    if args.retriever:
        retrievers = list(dict.fromkeys(r for group in args.retriever for r in group))
    else:
        retrievers = ["bm25", "dense", "hybrid"]
    spec = args.rerank
    if spec is None and not args.retriever and not args.no_rerank:
        spec = DEFAULT_RERANK
    if args.no_rerank:
        spec = None
    _analyzer_or_error(parse_analyzer(args.analyzer))
    reranker = None
    if spec and not ev.same_embedding_model(spec, args):
        reranker = load_reranker(spec)  # fail fast on a bad spec, before any work

    data = ev.load_eval_data(args)
    _note(f"{data.name}: {len(data.ids):,} documents, {len(data.queries):,} judged queries", args)
    built = ev.build_indexes(args, data, retrievers, parse_analyzer(args.analyzer) or "english")
    if spec and reranker is None and built.embedder is not None:
        # an embedding reranker on the dense model: share its embedder (and its cache)
        from rankwise.rerankers.embedding import EmbeddingReranker

        reranker = EmbeddingReranker(embedder=built.embedder)
    if spec and reranker is None:
        reranker = load_reranker(spec)
    pipelines = ev.build_pipelines(args, retrievers, built, reranker, data.depth)

    if built.dense is not None or reranker is not None:
        ev.set_torch_threads(args.query_threads)
    timings = dict(built.timings)
    t0 = time.perf_counter()
    reports = evaluate_pipelines(
        pipelines, data.queries, data.qrels, data.metrics, show_progress=not args.quiet
    )
    timings["queries"] = time.perf_counter() - t0
    wall = time.perf_counter() - t_start
    notes = ev.eval_notes(args, built, pipelines, reranker)
    _out(ev.render_eval(args, data, reports, built, reranker, notes, timings, wall))
    return 0


# -- serve ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from rankwise.serve import ServeConfig, auto_workers, run_server

    token = args.token if args.token is not None else os.environ.get("RANKWISE_SERVE_TOKEN")
    config = ServeConfig(
        index=str(args.index),
        rerank=args.rerank,
        device=args.device,
        fetch_k=args.fetch_k,
        max_batch_pairs=args.max_batch_pairs,
        max_body_bytes=args.max_body_bytes,
        max_documents=args.max_documents,
        token=token or None,
        model_threads=args.model_threads,
        model_workers=args.model_workers,
    )
    workers = auto_workers(args.device) if args.workers == "auto" else args.workers
    return run_server(config, host=args.host, port=args.port, quiet=args.quiet, workers=workers)


__all__ = [
    "SEARCH_SCHEMA",
    "cmd_eval",
    "cmd_index",
    "cmd_info",
    "cmd_search",
    "cmd_serve",
    "describe_index",
    "load_reranker",
    "open_index",
    "parse_filters",
]
