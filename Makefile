# Two commands do all set-up on a fresh machine (Python >= 3.10, no conda):
#   make book   -> .venv, dependencies, the package, and the rendered book in _build/html
#   make test   -> the same set-up, then ruff (lint), unit tests (the rendering checks of the stored
#                  notebooks among them), every notebook in smoke mode, a strict book build, and every page of
#                  it checked in headless Chromium (check-html)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MNIST  ?= ../shared/data/mnist
NOSOL  ?= _build/nosolutions

.PHONY: install lint book test unit backends notebooks notebooks-jax book-strict book-execute colab-cells bench bench-gan \
        bench-backends clean check-html browser book-nosolutions assignments

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[tensorflow,jax,torch,book,test]"
	@touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: $(STAMP) lint browser unit backends notebooks notebooks-jax book-strict check-html

# Code style, a few seconds: ruff format and ruff check over the library, tests, tools, benchmarks and every
# notebook (pyproject.toml [tool.ruff]: 120 columns; notebooks/, book/ and assignments/ruff.toml: 88, the code
# width of the rendered page).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# Two pytest workers (pytest-xdist), one test file each at a time: on a 2-core machine this takes the unit tests
# from about 330 s to 215 s and the smoke notebooks from about 220 s to 135 s.
XDIST := -n 2 --dist loadfile

# tests/test_rendering.py (part of it) checks the stored outputs of every notebook as the book shows them.
unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST) tests kgan_utils --doctest-modules

# The tests marked `backends` again under JAX and PyTorch (`unit` runs them, with everything else, on TensorFlow).
# Only the files that hold such tests are collected (collecting all of tests/ costs about 13 s per backend).
BACKEND_TESTS = $(shell grep -l "mark.backends" tests/test_*.py)
backends: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -p no:cacheprovider -m backends $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -p no:cacheprovider -m backends $(BACKEND_TESTS)

# Chapter 05 (the MNIST GAN) in smoke mode on the JAX backend: the book's GAN chapter does not depend on TensorFlow.
notebooks-jax: $(STAMP)
	KERAS_BACKEND=jax KGAN_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
	  -p no:cacheprovider notebooks/05_mnist_gan.ipynb

# Every notebook, executed in smoke mode; nbval compares the cells marked NBVAL_CHECK_OUTPUT.
notebooks: $(STAMP)
	KGAN_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q $(XDIST) --nbval-lax --nbval-current-env -p no:cacheprovider \
	  notebooks $(wildcard book/*.ipynb)

# Fails on any Sphinx warning; rebuilds every page so no warning hides in the cache.
book-strict: $(STAMP)
	$(BIN)/jupyter-book build . --builder html --all -W --keep-going

# Re-executes every notebook in full mode and stores its outputs (offline: set MNIST=path/to/mnist).
book-execute: $(STAMP)
	@for nb in notebooks/*.ipynb book/*.ipynb; do \
	  echo "== $$nb"; start=$$(date +%s); \
	  KGAN_MNIST_PATH=$${KGAN_MNIST_PATH:-$(if $(wildcard $(MNIST)),$(abspath $(MNIST)),)} KGAN_SMOKE= \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=7200 "$$nb" || exit 1; \
	  echo "   $$(( $$(date +%s) - start )) s"; \
	done

# Every page of _build/html in headless Chromium: console errors, images that did not load, untypeset math,
# anything fetched from outside the book. Installs Debian's chromium and chromedriver when they are missing.
check-html: $(STAMP) browser
	@test -f _build/html/index.html || $(MAKE) book
	$(BIN)/python tools/check_html.py _build/html

browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "check-html needs chromium and chromedriver: sudo apt-get install chromium chromium-driver"; exit 1; fi; }

# The course edition: the same book without the solutions of the exercises (sphinx-exercise's hide_solutions),
# without the notebook sources and download/launch buttons (they would contain the solutions), in $(NOSOL)/html.
book-nosolutions: $(STAMP)
	@mkdir -p $(NOSOL)
	$(BIN)/python -c "import yaml, pathlib; c = yaml.safe_load(open('_config.yml')); \
	  c['title'] += ' (course edition)'; c.pop('launch_buttons', None); s = c['sphinx']; \
	  s['local_extensions'] = {k: str(pathlib.Path(v).resolve()) for k, v in s['local_extensions'].items()}; \
	  s['recursive_update'] = True; s['config'].update(hide_solutions=True, html_copy_source=False, \
	  html_show_sourcelink=False, html_theme_options={'use_download_button': False}); \
	  yaml.safe_dump(c, open('$(NOSOL)/_config.yml', 'w'), sort_keys=False, allow_unicode=True)"
	$(BIN)/jupyter-book build . --builder html --all --config $(NOSOL)/_config.yml --path-output $(NOSOL)
	@rm -rf $(NOSOL)/html && mv $(NOSOL)/_build/html $(NOSOL)/html
	@echo "The course edition: $(abspath $(NOSOL))/html/index.html"

# Student notebooks (assignments/student) from the instructor notebooks (assignments/instructor).
assignments: $(STAMP)
	$(BIN)/python tools/strip_solutions.py

colab-cells: $(STAMP)
	$(BIN)/python tools/colab_cells.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mmd.py

# The default DCGAN on TensorFlow, JAX and PyTorch side by side (CPU; benchmarks/gpu_backends.sh on a GPU).
bench-backends: $(STAMP)
	$(BIN)/python benchmarks/bench_backends.py --data $(if $(KGAN_MNIST_PATH),$(KGAN_MNIST_PATH),$(abspath $(MNIST))) $(BENCH_ARGS)

# The tutorial DCGAN against the default, 15 min each (BENCH_ARGS="--budget-min 5" to shorten); needs MNIST.
bench-gan: $(STAMP)
	$(BIN)/python benchmarks/bench_gan.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache
