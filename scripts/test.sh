#!/usr/bin/env bash
# Lint, check the import contracts, type-check and test all three packages. Any failure fails the run.
set -uo pipefail
VENV="${VENV:-.venv}"
BIN="$VENV/bin"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
status=0
echo "== ruff check" && "$BIN/ruff" check . || status=1
echo "== ruff format --check" && "$BIN/ruff" format --check . || status=1
echo "== import contracts (lint-imports, [tool.importlinter] in pyproject.toml)" \
  && "$BIN/lint-imports" --no-cache || status=1
echo "== mypy (strict)" && "$BIN/mypy" || status=1
echo "== pytest"
"$BIN/python" -m pytest -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  status=1
elif [ "$rc" -ne 0 ]; then
  status=1
fi
exit "$status"
