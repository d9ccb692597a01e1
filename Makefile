# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
RUN ?= runs/cgan-mnist

.PHONY: install install-dev demo test bench clean

# Keep an existing torch; otherwise install one pinned release (CPU wheel where one is offered locally).
install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "torch==$(TORCH_VERSION)"
	$(PYTHON) -m pip install -q -e .

install-dev: install
	$(PYTHON) -m pip install -q -e ".[dev]"

# The main job: train a class-conditional DCGAN on the bundled MNIST-5k digits, write samples, a loss plot and scores.
demo: install
	$(PYTHON) -m ganforge train cgan-mnist --out $(RUN)

test: install-dev
	$(PYTHON) -m pytest -q

bench: install-dev
	$(PYTHON) benchmarks/throughput.py

clean:
	rm -rf runs build *.egg-info src/*.egg-info .pytest_cache
