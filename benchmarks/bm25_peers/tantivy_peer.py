"""tantivy (Python bindings): whitespace tokenizer, BM25 k1=1.2 b=0.75 (fixed), one writer
thread; queries are a boolean SHOULD of term queries (repeated terms repeated)."""

from __future__ import annotations

import tempfile
from typing import Any

NAME = "tantivy"


class _Tantivy:
    def __init__(self, path: str) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
        builder.add_integer_field("pos", stored=True, indexed=False, fast=True)
        self.schema = builder.build()
        self.path = path
        self.index = tantivy.Index(self.schema, path=path)
        self.searcher: Any = None

    def add(self, texts: list[str], start: int) -> None:
        import tantivy

        writer = self.index.writer(heap_size=512 * 1024 * 1024, num_threads=1)
        for i, text in enumerate(texts):
            writer.add_document(tantivy.Document(body=text, pos=start + i))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()


def build(texts: list[str]) -> Any:
    obj = _Tantivy(tempfile.mkdtemp(prefix="tantivy-bench-"))
    obj.add(texts, 0)
    return obj


def _query(obj: Any, query: str) -> Any:
    import tantivy

    clauses = [
        (tantivy.Occur.Should, tantivy.Query.term_query(obj.schema, "body", tok))
        for tok in query.split()
    ]
    return tantivy.Query.boolean_query(clauses)


def search(obj: Any, query: str, k: int) -> list[int]:
    result = obj.searcher.search(_query(obj, query), limit=k)
    return [int(obj.searcher.doc(addr)["pos"][0]) for _, addr in result.hits]


def search_addresses(obj: Any, query: str, k: int) -> Any:
    """The timed part: the search itself, without fetching stored positions."""
    return obj.searcher.search(_query(obj, query), limit=k).hits


def add(obj: Any, texts: list[str], start: int) -> Any:
    obj.add(texts, start)
    return obj


def disk_path(obj: Any) -> str:
    return str(obj.path)
