import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection


def pytest_configure(config):
    # Production storage needs `collectstatic` and its manifest; tests (and
    # the browser tests' live server) serve the app's static files directly.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # PBKDF2's deliberate slowness would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached charts must not leak from one test to the next."""
    cache.clear()
    yield


def pytest_collection_modifyitems(config, items):
    """Tests of races, locks and triggers that only PostgreSQL shows run in the
    PostgreSQL pass of CI (`DATABASE_URL=postgres://...`)."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
