# The two commands a newcomer needs: `make run` and `make test`.
# Both honour DATABASE_URL and REDIS_URL from the environment (or .env).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The ASGI process serving the event stream (Server-Sent Events) listens beside gunicorn.
STREAM_PORT ?= $(shell echo $$(( $(PORT) + 1 )))
METRICS_DIR := $(CURDIR)/.prometheus
# The demo trader's bridge (key id, secret, starting balance) for the paper
# bridge `make run` starts; written by load_demo, git-ignored, mode 600.
DEMO_BRIDGE_ENV := .paper_bridge/demo.env

# Settings for the test run: production mode (DEBUG off) minus the HTTPS
# redirect the test client cannot follow. Fixed keys: tests only.
TEST_ENV := env -u PROMETHEUS_MULTIPROC_DIR DEBUG=False SECURE_SSL_REDIRECT=False \
	SECRET_KEY=test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	FIELD_ENCRYPTION_KEYS=dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OSE=

# The console's browser tests (pytest mark `browser`) drive Debian's headless
# Chromium at this path. `make test` installs it when missing; BROWSER_TESTS=0
# runs the suite without those tests, saying so.
CHROMIUM := /usr/bin/chromium
BROWSER_TESTS ?= 1
ifeq ($(BROWSER_TESTS),0)
TEST_BROWSER :=
TEST_MARKS := -m "not browser"
else
TEST_BROWSER := $(CHROMIUM)
TEST_MARKS :=
endif

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

# A local .env with a fresh random key, readable only by you (like the demo
# bridge's secret); never committed, never overwritten.
.env: | $(VENV)/bin/python
	umask 077 && $(PY) -c 'import secrets; print("DEBUG=True"); print("SECRET_KEY=" + secrets.token_urlsafe(50))' > $@

# Every process the platform needs: gunicorn, the task consumer (run_huey: the
# expiry sweeps and the webhook sender, two workers so that one sweep never
# waits for a slow receiver), the ASGI process of the event stream (uvicorn, on
# STREAM_PORT) and the demo trader's paper bridge (with a 10-point spread and
# 3.50 commission per lot and deal, so trades show costs). All but the bridge
# write their metrics to one directory, which /metrics sums. Ctrl-C reaches all
# four; whenever the recipe ends (Ctrl-C, a SIGTERM that make passes on, or
# gunicorn stopped or failed to start: its exit status is kept) the others are
# stopped and waited for. gunicorn runs in the background too, the shell waiting
# for it, because a shell runs its traps only once its foreground command is
# done: a SIGTERM would otherwise wait on gunicorn, which nothing stops. The
# bridge's secret goes from load_demo's file into the bridge's environment only,
# never onto a command line or into a log.
run: $(VENV)/.requirements .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@echo "Serving on http://127.0.0.1:$(PORT)/  (admin: /admin/, API docs: /api/docs/)"
	@echo "and the event stream on http://127.0.0.1:$(STREAM_PORT)/api/v1/events/stream/ (uvicorn),"
	@echo "with the task consumer (run_huey) and the demo trader's paper bridge beside it; Ctrl-C stops all four."
	@PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(PY) manage.py run_huey --workers 2 & huey=$$!; \
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(VENV)/bin/uvicorn config.asgi:application --host 127.0.0.1 \
		--port $(STREAM_PORT) --workers 1 --no-access-log --timeout-graceful-shutdown 5 & stream=$$!; \
	(set -a && . ./$(DEMO_BRIDGE_ENV) && exec $(PY) manage.py paper_bridge --base-url http://127.0.0.1:$(PORT) \
		--key-id "$$PAPER_BRIDGE_KEY_ID" --balance "$$PAPER_BRIDGE_BALANCE" --spread 10 --commission-per-lot 3.5) & \
	bridge=$$!; \
	PORT=$(PORT) PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py config.wsgi & \
	web=$$!; \
	trap 'kill $$huey $$stream $$bridge $$web 2>/dev/null; wait' EXIT; trap 'exit 130' INT TERM; \
	wait $$web

test: $(VENV)/.requirements-dev $(TEST_BROWSER)
ifeq ($(BROWSER_TESTS),0)
	@echo "BROWSER_TESTS=0: the console's browser tests (approvals/tests/test_console_browser.py) are not run."
endif
	$(VENV)/bin/lint-imports --no-cache --no-logo  # the apps' layering (.importlinter)
	$(TEST_ENV) $(PY) -m pytest $(TEST_MARKS) $(PYTEST_ARGS)

# Installed as root with apt-get (Debian, Ubuntu); anywhere else make test
# stops and says what to do rather than skip the browser tests silently.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium (Debian package) for the console's browser tests..."; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; \
	else \
		echo "make test: the console's browser tests need Chromium at $(CHROMIUM), which is missing," >&2; \
		echo "and make test can install it only as root with apt-get. Install it yourself" >&2; \
		echo "(Debian/Ubuntu: sudo apt-get install chromium), or run the suite without" >&2; \
		echo "those tests: make test BROWSER_TESTS=0" >&2; \
		exit 1; \
	fi
	@test -x $(CHROMIUM) || { echo "make test: the chromium package did not provide $(CHROMIUM)" >&2; exit 1; }
	@echo "Chromium installed: $$($(CHROMIUM) --version 2>/dev/null)"

clean:
	rm -rf $(VENV) $(METRICS_DIR) staticfiles .pytest_cache
