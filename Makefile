# GAN Zoo: `make demo` trains Improved GAN semi-supervised on the embedded digits (100 labels) and prints its test error, `make test` runs the test suite.
# Each target creates .venv when it is missing and installs the package with the extras it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-digits: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[digits]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.installed-digits

demo: $(VENV)/.installed-digits
	$(BIN)/zoo fit --config configs/improved_gan/embedded_mnist_ssl.yaml
	$(BIN)/zoo test --config configs/improved_gan/embedded_mnist_ssl.yaml --ckpt_path runs/improved_gan/embedded_mnist_ssl/checkpoints/last.ckpt

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf runs lightning_logs .pytest_cache
