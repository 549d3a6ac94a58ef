"""The ``rankwise`` command line: ``index``, ``search`` and ``eval``.

Run ``rankwise --help`` (or ``python -m rankwise --help``).
"""

from __future__ import annotations

from rankwise.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
