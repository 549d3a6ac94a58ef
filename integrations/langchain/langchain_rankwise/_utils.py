"""Argument checks and document helpers shared by the retrievers and the compressor."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document

from rankwise._checks import text_arg


def check_query(query: object) -> str:
    """Return ``query`` if it is non-blank text (``rankwise._checks.text_arg``), else raise
    an error naming it."""
    query = text_arg(query, "query")
    if not query.strip():
        raise ValueError("query must be a non-empty string")
    return query


def with_metadata(doc: Document, **extra: Any) -> Document:
    """A copy of ``doc`` (same class, same ``id``) whose metadata also holds ``extra``."""
    return doc.model_copy(update={"metadata": {**doc.metadata, **extra}})
