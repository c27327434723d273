# The two commands a new user needs are `make run` and `make test`; everything
# else here is what they are made of.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
DEBIAN_DATA := /usr/share/datasets/fashion-mnist

.DEFAULT_GOAL := help
.PHONY: help run test lint format data model bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

run: $(VENV)/.installed-run data model  ## train the default model if there is none, then start the daemon on ./inbox
	$(BIN)/fashiond run --config $(CONFIG)

test: $(VENV)/.installed-dev data  ## run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev data model  ## print every benchmark's figures (trains the default model first if there is none)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# PyTorch only ever lives in this throwaway environment, never in .venv.
TORCH_VENV ?= /tmp/torchvenv
.PHONY: bench-torch
bench-torch: $(VENV)/.installed-dev data  ## time the CNN against the same network in PyTorch (CPU)
	@test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	@$(TORCH_VENV)/bin/python -c 'import torch' 2>/dev/null || \
		$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 numpy
	$(BIN)/python benchmarks/cnn_speed.py --torch-python $(TORCH_VENV)/bin/python

model: $(VENV)/.installed-run data  ## train the default model unless config.yaml's model file exists
	$(BIN)/fashiond train --config $(CONFIG) --if-missing

data:  ## make sure the Fashion-MNIST files are on this machine
	@if [ -d fashion_mnist_images ] || ls $(DEBIAN_DATA)/train-images-idx3-ubyte* >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Fashion-MNIST is missing: installing Debian's dataset-fashion-mnist"; \
		apt-get update && apt-get install -y dataset-fashion-mnist; \
	else \
		echo "error: Fashion-MNIST not found in ./fashion_mnist_images or $(DEBIAN_DATA)" \
		     "(run 'sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist', then 'make' again)" >&2; \
		exit 1; \
	fi

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "error: fashiond needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "error: could not create $(VENV) (on Debian or Ubuntu: sudo apt-get install -y python3-venv)" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

clean:  ## remove the virtual environment and caches (keeps data, models and the database)
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
