# The two entry points of the README. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: repro test install clean-venv

repro: $(VENV)/.installed  ## set up, then run the default pipeline
	PATH="$(abspath $(BIN)):$$PATH" dvc repro

test: $(VENV)/.installed  ## set up, then run the tests
	PATH="$(abspath $(BIN)):$$PATH" pytest

install: $(VENV)/.installed

# Re-install when the project's requirements change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean-venv:
	rm -rf $(VENV)
