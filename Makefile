# The study's commands. Each creates the environment (.venv) first if it is missing.
#   make study [PROFILE=quick|smoke|full]   run every notebook headless, in order
#   make test                               run the test suite (what CI runs)
#   make jupyter                            open the notebooks on the project's kernel
PYTHON ?= python3
PY := .venv/bin/python
PROFILE ?= quick
# The dataset mirror: $SNN_DATA_MIRROR if set, else ../shared/datasets beside the clone, found by
# common.config.resolve_locations (the same for make, Jupyter, python -m common.study and the tests).
# Jupyter refuses to start as root (containers, CI) without --allow-root.
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: study test jupyter env clean
env: .venv/.installed

.venv/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# NeuroBench (the comparison's efficiency metrics) requires torchaudio, which has no release for the
	# pinned torch; its benchmark and metric modules never import it (tests/test_neurobench.py checks).
	$(PY) -m pip install --quiet --no-deps 'neurobench==2.3.0'
	# spikingjelly: a peer in benchmarks/peers.py only; it too declares torchaudio
	$(PY) -m pip install --quiet --no-deps 'spikingjelly==2.0.0'
	touch $@

study: env
	$(PY) -m common.study --profile $(PROFILE)

test: env
	$(PY) -m pytest -n 2 --durations=10

jupyter: env
	$(PY) -m ipykernel install --user --name snn-study --display-name "SNN study (.venv)"
	$(PY) -m jupyter lab $(JUPYTER_ROOT) notebooks/

clean:
	rm -rf runs .pytest_cache

# make bench [BENCH_FLAGS=--recalibrate]: the project's training speed against its peers, at batch 128 and 32
# (benchmarks/peers.py; run it on an idle machine, it takes minutes)
BENCH_FLAGS ?=
.PHONY: bench
bench: env
	$(PY) benchmarks/peers.py --batch 128 --runs 3 $(BENCH_FLAGS)
	$(PY) benchmarks/peers.py --batch 32 --runs 3 $(BENCH_FLAGS)
