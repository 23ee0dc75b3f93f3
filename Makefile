# Two-command quick start: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint sysdeps mlextra refcode bench faults docs clean

$(BIN)/sfng: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(BIN)/sfng

demo: $(BIN)/sfng
	$(BIN)/sfng demo demo-store --fresh

test: $(BIN)/sfng lint sysdeps mlextra refcode
	$(BIN)/python -m pytest

# PyTorch and h5py (sfng[ml]) so that the training tests run; best effort, as sysdeps: a machine
# that cannot install them still passes `make test`, those tests skip and say why.
mlextra: $(BIN)/sfng
	@$(BIN)/python -c "import torch, h5py" 2>/dev/null || { \
	  echo "mlextra: installing sfng[ml] (PyTorch, h5py; a few GB, 1-3 minutes on a fast mirror)"; \
	  $(BIN)/pip install -q -e '.[ml]' >/tmp/sfng-mlextra.log 2>&1 \
	  || echo "mlextra: could not install sfng[ml] (see /tmp/sfng-mlextra.log); the training tests will skip"; }

# Reference code the tests compare against (tests/reference/requirements.txt: marvin's BPT code),
# downloaded by hash, never installed; best effort: without it those tests skip and say why.
refcode: $(BIN)/sfng
	@ls $(VENV)/refwheels/sdss_marvin-2.8.2-*.whl >/dev/null 2>&1 || \
	  $(BIN)/pip download -q --no-deps --require-hashes -r tests/reference/requirements.txt \
	    -d $(VENV)/refwheels >/tmp/sfng-refcode.log 2>&1 \
	  || echo "refcode: could not download the reference wheels (see /tmp/sfng-refcode.log); tests/test_ml_marvin.py will skip"

# Debian packages some tests use (STILTS); best effort, see .ci/sysdeps.
sysdeps:
	@.ci/sysdeps

# The import contracts in pyproject.toml ([tool.importlinter]).
lint: $(BIN)/sfng
	$(BIN)/lint-imports

bench: $(BIN)/sfng
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

# The writers' fault campaign: kill -9 every writer at random steps (24 trials each), rerun, check;
# figures appended to docs/reliability.md (tests/test_faults.py is the quick version, in `make test`).
faults: $(BIN)/sfng
	$(BIN)/python benchmarks/faults.py --trials 24

docs: $(BIN)/sfng
	$(BIN)/python -m sfng.docs_gen docs

clean:
	rm -rf $(VENV) demo-store
