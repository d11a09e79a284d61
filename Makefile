# The two commands a newcomer needs: `make run` and `make test`.
# Both honour DATABASE_URL and REDIS_URL from the environment (or .env).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
METRICS_DIR := $(CURDIR)/.prometheus

# Settings for the test run: production mode (DEBUG off) minus the HTTPS
# redirect the test client cannot follow. Fixed keys: tests only.
TEST_ENV := env -u PROMETHEUS_MULTIPROC_DIR DEBUG=False SECURE_SSL_REDIRECT=False \
	SECRET_KEY=test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	FIELD_ENCRYPTION_KEYS=dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OSE=

.PHONY: run test clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.requirements: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.requirements-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@ $(VENV)/.requirements

# A local .env with a fresh random key; never committed, never overwritten.
.env: | $(VENV)/bin/python
	$(PY) -c 'import secrets; print("DEBUG=True"); print("SECRET_KEY=" + secrets.token_urlsafe(50))' > $@

run: $(VENV)/.requirements .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@echo "Serving on http://127.0.0.1:$(PORT)/  (admin: /admin/, API docs: /api/docs/)"
	PORT=$(PORT) PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py config.wsgi

test: $(VENV)/.requirements-dev
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(METRICS_DIR) staticfiles .pytest_cache
