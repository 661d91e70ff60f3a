# The study's commands. Each creates the environment (.venv) first if it is missing.
#   make study [PROFILE=quick|smoke|full]   run every notebook headless, in order
#   make test                               run the test suite (what CI runs), its time printed
#   make test-fast                          the suite without the tests marked slow (development, < 2 min)
#   make jupyter                            open the notebooks on this clone's kernel
PYTHON ?= python3
PY := .venv/bin/python
PROFILE ?= quick
# The dataset mirror: $SNN_DATA_MIRROR if set, else ../shared/datasets beside the clone, found by
# common.config.resolve_locations (the same for make, Jupyter, python -m common.study and the tests).
# Jupyter refuses to start as root (containers, CI) without --allow-root.
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: study test test-fast jupyter env clean
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
	# The notebooks name the kernel "snn-study". It is registered inside .venv (--sys-prefix), never for the user
	# account, so it runs this clone's .venv and code: a second clone registers its own in its own .venv, and a
	# Jupyter from outside any .venv finds none and says so (NoSuchKernel) instead of running another clone.
	$(PY) -m ipykernel install --sys-prefix --name snn-study --display-name "SNN study (.venv)" >/dev/null
	$(PY) -m common.study.kernel
	touch $@

study: env
	$(PY) -m common.study --profile $(PROFILE)

test: env
	@start=$$(date +%s); $(PY) -m pytest -n 2 --durations=10; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

test-fast: env
	$(PY) -m pytest -n 2 -m "not slow"

jupyter: env
	$(PY) -m jupyter lab $(JUPYTER_ROOT) notebooks/

clean:
	# runs/quick/ holds the committed executed notebooks: only the scratch folders go
	rm -rf runs/smoke runs/experiments .pytest_cache

# make bench [BENCH_FLAGS=--recalibrate]: the project's training speed against its peers, at batch 128 and 32
# (benchmarks/peers.py; run it on an idle machine, it takes minutes)
BENCH_FLAGS ?=
.PHONY: bench
bench: env
	$(PY) benchmarks/peers.py --batch 128 --runs 3 $(BENCH_FLAGS)
	$(PY) benchmarks/peers.py --batch 32 --runs 3 $(BENCH_FLAGS)
