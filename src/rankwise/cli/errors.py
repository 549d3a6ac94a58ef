"""The one exception type the ``rankwise`` command reports without a traceback.

It lives alone so that the parser (``main``) and the sub-commands (``commands``) both import
it without importing each other.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the command reports as one line, without a traceback."""


__all__ = ["CliError"]
