"""Argument checks and document helpers shared by the retrievers and the compressor."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document


def check_query(query: object) -> str:
    """Return ``query`` if it is a non-blank string, else raise ValueError naming it."""
    if not isinstance(query, str):
        raise ValueError(f"query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise ValueError("query must be a non-empty string")
    return query


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is a positive integer (not a bool), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def with_metadata(doc: Document, **extra: Any) -> Document:
    """A copy of ``doc`` (same class, same ``id``) whose metadata also holds ``extra``."""
    return doc.model_copy(update={"metadata": {**doc.metadata, **extra}})
