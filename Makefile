# Two commands for a fresh clone:  `make demo`  and  `make test`.
# Both create .venv when it is missing and install only what they need; re-runs skip installed steps.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# The torch build that installs from the local wheel mirror; pinning it stops pip from pulling another
# multi-GB CUDA build from the registry.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
OUT    ?= neuroalign-demo
ARGS   ?=

.PHONY: demo test lint bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(PY)
	$(PIP) install -q $(TORCH)
	@touch $@

$(VENV)/.demo: pyproject.toml $(VENV)/.torch
	$(PIP) install -q -e ".[demo]"
	@touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.demo
	$(PIP) install -q -e ".[test]"
	@touch $@

demo: $(VENV)/.demo
	$(VENV)/bin/neuroalign demo --out $(OUT) $(ARGS)

test: $(VENV)/.test
	$(PY) -m pytest $(ARGS)

lint: $(VENV)/.test
	$(PIP) install -q ruff mypy
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
