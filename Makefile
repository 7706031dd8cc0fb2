# The two commands of the README: `make lab` and `make test`. Both build the
# virtual environment on first use (scripts/env.sh) and fetch the offline data.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
ENV := PYTHONPATH=$(ROOT) PYTHONDONTWRITEBYTECODE=1
PORT ?= 8888

.PHONY: env lab test test-unit test-notebooks bench clean-env

env:  ## create (or reuse) the venv and fetch the offline data
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/python" -m lrkit fetch

lab: env  ## open the lessons in JupyterLab
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/jupyter" lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) --no-browser \
	    $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: env  ## unit tests and nbval over every notebook, on the ci profile
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest tests notebooks --nbval-lax $(PYTEST_ARGS)

test-unit: env
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest tests $(PYTEST_ARGS)

test-notebooks: env
	@venv=$$(scripts/env.sh); $(ENV) LRKIT_PROFILE=ci "$$venv/bin/python" -m pytest notebooks --nbval-lax $(PYTEST_ARGS)

bench: env  ## speed benchmarks: ratios measured side by side
	@venv=$$(scripts/env.sh); $(ENV) "$$venv/bin/python" -m bench

clean-env:  ## remove the venvs (they live outside the clone)
	rm -rf "$${LRKIT_HOME:-$$HOME/.cache/lrkit}"/venv-*
