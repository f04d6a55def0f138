# The two commands README.md opens with: `make demo` and `make test`. Both make their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.PHONY: demo test test-services lint typecheck bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-demo

# Ctrl-C stops runserver (it gets the SIGINT); the sweeper runs in the background, where sh ignores
# SIGINT, so the EXIT trap stops it by PID (traps set after it starts, so it inherits none). The old
# `trap 'kill 0' INT TERM EXIT` signalled the shell itself, which re-ran the trap until dash crashed:
# "make: *** [Makefile:26: demo] Segmentation fault".
demo: $(VENV)/.installed-demo
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setupdemo
	@echo "Serving http://127.0.0.1:8000/ (console push backend: pushes are printed below). Ctrl-C stops."
	@$(PY) manage.py sendduepush --every 5 > /dev/null & sweeper=$$!; \
	  trap 'kill $$sweeper 2>/dev/null' EXIT; trap 'exit 0' INT; trap 'exit 143' TERM; trap 'exit 129' HUP; \
	  $(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.installed-test
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(PY) -m pytest $(PYTEST_ARGS)

# PostgreSQL + Redis + a real Celery worker (see README, "Running the tests").
test-services: $(VENV)/.installed-test
	DJANGO_PUSH_TEST_SERVICES=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

bench: $(VENV)/.installed-test
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) example_project/db.sqlite3 .pytest_cache .mypy_cache .ruff_cache
