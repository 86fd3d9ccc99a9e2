# Two commands: `make demo` and `make test`. Both create (or reuse) the host environment
# in .venv from requirements.txt plus this project (pip install -e .), then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The board-side environment (pynq 4.0.0 + numpy, no TensorFlow; Python 3.10 like the PYNQ images
# when this machine has one) for the driver tests against the simulated PYNQ device.
BOARD_PYTHON ?= $(shell for p in python3.10 $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null) python3.11 python3; do \
	$$p -c "" >/dev/null 2>&1 && { command -v $$p; break; }; done)
BOARD_VENV ?= .venv-board
BOARD_STAMP := $(BOARD_VENV)/.installed

.PHONY: demo test env board-env bench-env clean-env

env: $(STAMP)

board-env: $(BOARD_STAMP)

# bench/lq_cpu.py's peer rows (onnxruntime, larq-compute-engine), into .venv; pins keep TensorFlow 2.14's.
bench-env: $(STAMP)
	$(PY) -m pip install --quiet -r bench/requirements-bench.txt

$(BOARD_STAMP): overlays/requirements-board.txt overlays/pyproject.toml
	test -x $(BOARD_VENV)/bin/python || $(BOARD_PYTHON) -m venv $(BOARD_VENV)
	$(BOARD_VENV)/bin/python -m pip install --quiet -r overlays/requirements-board.txt
	$(BOARD_VENV)/bin/python -m pip install --quiet --no-deps -e overlays
	touch $(BOARD_STAMP)

$(STAMP): requirements.txt pyproject.toml overlays/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e . -e overlays
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m flow demo --force

# Two pytest workers (pytest-xdist), a test file per worker: about 22 min instead of 35 on a 2-core machine.
TEST_WORKERS ?= 2

test: $(STAMP) $(BOARD_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

clean-env:
	rm -rf $(VENV) $(BOARD_VENV)
