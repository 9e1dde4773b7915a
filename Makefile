# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := cd example_project && ../$(PY) manage.py
DATABASE_URL_PG ?= postgres://postgres@127.0.0.1:5432/test
OMNICHANNEL_DEMO_SERVE ?= 1
DEMO_STAFF_USER ?= admin
DEMO_STAFF_PASSWORD ?= omnichannel-demo

REDIS_URL_IT ?= redis://127.0.0.1:6379/5
# Property tests draw the same examples on every run of a make target.
export HYPOTHESIS_PROFILE ?= ci
WORKER_QUEUES ?= omnichannel-send,omnichannel-segments,omnichannel-models,celery
WORKER_CONCURRENCY ?= 2
PRODUCTION := cd example_project && OMNICHANNEL_MODE=production

.PHONY: demo test test-sqlite test-postgres test-oscar test-integration test-security test-django6 bench bench-quick lint browser-deps clean worker beat web

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,example]"
	touch $@

demo: $(VENV)/.installed
	$(MANAGE) migrate --noinput
	$(MANAGE) omnichannel_demo --data data/CDNOW_master.txt \
		--staff-user "$(DEMO_STAFF_USER)" --staff-password "$(DEMO_STAFF_PASSWORD)"
	@if [ "$(OMNICHANNEL_DEMO_SERVE)" != "0" ]; then \
		echo "Serving the example shop on http://127.0.0.1:8000/ (admin: /admin/, user $(DEMO_STAFF_USER), password $(DEMO_STAFF_PASSWORD))"; \
		$(MANAGE) runserver 127.0.0.1:8000; \
	fi

# Debian's Chromium and ChromeDriver, for the browser tests.
browser-deps:
	@if ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "chromium and chromium-driver are missing; browser tests will be skipped"; \
		fi; \
	fi

test: $(VENV)/.installed browser-deps
	$(MAKE) test-sqlite
	$(MAKE) test-oscar
	@if $(PY) -c "import psycopg; psycopg.connect('$(DATABASE_URL_PG)', connect_timeout=3).close()" 2>/dev/null; then \
		$(MAKE) test-postgres; \
	else \
		echo "PostgreSQL does not answer at $(DATABASE_URL_PG); skipping the PostgreSQL run"; \
	fi
	@if $(PY) -c "import psycopg, redis; psycopg.connect('$(DATABASE_URL_PG)', connect_timeout=3).close(); redis.Redis.from_url('$(REDIS_URL_IT)', socket_connect_timeout=3).ping()" 2>/dev/null; then \
		$(MAKE) test-integration; \
	else \
		echo "PostgreSQL or Redis does not respond; skipping the worker integration tests"; \
	fi

test-sqlite: $(VENV)/.installed
	$(PY) -m pytest -q

test-postgres: $(VENV)/.installed
	DATABASE_URL=$(DATABASE_URL_PG) $(PY) -m pytest -q

# The attack suite alone: schemathesis, hostile inputs, forgery, SSRF, rate limits.
test-security: $(VENV)/.installed
	$(PY) -m pytest -q tests/security

# The django-oscar adapter against a real Oscar shop, in its own settings module
# (Oscar's forty apps stay out of the main test settings). SQLite unless
# DATABASE_URL is set.
test-oscar: $(VENV)/.installed
	$(PY) -m pytest -q --ds=tests.integration.oscar_settings tests/integration/oscar

# Real celery worker and beat processes against PostgreSQL and Redis on 127.0.0.1,
# with a worker killed, the broker restarted and a database connection dropped.
test-integration: $(VENV)/.installed
	OMNICHANNEL_INTEGRATION=1 OMNICHANNEL_IT_REDIS_URL=$(REDIS_URL_IT) \
		$(PY) -m pytest -q tests/integration/workers

# Production processes of the example shop (see Procfile and docs/production.md).
# DATABASE_URL and CELERY_BROKER_URL come from the environment.
worker: $(VENV)/.installed
	$(PRODUCTION) ../$(VENV)/bin/celery -A example_project worker -Q $(WORKER_QUEUES) \
		-c $(WORKER_CONCURRENCY) -O fair --without-gossip --without-mingle -l INFO

beat: $(VENV)/.installed
	$(PRODUCTION) ../$(VENV)/bin/celery -A example_project beat -l INFO \
		--scheduler django_celery_beat.schedulers:DatabaseScheduler

web: $(VENV)/.installed
	$(PRODUCTION) ../$(VENV)/bin/gunicorn example_project.wsgi --bind 127.0.0.1:8000 --workers 3

# The whole benchmark suite on PostgreSQL at three sizes: about 75 minutes on two
# cores, most of it at 1m; docs/benchmarks.md has the module times.
# BENCH_SIZES picks other sizes, such as BENCH_SIZES=10k,100k.
BENCH_SIZES ?= 10k,100k,1m
bench: $(VENV)/.installed
	DATABASE_URL=$(DATABASE_URL_PG) OMNICHANNEL_TEST_DB_SUFFIX=bench \
		$(PY) -m benchmarks --sizes $(BENCH_SIZES)

# Every benchmark at a tiny size, to check that they run; the figures mean little.
bench-quick: $(VENV)/.installed
	DATABASE_URL=$(DATABASE_URL_PG) OMNICHANNEL_TEST_DB_SUFFIX=bench \
		$(PY) -m benchmarks --sizes 1k --output benchmarks/results-quick.json

# The SQLite suite on Django 6.0 in a venv of its own (Django 6 needs Python 3.12
# or newer). Skipped with a message when no python3.12 or python3.13 is found.
PYTHON_DJANGO6 ?= $(shell for candidate in python3.12 python3.13 \
	$(HOME)/.pyenv/versions/3.12*/bin/python $(HOME)/.pyenv/versions/3.13*/bin/python; do \
	if $$candidate -c "import sys; sys.exit(sys.version_info < (3, 12))" 2>/dev/null; then \
	command -v $$candidate; break; fi; done)
VENV_DJANGO6 := .venv-dj6
$(VENV_DJANGO6)/.installed: pyproject.toml
	$(PYTHON_DJANGO6) -m venv $(VENV_DJANGO6)
	$(VENV_DJANGO6)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_DJANGO6)/bin/python -m pip install --quiet -e ".[test,example]" "Django>=6.0,<6.1"
	touch $@

test-django6:
	@if [ -z "$(PYTHON_DJANGO6)" ]; then \
		echo "No python3.12 or python3.13 found; skipping the Django 6 run"; \
	else \
		$(MAKE) $(VENV_DJANGO6)/.installed && $(VENV_DJANGO6)/bin/python -m pytest -q; \
	fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check omnichannel tests example_project benchmarks
	$(VENV)/bin/ruff format --check omnichannel tests example_project benchmarks

clean:
	rm -rf $(VENV) $(VENV_DJANGO6) example_project/db.sqlite3
