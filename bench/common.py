"""What the benchmark scripts share: the environment they run Django in and
a throwaway PostgreSQL database. The scripts run as `python bench/<name>.py`,
so this folder is on sys.path and `import common` finds this module."""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Production mode (DEBUG would keep every query in memory and skew timings),
# no .env, fixed bench-only keys.
PRODUCTION_ENV = {
    "ENV_FILE": "/dev/null", "DEBUG": "False", "SECURE_SSL_REDIRECT": "False",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1mZXJuZXQta2V5LTAxMjM0NTY3ODk=",
}


def configure_in_process():
    """For a benchmark that drives the app inside its own process (Django's
    test client): production settings, no log line per request, the host the
    test client sends, no throttle tripping over the repeats, and no
    multiprocess metrics directory (that is gunicorn's). Call it before
    anything imports Django; values already in the environment win."""
    sys.path.insert(0, str(BASE_DIR))
    for name, value in {**PRODUCTION_ENV, "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver",
                        "THROTTLE_USER": "1000000/min"}.items():
        os.environ.setdefault(name, value)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def recreate_database(url: str) -> None:
    """Drops the PostgreSQL database `url` names (its connections too) and
    creates it empty: point it at a dedicated database, never a real one."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(url.rsplit("/", 1)[-1].split("?", 1)[0])
    with psycopg.connect(url[: url.rindex("/")] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
