"""Argument checks shared across the package, so every module words its errors alike."""

from __future__ import annotations


def positive_int(value: object, name: str = "k") -> int:
    """Return ``value`` if it is a positive ``int`` (not a bool); else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value
