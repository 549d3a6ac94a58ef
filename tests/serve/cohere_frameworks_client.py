"""Run LangChain's and LlamaIndex's own Cohere rerankers, unchanged, against a Cohere-compatible
server; print what each returned as JSON.

Not a test module: tests/serve/test_cohere_frameworks.py runs it with the Python of
.venv-cohere5 (those frameworks need cohere<6; rankwise's environment has cohere 7). Input on
stdin: ``{"url", "query", "documents", "top_n"}``. Every connection that is not to loopback is
refused, so a reranker that ignored ``base_url`` fails here instead of calling api.cohere.com.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import sys
from typing import Any

_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"this test only talks to loopback, not {host!r}")
    _connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def langchain(request: dict[str, Any]) -> dict[str, Any]:
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    reranker = CohereRerank(
        model="rankwise-served",
        cohere_api_key="unused",
        base_url=request["url"],
        top_n=request["top_n"],
    )
    docs = [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(request["documents"])]

    def rows(out: Any) -> list[dict[str, Any]]:
        return [{"index": d.metadata["i"], "score": d.metadata["relevance_score"]} for d in out]

    return {
        "compress_documents": rows(reranker.compress_documents(docs, request["query"])),
        "acompress_documents": rows(
            asyncio.run(reranker.acompress_documents(docs, request["query"]))
        ),
        "rerank": [
            {"index": r["index"], "score": r["relevance_score"]}
            for r in reranker.rerank(request["documents"], request["query"], top_n=None)
        ],
    }


def llama_index(request: dict[str, Any]) -> dict[str, Any]:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.cohere_rerank import CohereRerank

    reranker = CohereRerank(
        model="rankwise-served", api_key="unused", base_url=request["url"], top_n=request["top_n"]
    )
    nodes = [
        NodeWithScore(node=TextNode(text=t, id_=str(i)), score=0.0)
        for i, t in enumerate(request["documents"])
    ]
    query = QueryBundle(request["query"])

    def rows(out: Any) -> list[dict[str, Any]]:
        return [{"index": int(n.node.node_id), "score": n.score} for n in out]

    return {
        "postprocess_nodes": rows(reranker.postprocess_nodes(nodes, query)),
        "apostprocess_nodes": rows(asyncio.run(reranker.apostprocess_nodes(nodes, query))),
    }


def main() -> int:
    request = json.load(sys.stdin)
    json.dump({"langchain": langchain(request), "llama_index": llama_index(request)}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
