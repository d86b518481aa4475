# Every target installs into a local virtual environment on first use.
# The stamp depends on pyproject.toml, so editing dependencies reinstalls.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
LABSTAMP := $(VENV)/.installed-lab
CSV      ?= data/training.csv
POSITION ?= qb
JOBS     ?= 2

.DEFAULT_GOAL := help
.PHONY: help install test lint typecheck data train-all train lab serve bench bench-env bench-smoke clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv and install the project with dev extras

lint: $(STAMP) ## Ruff, and the import layers (import-linter contracts in pyproject.toml)
	$(BIN)/ruff check recruit_reveal tests bench scripts
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy over the package
	$(BIN)/mypy

test: lint typecheck ## Lint, type-check, then run the test suite
	$(BIN)/python -m pytest -q

data: $(STAMP) ## Regenerate data/training.csv (byte-identical on every run)
	$(BIN)/recruit-reveal generate-data --out $(CSV)

train-all: $(STAMP) ## Train every position on data/training.csv with the next version
	$(BIN)/recruit-reveal train --csv $(CSV) --position all --jobs $(JOBS)

train: $(STAMP) ## Train one position: make train POSITION=qb
	$(BIN)/recruit-reveal train --csv $(CSV) --position $(POSITION)

$(LABSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,lab]'
	@touch $@

# Jupyter refuses to run as root without being told; containers often are root.
lab: $(LABSTAMP) ## Start JupyterLab on the training template
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/train_position.ipynb

serve: $(STAMP) ## Serve the exported models (HOST, PORT, MODEL_DIR, MODEL_VERSION)
	$(BIN)/recruit-reveal serve

# MLflow, for the serving peer only, lives in its own environment (never in .venv,
# never installed by make test); bench/mlflow_env.py knows what goes in it.
BENCH_MLFLOW := .venv-bench-mlflow/.installed
$(BENCH_MLFLOW): pyproject.toml bench/mlflow_env.py | $(STAMP)
	$(BIN)/python -m bench.mlflow_env

bench-env: $(BENCH_MLFLOW) ## The benchmark-only MLflow environment (make bench creates it)

bench: $(STAMP) $(BENCH_MLFLOW) ## Run every benchmark and rewrite docs/benchmarks.md
	$(BIN)/python -m bench

bench-smoke: $(STAMP) ## Run the benchmarks at tiny sizes (no docs rewrite)
	$(BIN)/python -m bench --smoke

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .venv-bench-mlflow .pytest_cache .ruff_cache
