# The README's two commands: `make run` and `make test`. Both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run worker test setup bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# --demo also runs one job worker inside the server process, so recovery mail goes out (or, without
# SMTP_HOST, is written to this terminal); production runs `python -m app worker` apart (Procfile).
run: $(STAMP)
	$(BIN)/python -m app serve --demo

worker: $(STAMP)
	$(BIN)/python -m app worker

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var
