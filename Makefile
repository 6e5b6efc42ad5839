# Two commands that work on a fresh machine; each creates its own virtualenv in .venv.
#   make demo   run pilewright on the embedded sample corpus (no arguments, no network)
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pilewright-installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml requirements/ci-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements/ci-lock.txt -e '.[test,gcp]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pilewright run

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) out
