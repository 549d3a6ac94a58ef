#!/usr/bin/env bash
# Create the virtualenv and install the three packages editable, with every extra and the dev tools.
# torch goes in first, pinned: an unpinned torch (or one pulled in by another package) is a multi-GB CUDA build.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install --quiet --upgrade pip
$PIP install --quiet "torch==2.13.0"
$PIP install --quiet \
  -e ".[all,dev,bench]" \
  -e "integrations/langchain[test]" \
  -e "integrations/llama-index[test]"
