#!/usr/bin/env bash
# Build .venv-cohere5: LangChain's and LlamaIndex's Cohere rerankers with the cohere 5 SDK they
# require (see scripts/cohere5-requirements.txt), for the tests that call `rankwise serve` with
# them. A separate virtualenv because rankwise's own environment resolves cohere 7.
#
# Environment: PYTHON (python3), VENV_COHERE5 (.venv-cohere5).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV_COHERE5="${VENV_COHERE5:-.venv-cohere5}"

"$PYTHON" -m venv "$VENV_COHERE5"
"$VENV_COHERE5/bin/python" -m pip install --quiet --no-input -r scripts/cohere5-requirements.txt
