"""The one exception type the ``rankwise`` command and server report as one line.

It lives below the CLI parser, its sub-commands and the server, so all of them import it
without importing each other.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the command (or the server, loading an index) reports as one line, without a
    traceback."""


__all__ = ["CliError"]
