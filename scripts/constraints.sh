#!/usr/bin/env bash
# Regenerate constraints.txt (`make constraints`): resolve, from scratch and without the old pins,
# everything `make setup` installs, and pin each package at the version pip chose.
#
# pip's own resolver does the work (`pip install --dry-run --report`), so the pins are what pip
# would install today from the configured indexes; nothing is installed. The output is sorted
# and carries no date, so running it twice on the same indexes gives the same file.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install_targets.sh
source scripts/install_targets.sh
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-constraints.txt}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
PIP=("$work/venv/bin/python" -m pip)
"${PIP[@]}" install --quiet --upgrade pip
"${PIP[@]}" install --quiet --dry-run --ignore-installed --report "$work/report.json" \
  pip "$TORCH_REQUIREMENT" "${INSTALL_TARGETS[@]}"
"$work/venv/bin/python" scripts/write_constraints.py "$work/report.json" "$OUT" \
  --exclude $LOCAL_DISTRIBUTIONS
echo "wrote $OUT ($(grep -c '==' "$OUT") pins)"
