# Two commands for a fresh machine: `make demo` runs the CIFAR-10 study on a CPU,
# `make test` runs the test suite.  Both create `.venv` and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CIFAR-10 data: the official python release or an image-folder layout
CIFAR10_DIR ?= ./data
DEMO_OUT ?= ./out/cpu
# Where the sources are online, so that every page links to its file there (as
# "view code" does on nn.labml.ai): the folder of the labml_nn package, such as
# REPOSITORY=https://github.com/you/labml_nn/blob/main/labml_nn/
REPOSITORY ?=
DOCS_FLAGS := $(if $(REPOSITORY),--repository $(REPOSITORY))

.PHONY: install test demo docs docs-check bench clean

# The stamp is newer than setup.py once the editable install has succeeded
$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m labml_nn.literate --check --out docs $(DOCS_FLAGS)
	$(PY) -m pytest -q tests

demo: install
	$(PY) -m labml_nn.distillation.pipeline --profile cpu --seeds 1 \
		--data-dir $(CIFAR10_DIR) --out $(DEMO_OUT)

docs: install
	$(PY) -m labml_nn.literate --out docs $(DOCS_FLAGS)

docs-check: install
	$(PY) -m labml_nn.literate --check --out docs $(DOCS_FLAGS)

bench: install
	$(PY) benchmarks/loss_memory.py
	$(PY) benchmarks/fused_loss.py
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/distillation_throughput.py --data-dir $(CIFAR10_DIR)
	$(PY) benchmarks/distributed_throughput.py --data-dir $(CIFAR10_DIR)
	$(PY) benchmarks/teacher_cache.py --data-dir $(CIFAR10_DIR)
	$(PY) benchmarks/study_time.py
	$(PY) benchmarks/training_throughput.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
