# GAN Zoo: `make demo` trains Improved GAN semi-supervised on the embedded digits (100 labels), prints its test error and
# writes a grid of its samples, `make test` runs the test suite.
# Each target creates .venv when it is missing and installs the package with the extras it needs.

PYTHON ?= python3
# Idle OpenMP threads sleep instead of spinning: tests and benchmarks here share the cores with other
# jobs, where spinning threads slow torch down many times over. Alone on a machine it costs small-op
# models time (a full-MNIST semi-supervised epoch took 1.3-1.5x as long; README, "CPU threads").
export OMP_WAIT_POLICY ?= PASSIVE
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint bench bench-results clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-digits: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[digits]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.installed-digits

DEMO_GRID := runs/improved_gan/embedded_mnist_ssl/samples/last.png

demo: $(VENV)/.installed-digits
	$(BIN)/zoo fit --config configs/improved_gan/embedded_mnist_ssl.yaml
	$(BIN)/zoo test --config configs/improved_gan/embedded_mnist_ssl.yaml --ckpt_path runs/improved_gan/embedded_mnist_ssl/checkpoints/last.ckpt
	@echo "demo: samples of the trained generator in $(DEMO_GRID)"

# Two test processes (pytest-xdist), one per core, each with one OpenMP thread: most tests run tiny
# networks that a second thread barely speeds up, so the cores are better spent on two tests at once.
# TEST_WORKERS=0 runs the suite in this process (for a debugger).
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

# The style gate: ruff's checks as configured in pyproject.toml ([tool.ruff]).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Speed and memory benchmarks (train_step ~5 min, data_loading <1, memory ~5, dgflow_speed >5 under load on 2 cores); results in benchmarks/results/*.json.
SPEED_BENCHMARKS := train_step data_loading memory dgflow_speed metrics_speed
# Quality benchmarks: each trains models for tens of minutes to hours on 2 cores (see benchmarks/README.md).
QUALITY_BENCHMARKS := dgflow_toy methods_embedded_mnist ssl_embedded_mnist

# metrics_speed takes 3 repeats here (about 5 minutes) to keep `make bench` near 15 minutes.
bench: $(VENV)/.installed-dev
	@for name in $(SPEED_BENCHMARKS); do \
		case $$name in metrics_speed) args="--repeats 3";; *) args="";; esac; \
		echo "== benchmarks/$$name.py $$args"; OMP_NUM_THREADS=1 $(BIN)/python benchmarks/$$name.py $$args || exit 1; \
	done

bench-results: $(VENV)/.installed-dev
	@for name in $(QUALITY_BENCHMARKS); do echo "== benchmarks/$$name.py"; $(BIN)/python benchmarks/$$name.py || exit 1; done

clean:
	rm -rf runs lightning_logs .pytest_cache
