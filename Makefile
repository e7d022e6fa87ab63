# `make test` and `make demo` set everything up on a fresh machine: they create .venv (Python 3.11)
# if it is missing, install torch==2.13.0 (the CPU build; an unpinned torch pulls GBs of CUDA), then
# the project with all its extras. The install is redone only when setup.py or package.xml change.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: test demo install clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP): $(PY) setup.py setup.cfg package.xml
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[ros,sim,train,dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n auto -q

demo: $(STAMP)
	$(VENV)/bin/lnn-control demo

clean:
	rm -rf $(VENV) $(OUT) *.egg-info
