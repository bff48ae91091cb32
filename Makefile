# gendisco: `make demo` renders the demo project, `make test` runs the test suite.
# Both create .venv on first use. A user with a GPU can preinstall their own CUDA torch
# into .venv (or set TORCH=...) before the first run.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
MODEL ?= tiny
PY := $(VENV)/bin/python

WAVESURFER_VERSION ?= 8.0.1
WAVESURFER_DIR := src/gendisco/studio/static/vendor/wavesurfer

.PHONY: install install-dev test lint demo demo-strip train-tiny bench bench-gpu clean vendor-wavesurfer

# What the demo needs: gendisco and its runtime dependencies, no test tools, no Ray.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q "$(TORCH)"
	$(PY) -m pip install --disable-pip-version-check -q -e .
	touch $@

# What the tests and benchmarks add: pytest, ruff, hypothesis, mir_eval, Playwright, Ray and
# the studio's web server.
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev,ray,studio]"
	touch $@

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks projects
	$(VENV)/bin/ruff format --check src tests benchmarks projects

test: install-dev lint
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/gendisco render projects/demo/demo.yaml --model $(MODEL)

# The README's strip of demo frames (projects/demo/demo-strip.png), from the rendered demo.
demo-strip: demo
	$(PY) projects/demo/make_strip.py

# Retrain the built-in `tiny` model from its seed (40 to 80 minutes on 2 CPU cores, by CPU); writes
# the diffusers folder that `model: tiny` loads.
train-tiny: install
	rm -rf src/gendisco/tinymodel/weights.new
	$(PY) -m gendisco.tinymodel.train --out src/gendisco/tinymodel/weights.new
	rm -rf src/gendisco/tinymodel/weights
	mv src/gendisco/tinymodel/weights.new src/gendisco/tinymodel/weights

bench: install-dev
	$(PY) benchmarks/render_speed.py --seconds 8 --repeats 5
	$(PY) benchmarks/render_process.py --seconds 180 --repeats 3
	$(PY) benchmarks/encoders.py --encoders 1,2,3,4 --size 512 --clips 16 --repeats 3
	$(PY) benchmarks/model_speed.py
	$(PY) benchmarks/scaling.py
	$(PY) benchmarks/ray_speed.py
	$(PY) benchmarks/beat_accuracy.py
	$(PY) benchmarks/studio_speed.py
	$(PY) benchmarks/draft_speed.py --threads 1
	$(PY) benchmarks/tiny_model.py --repeats 5 --seeds 3

bench-gpu: install-dev
	$(PY) benchmarks/model_speed.py --device cuda --compile
	$(PY) benchmarks/cuda_settings.py --compile
	$(PY) benchmarks/render_speed.py --device cuda --model random:sd-turbo --vae tiny \
		--size 512 --steps 1 --fps 24 --seconds 15 --batch 16

# The studio's waveform library, from the npm registry (BSD-3-Clause): its ES module builds
# and licence, copied into the package. `make vendor-wavesurfer WAVESURFER_VERSION=x.y.z`.
vendor-wavesurfer:
	rm -rf .vendor && mkdir -p .vendor
	cd .vendor && npm pack --silent wavesurfer.js@$(WAVESURFER_VERSION) >/dev/null
	tar xzf .vendor/wavesurfer.js-$(WAVESURFER_VERSION).tgz -C .vendor
	rm -rf $(WAVESURFER_DIR) && mkdir -p $(WAVESURFER_DIR)/plugins
	cp .vendor/package/dist/wavesurfer.esm.js .vendor/package/LICENSE $(WAVESURFER_DIR)/
	cp .vendor/package/dist/plugins/regions.esm.js .vendor/package/dist/plugins/timeline.esm.js \
		$(WAVESURFER_DIR)/plugins/
	echo "wavesurfer.js $(WAVESURFER_VERSION) from the npm registry (dist/*.esm.js); refresh:" \
		"make vendor-wavesurfer WAVESURFER_VERSION=x.y.z" > $(WAVESURFER_DIR)/VERSION
	rm -rf .vendor

clean:
	rm -rf $(VENV) projects/demo/renders
