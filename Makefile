# Routine tasks. `make sample` sets up and runs the sample; `make test` runs the suite.
PYTHON ?= python3
PYTEST_WORKERS ?= 2

.PHONY: install sample sample-c test bench clean

install:
	$(PYTHON) -m pip install -q -e '.[test]'

sample:
	$(PYTHON) -m pip install -q -e .
	$(PYTHON) samples/linear_regression.py

# The C sample (samples/c): a graph saved in Python, `graphc compile`d, trained and run from C.
sample-c:
	$(PYTHON) -m pip install -q -e .
	$(MAKE) -C samples/c PYTHON=$(PYTHON)

test: install
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) tests

bench:
	$(PYTHON) -m pip install -q -e '.[bench]'
	$(PYTHON) -m benchmarks

clean:
	rm -rf build *.egg-info .pytest_cache
