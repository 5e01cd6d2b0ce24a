# make tour / make test / make demo / make bench: each sets up .venv first (once; again only when pyproject.toml
# or the native kernels' sources change).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH := torch==2.13.0
INSTALLED := $(VENV)/.installed
NATIVE := $(VENV)/.native-built
NATIVE_SOURCES := $(wildcard src/unroll/time/native/*.cpp src/unroll/time/native/*.h src/unroll/time/native/*.py)

.PHONY: setup tour demo test bench

setup: $(INSTALLED) $(NATIVE)

tour: setup
	$(VENV)/bin/unroll tour --out out/tour

demo: setup
	$(VENV)/bin/unroll demo

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/engine.py

# torch goes in first and pinned: on this kind of machine the pin takes the CPU build lying on disk
# (a bare requirement would pull a CUDA build of several GB); pyproject's permissive range
# (torch>=2.4) then installs nothing more for it.
$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install $(TORCH)
	$(PIP) install -e '.[test,bench]'
	touch $@

# The C++ time loops are optional: without them unroll runs the same recurrences in plain torch.
$(NATIVE): $(INSTALLED) $(NATIVE_SOURCES)
	@$(PY) -c "from unroll.time import native; native.build()" \
		|| echo "note: native kernels not built; unroll falls back to its pure torch loops"
	@touch $@
