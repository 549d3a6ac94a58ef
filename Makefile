# Two entry points, both usable on a fresh machine with only Python 3.11:
#   make demo   set everything up, then run the offline end-to-end demo on Cranfield
#   make test   set everything up, then run lint, import contracts, type checks and every test of
#               all three packages
# Maintenance (docs/CONTRIBUTING.md):
#   make constraints          re-resolve and re-pin constraints.txt (what setup and CI install)
#   make bump VERSION=x.y.z   set the version of all three distributions in one step
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rankwise-installed
# LangChain's and LlamaIndex's Cohere rerankers need cohere<6; they get their own small virtualenv
# for the tests that call `rankwise serve` with them (scripts/setup_cohere5.sh)
VENV_COHERE5  ?= .venv-cohere5
STAMP_COHERE5 := $(VENV_COHERE5)/.rankwise-installed

.PHONY: setup demo test lint typecheck pytest bench clean constraints bump

setup: $(STAMP) $(STAMP_COHERE5)

$(STAMP): pyproject.toml integrations/langchain/pyproject.toml integrations/llama-index/pyproject.toml \
          constraints.txt scripts/setup.sh scripts/install_targets.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

$(STAMP_COHERE5): scripts/cohere5-requirements.txt scripts/setup_cohere5.sh
	PYTHON=$(PYTHON) VENV_COHERE5=$(VENV_COHERE5) bash scripts/setup_cohere5.sh
	touch $(STAMP_COHERE5)

demo: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m rankwise eval cranfield --plot rankwise-cranfield.png

test: setup
	VENV=$(VENV) bash scripts/test.sh

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

pytest: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

constraints:
	PYTHON=$(PYTHON) bash scripts/constraints.sh

bump:
	@test -n "$(VERSION)" || { echo "usage: make bump VERSION=x.y.z" >&2; exit 2; }
	$(PYTHON) scripts/bump_version.py $(VERSION)

clean:
	rm -rf $(VENV) $(VENV_COHERE5) .pytest_cache .mypy_cache .ruff_cache
