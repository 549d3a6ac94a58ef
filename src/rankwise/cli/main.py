"""Argument parsing, dispatch and error reporting of the ``rankwise`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from rankwise._checks import int_arg, int_rule
from rankwise._version import __version__
from rankwise.cli.errors import CliError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number within the bounds (the rule and wording of
    :func:`rankwise._checks.int_arg`), so every integer option is refused alike."""

    def parse(text: str) -> int:
        try:
            return int_arg(int(text), "value", minimum=minimum, maximum=maximum)
        except ValueError:  # not a whole number, or out of range
            raise argparse.ArgumentTypeError(
                f"expected {int_rule(minimum, maximum)}, got {text!r}"
            ) from None

    return parse


_positive_int = _integer(1)
_non_negative_int = _integer(0)
_port = _integer(0, 65535)


def _metrics(text: str) -> list[str]:
    from rankwise.evaluation import parse_metric

    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one metric, e.g. ndcg@10")
    for name in names:
        try:
            parse_metric(name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return list(dict.fromkeys(names))


def _retrievers(text: str) -> list[str]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in ("bm25", "dense", "hybrid")]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown retriever {', '.join(bad) or text!r}; choose bm25, dense or hybrid"
        )
    return names


def _common_options(suppress: bool) -> argparse.ArgumentParser:
    # Sub-commands get SUPPRESS defaults, so `rankwise --debug index ...` is not reset by the
    # sub-parser; each parser gets its own action objects (parents share them).
    common = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else False
    common.add_argument(
        "--debug", action="store_true", default=default, help="show the full traceback on errors"
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress bars"
    )
    return common


