# Two commands do all set-up on a fresh machine (Python >= 3.10, no conda):
#   make book   -> .venv, dependencies, the package, and the rendered book in _build/html
#   make test   -> the same set-up, then unit tests, every notebook in smoke mode, a strict book build
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MNIST  ?= ../shared/data/mnist

.PHONY: install book test unit notebooks book-strict book-execute colab-cells bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[book,test]"
	@touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: $(STAMP) unit notebooks book-strict

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests kgan_utils --doctest-modules

# Every notebook, executed in smoke mode; nbval compares the cells marked NBVAL_CHECK_OUTPUT.
notebooks: $(STAMP)
	KGAN_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

# Fails on any Sphinx warning; rebuilds every page so no warning hides in the cache.
book-strict: $(STAMP)
	$(BIN)/jupyter-book build . --builder html --all -W --keep-going

# Re-executes every notebook in full mode and stores its outputs (offline: set MNIST=path/to/mnist).
book-execute: $(STAMP)
	@for nb in notebooks/*.ipynb; do \
	  echo "== $$nb"; start=$$(date +%s); \
	  KGAN_MNIST_PATH=$${KGAN_MNIST_PATH:-$(if $(wildcard $(MNIST)),$(abspath $(MNIST)),)} KGAN_SMOKE= \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=7200 "$$nb" || exit 1; \
	  echo "   $$(( $$(date +%s) - start )) s"; \
	done

colab-cells: $(STAMP)
	$(BIN)/python tools/colab_cells.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mmd.py

clean:
	rm -rf _build .pytest_cache
