#!/usr/bin/env bash
# Create the virtualenv and install the three packages editable, with every extra and the dev
# tools, at the versions pinned in constraints.txt: a new ruff, mypy or library release cannot
# turn CI red without a change here (`make constraints` refreshes the pins on purpose).
#
# torch goes in first, pinned (see scripts/install_targets.sh): the PyPI torch wheel for Linux is
# the multi-GB CUDA build. This project's machines find the CPU wheel through pip's own
# configuration; anywhere else point TORCH_INDEX_URL at torch's CPU index:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu make setup
#
# Environment: PYTHON (python3), VENV (.venv), CONSTRAINTS (constraints.txt; empty = none),
# TORCH_INDEX_URL (empty = pip's configured indexes).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install_targets.sh
source scripts/install_targets.sh
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
CONSTRAINTS="${CONSTRAINTS-constraints.txt}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"

"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
pins=()
if [ -n "$CONSTRAINTS" ]; then
  # The pins were resolved for one Python minor version (the header says which); another
  # interpreter may need other wheels, so it resolves within the packages' own ranges instead.
  want="$(sed -n 's/^# python: *//p' "$CONSTRAINTS" | head -n 1)"
  have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$want" = "$have" ]; then
    pins=(--constraint "$CONSTRAINTS")
  else
    echo "setup: $CONSTRAINTS pins Python $want, this is $have: installing without the pins" >&2
  fi
fi
torch_index=()
if [ -n "$TORCH_INDEX_URL" ]; then
  torch_index=(--index-url "$TORCH_INDEX_URL")
fi
"${PIP[@]}" install --quiet --upgrade pip "${pins[@]}"
"${PIP[@]}" install --quiet "$TORCH_REQUIREMENT" "${torch_index[@]}" "${pins[@]}"
"${PIP[@]}" install --quiet "${INSTALL_TARGETS[@]}" "${pins[@]}"
