# Two commands: `make demo` and `make test`. Both create (or reuse) the host environment
# in .venv from requirements.txt plus this project (pip install -e .), then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test env clean-env

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml overlays/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e . -e overlays
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m flow demo --force

test: $(STAMP)
	$(PY) -m pytest

clean-env:
	rm -rf $(VENV)
