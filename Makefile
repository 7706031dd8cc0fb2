# The two commands of the README: `make lab` and `make test`. Both build the
# virtual environment on first use (scripts/env.sh) and fetch the offline data.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
ENV := PYTHONPATH=$(ROOT) PYTHONDONTWRITEBYTECODE=1
PORT ?= 8888
PROFILE ?= cpu
# pytest-xdist: the tests run in this many processes side by side, one torch thread each; conftest.py
# says what one process keeps together (a notebook's nbval cells, then its browser test; a test module)
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --no-loadscope-reorder

.PHONY: env lab test test-unit test-notebooks test-browser browser slides precompute bench gpu-cost clean-env

env:  ## create (or reuse) the venv and fetch the offline data
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/python" -m lrkit fetch

lab: env  ## open the lessons in JupyterLab
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/jupyter" lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) --no-browser \
	    $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# notebooks before tests/: a notebook's nbval cells start from the run's empty result cache and compute
# every result; its browser test, next in the same process, loads them (tests/browser/test_jupyterlab.py)
test: env browser  ## nbval over every notebook, unit tests and the browser tests, on the ci profile
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest notebooks tests --nbval-lax $(XDIST) $(PYTEST_ARGS)

test-unit: env
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest tests -m "not browser" $(XDIST) $(PYTEST_ARGS)

test-browser: env browser  ## only the browser tests (JupyterLab in Chromium, slides)
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest tests -m browser $(XDIST) $(PYTEST_ARGS)

browser:  ## Debian's Chromium for the browser tests
	@scripts/browser.sh >/dev/null

slides: env  ## static reveal.js decks that open offline, in build/slides
	@scripts/slides.sh

precompute: env  ## fill the result cache for a workshop: make precompute PROFILE=cpu
	@venv=$$(scripts/env.sh); out=$$(mktemp -d); \
	for nb in notebooks/[0-9]*.ipynb; do echo "precompute: $$nb ($(PROFILE))"; \
	  $(ENV) LRKIT_PROFILE=$(PROFILE) "$$venv/bin/jupyter" nbconvert --to notebook --execute --log-level=WARN \
	    --ExecutePreprocessor.timeout=3600 --output-dir "$$out" "$$nb"; done; rm -rf "$$out"

test-notebooks: env
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest notebooks --nbval-lax $(XDIST) $(PYTEST_ARGS)

gpu-cost: env  ## the gpu profile's estimated cost per notebook, from the dry run of make test
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/python" scripts/gpu_cost.py

bench: env  ## speed benchmarks: ratios measured side by side
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/python" -m bench

clean-env:  ## remove the venvs (they live outside the clone)
	rm -rf "$${LRKIT_HOME:-$$HOME/.cache/lrkit}"/venv-* "$${LRKIT_HOME:-$$HOME/.cache/lrkit}"/bare-venv-*
