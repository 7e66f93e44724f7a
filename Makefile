# Commands for a fresh machine: `make demo` runs the CIFAR-10 study on a CPU,
# `make demo-lm` the language-model studies on a CPU (on the Python standard
# library's source; 50 minutes of training on one thread of the CPU that wrote
# the committed results), `make test` runs the test suite.  Each creates `.venv`
# and installs what it needs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CIFAR-10 data: the official python release or an image-folder layout
CIFAR10_DIR ?= ./data
DEMO_OUT ?= ./out/demo
DEMO_LM_OUT ?= ./out/lm
# Where the sources are online, so that every page links to its file there (as
# "view code" does on nn.labml.ai): the folder of the labml_nn package, such as
# REPOSITORY=https://github.com/you/labml_nn/blob/main/labml_nn/
REPOSITORY ?=
DOCS_FLAGS := $(if $(REPOSITORY),--repository $(REPOSITORY))

.PHONY: install test demo demo-lm docs docs-check bench clean

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
	$(PY) -m labml_nn.distillation.cifar10.pipeline --profile demo --seeds 1 \
		--data-dir $(CIFAR10_DIR) --out $(DEMO_OUT)

demo-lm: install
	$(PY) -m labml_nn.distillation.lm.pipeline --study all --profile cpu --seeds 3 --out $(DEMO_LM_OUT)

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
