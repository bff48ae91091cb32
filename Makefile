# gendisco: `make demo` renders the demo project, `make test` runs the test suite.
# Both create .venv on first use. A user with a GPU can preinstall their own CUDA torch
# into .venv (or set TORCH=...) before the first run.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
MODEL ?= tiny
PY := $(VENV)/bin/python

.PHONY: install install-dev test lint demo bench bench-gpu clean

# What the demo needs: gendisco and its runtime dependencies, no test tools, no Ray.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q "$(TORCH)"
	$(PY) -m pip install --disable-pip-version-check -q -e .
	touch $@

# What the tests and benchmarks add: pytest, ruff, hypothesis, mir_eval and Ray.
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev,ray]"
	touch $@

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks projects
	$(VENV)/bin/ruff format --check src tests benchmarks projects

test: install-dev lint
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/gendisco render projects/demo/demo.yaml --model $(MODEL)

bench: install-dev
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/model_speed.py
	$(PY) benchmarks/scaling.py
	$(PY) benchmarks/ray_speed.py
	$(PY) benchmarks/beat_accuracy.py
	$(PY) benchmarks/draft_speed.py

bench-gpu: install-dev
	$(PY) benchmarks/model_speed.py --device cuda --compile
	$(PY) benchmarks/cuda_settings.py --compile
	$(PY) benchmarks/render_speed.py --device cuda --model random:sd-turbo --vae tiny \
		--size 512 --steps 1 --fps 24 --seconds 15 --batch 16

clean:
	rm -rf $(VENV) projects/demo/renders