def _threads(text: str) -> str | int:
    return "auto" if text.strip().lower() == "auto" else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(suppress=True)

    parser = argparse.ArgumentParser(
        prog="rankwise",
        description="Retrieve-then-rerank search: BM25 full-text index, dense retrieval, "
        "rerankers and evaluation.",
        parents=[_common_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"rankwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "index",
        parents=[common],
        help="build a BM25 index from a corpus",
        description="Index CORPUS: a BEIR folder (corpus.jsonl), a JSONL file (_id/id, text, "
        "optional title and metadata) or a folder of .txt/.md files.",
    )
    p.add_argument("corpus", metavar="CORPUS", help="BEIR folder, JSONL file or text folder")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="where to save the index")
    p.add_argument(
        "--analyzer",
        default=None,
        help='analyzer: "english" (default), "standard", "chinese" or a JSON object of '
        "Milvus analyzer_params",
    )
    p.add_argument("--k1", type=float, default=1.2, help="BM25 k1 (default 1.2)")
    p.add_argument("--b", type=float, default=0.75, help="BM25 b (default 0.75)")
    p.add_argument(
        "--store",
        choices=("embedded", "milvus"),
        default="embedded",
        help="embedded rankwise index (default) or a Milvus collection",
    )
    p.add_argument(
        "--uri",
        default=None,
        help="Milvus URI for --store milvus (a .db file = Milvus Lite; default DIR/milvus.db)",
    )
    p.add_argument("--collection", default="rankwise", help="Milvus collection name")
    p.add_argument("--token", default=None, help="Milvus token (or set MILVUS_TOKEN)")
    p.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="split each document into chunks of at most N units (ids <doc-id>#<n>); "
        "default: one document, one entry",
    )
    p.add_argument(
        "--chunk-overlap",
        type=_non_negative_int,
        default=0,
        metavar="M",
        help="units shared by consecutive chunks (default 0)",
    )
    p.add_argument(
        "--chunk-unit",
        choices=("tokens", "chars"),
        default="tokens",
        help="count tokens of the index's analyzer (default) or characters",
    )

    p = sub.add_parser(
        "search",
        parents=[common],
        help="query an index",
        description="Search an index built by `rankwise index`, optionally reranking.",
    )
    p.add_argument("index", metavar="DIR", help="index folder written by `rankwise index`")
    p.add_argument("query", help="the query text")
    p.add_argument("-k", "--k", type=_positive_int, default=10, help="results (default 10)")
    p.add_argument(
        "--rerank",
        metavar="SPEC",
        default=None,
        help="reranker spec, e.g. embedding:default, cross-encoder:<name-or-path>, "
        "bge:<...>, llm:<name-or-path>, cohere:<model>, voyage:<model>, jina:<model>, tei:<url>",
    )
    p.add_argument(
        "--fetch-k",
        type=_positive_int,
        default=None,
        help="candidates retrieved for the reranker (default max(k, 50))",
    )
    p.add_argument(
        "--filter",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="keep documents whose metadata matches: key=value, key!=value, key>3, key>=3, "
        "key<3, key<=3 (repeat for several; all must hold). A value that reads as a JSON "
        "number, true or false is one; quote it (key='\"3\"') to compare as text",
    )
    p.add_argument(
        "--group-by-doc",
        action="store_true",
        help="return the best chunk of each document only (for indexes built with --chunk-size)",
    )
    p.add_argument(
        "--device", default=None, help="torch device of a local reranker (cpu, cuda, cuda:1, mps)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="evaluate retrieval pipelines on a dataset",
        description="Evaluate pipelines on DATASET (a bundled name like `cranfield` or a BEIR "
        "folder). Without --retriever: BM25, dense, hybrid (RRF) and hybrid + rerank "
        "(the bundled all-MiniLM-L6-v2 bi-encoder, or --rerank SPEC).",
    )
    p.add_argument("dataset", metavar="DATASET", help="`cranfield` or a BEIR folder")
    p.add_argument(
        "--retriever",
        type=_retrievers,
        action="append",
        default=None,
        metavar="bm25|dense|hybrid",
        help="bm25, dense or hybrid (repeat or comma-separate for several); with --rerank, "
        "each one is also evaluated with the reranker",
    )
    p.add_argument("--rerank", metavar="SPEC", default=None, help="reranker spec (see search)")
    p.add_argument(
        "--no-rerank", action="store_true", help="skip the rerank row of the default run"
    )
    p.add_argument(
        "--k", type=_positive_int, default=10, help="cut-off of nDCG and MRR (default 10)"
    )
    p.add_argument(
        "--recall-k", type=_positive_int, default=100, help="cut-off of Recall (default 100)"
    )
    p.add_argument(
        "--metrics",
        type=_metrics,
        default=None,
        metavar="LIST",
        help="comma-separated metrics, e.g. ndcg@10,recall@100,mrr@10,map@100,p@10 "
        "(default: ndcg@K, recall@RECALL_K, mrr@K)",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="evaluate even when the qrels name queries or documents the dataset lacks "
        "(they are reported; unknown documents count as relevant documents never found)",
    )
    p.add_argument(
        "--fetch-k",
        type=_positive_int,
        default=50,
        help="candidates the reranker rescores per query (default 50)",
    )
    p.add_argument(
        "--embedding-model",
        default=None,
        metavar="NAME_OR_PATH",
        help="dense model (default: $RANKWISE_EMBEDDING_MODEL or the bundled all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--max-length",
        type=_positive_int,
        default=128,
        help="tokens per document for the dense model (default 128, the length "
        "all-MiniLM-L6-v2 was trained on and half the cost of its sentence-transformers "
        "setting, 256; raise it for models trained on longer inputs)",
    )
    p.add_argument("--analyzer", default="english", help="BM25 analyzer (default english)")
    p.add_argument("--k1", type=float, default=1.2, help="BM25 k1 (default 1.2)")
    p.add_argument("--b", type=float, default=0.75, help="BM25 b (default 0.75)")
    p.add_argument(
        "--max-queries", type=_positive_int, default=None, help="evaluate the first N queries"
    )
    p.add_argument("--split", default="test", help="qrels split of a BEIR folder (default test)")
    p.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="write a bar chart to this file (needs matplotlib: rankwise[cli])",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="where document embeddings are cached (default $RANKWISE_CACHE_DIR or "
        "~/.cache/rankwise)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        help="torch threads for embedding the documents (default auto: the idle cores by "
        "the load average, at least 1 — busy cores only slow the model down)",
    )
    p.add_argument(
        "--query-threads",
        type=_positive_int,
        default=1,
        help="torch threads while queries are timed (default 1: one request at a time, as a "
        "server handles it; documents are embedded with all cores)",
    )

    p = sub.add_parser(
        "info",
        parents=[common],
        help="show what an index folder holds",
        description="Show an index folder's store, size, analyzer, BM25 parameters and, for a "
        "Milvus index, the collection and the route BM25 runs on.",
    )
    p.add_argument("index", metavar="INDEX_DIR", help="index folder written by `rankwise index`")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve an index and a reranker over HTTP",
        description="Keep an index (and a reranker) loaded and answer HTTP requests: "
        "POST /v1/search, POST /v1/rerank (and /v2/rerank) in Cohere's rerank shape, "
        "GET /health, GET /v1/info. Needs rankwise[serve].",
    )
    p.add_argument("index", metavar="INDEX_DIR", help="index folder written by `rankwise index`")
    p.add_argument(
        "--rerank", metavar="SPEC", default=None, help="reranker spec (see search); optional"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 exposes it)",
    )
    p.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000; 0 = any)")
    p.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' on every /v1 request "
        "(default $RANKWISE_SERVE_TOKEN; none = no authentication)",
    )
    p.add_argument(
        "--device", default=None, help="torch device of a local reranker (cpu, cuda, mps)"
    )
    p.add_argument(
        "--fetch-k",
        type=_positive_int,
        default=50,
        help="candidates /v1/search retrieves for the reranker (default 50)",
    )
    p.add_argument(
        "--max-batch-pairs",
        type=_positive_int,
        default=512,
        help="most (query, document) pairs scored in one model call across requests (default 512)",
    )
    p.add_argument(
        "--model-threads",
        type=_positive_int,
        default=1,
        help="torch threads per model call (default 1: on a small or shared machine several "
        "one-thread calls use the cores better than one call on all of them)",
    )
    p.add_argument(
        "--workers",
        type=_threads,
        default="auto",
        help="server processes sharing the port (default auto: one per CPU core this process "
        "may use, at most 4; 1 with a GPU --device). Each loads the index and the model, so "
        "memory grows by one copy per worker; --workers 1 keeps one copy",
    )
    p.add_argument(
        "--model-workers",
        type=_positive_int,
        default=2,
        help="cross-encoder calls that may run at once, each on its own batch (default 2)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=4 * 1024 * 1024,
        help="largest request body accepted (default 4 MiB)",
    )
    p.add_argument(
        "--max-documents",
        type=_positive_int,
        default=1000,
        help="most documents one /v1/rerank request may send (default 1000, Cohere's limit)",
    )
    return parser


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename and exc.strerror:
        return f"no such file or directory: {exc.filename}"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; an unknown option after a sub-command is reported with that sub-command's usage."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparsers(parser).get(getattr(args, "command", None) or "", parser)
        sub.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}  # pragma: no cover - the parser always has sub-commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rankwise``; returns the exit status."""
    parser = build_parser()
    args = _parse(parser, argv)
    from rankwise.cli import commands

    handler = {
        "index": commands.cmd_index,
        "search": commands.cmd_search,
        "eval": commands.cmd_eval,
        "serve": commands.cmd_serve,
        "info": commands.cmd_info,
    }
    try:
        return handler[args.command](args)
    except BrokenPipeError:
        # the reader went away (`rankwise search ... | head`): stop quietly, like other tools
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        print("rankwise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        print(f"rankwise {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_ERROR


__all__ = ["CliError", "build_parser", "main"]
