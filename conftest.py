import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from audit import triggers
from core import request_context, throttling
from core.worker_cache import WorkerCache

# Users and API clients every app's tests share.
pytest_plugins = ["tests.fixtures"]


def pytest_configure(config):
    # Production storage needs `collectstatic` and its manifest; tests (and
    # the browser tests' live server) serve the app's static files directly.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # PBKDF2's deliberate slowness would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests trade at the wall clock's time, and FX markets close every weekend:
    # markets are open around the clock unless a test sets FX hours
    # (risk/tests/test_market_hours.py).
    settings.MARKET_HOURS_DEFAULT = "always"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and slices, cached charts and what workers keep
    (whitelist, credentials, users) must not leak from one test to the next."""
    cache.clear()
    throttling.forget_slices()
    WorkerCache.clear_all()
    yield


@pytest.fixture(scope="session", autouse=True)
def _demo_bridge_credentials_in_tmp(tmp_path_factory):
    """load_demo writes the demo bridge's secret to a file for `make run`:
    in the test run's own directory, never into the checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("demo.execution.CREDENTIALS_FILE", tmp_path_factory.mktemp("paper_bridge") / "demo.env")
        yield


@pytest.fixture(autouse=True)
def _fresh_request_context():
    """A management command run in one test sets its actor in the context of
    the test process; it must not become the actor of the next test's entries."""
    token = request_context.begin()
    yield
    request_context.end(token)


@pytest.fixture(scope="session", autouse=True)
def _audit_table_flushable():
    """The database refuses DELETE and TRUNCATE on the audit table, yet Django
    empties every table after each transactional test: lift the triggers for
    that flush only, inside its transaction, and put them straight back."""
    ops_class = type(connection.ops)
    flush = ops_class.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with transaction.atomic(using=self.connection.alias):
            triggers.remove(self.connection)
            flush(self, sql_list)
            triggers.install(self.connection)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ops_class, "execute_sql_flush", execute_sql_flush)
        yield


def pytest_collection_modifyitems(config, items):
    """Tests of races, locks and triggers that only PostgreSQL shows run in the
    PostgreSQL pass of CI (`DATABASE_URL=postgres://...`)."""
    for item in items:
        # A transactional test empties every table when it ends, the rows the
        # migrations ship too (instruments, consent v1): each one puts them back
        # first (serialized rollback), so no test depends on which ran before it.
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction"):
            item.add_marker(pytest.mark.django_db(*marker.args, **{**marker.kwargs, "serialized_rollback": True}),
                            append=False)
        elif marker is None and {"transactional_db", "live_server"} & set(item.fixturenames):
            item.fixturenames.append("django_db_serialized_rollback")
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
