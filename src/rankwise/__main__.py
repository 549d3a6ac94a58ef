"""``python -m rankwise`` runs the command-line interface."""

from __future__ import annotations

import sys

from rankwise.cli import main

if __name__ == "__main__":
    sys.exit(main())
