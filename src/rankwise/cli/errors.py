"""The CLI's one-line error (:class:`rankwise.indexdir.errors.CliError`), under its old path."""

from __future__ import annotations

from rankwise.indexdir.errors import CliError

__all__ = ["CliError"]
