"""Health, readiness, metrics, schema; and production start-up."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

pytestmark = pytest.mark.django_db

BASE_DIR = Path(django_settings.BASE_DIR)
DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6390/0",  # nothing listens here
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True},
    }
}


def run_python(code, **env_overrides):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "config.settings"}, **env_overrides)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_with_redis_gone_readyz_names_the_cache_and_the_api_still_serves(client, api, tokens):
    with override_settings(CACHES=DEAD_REDIS):
        ready = client.get("/readyz")
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        me = api.get("/api/v1/me/")
        login = api.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
    assert ready.status_code == 503
    assert ready["Content-Type"] == "application/problem+json"
    assert ready.json()["failed"] == ["cache"]
    assert me.status_code == 200
    assert login.status_code == 401


def test_with_the_database_gone_readyz_names_the_database():
    result = run_python(
        """
        import django; django.setup()
        from django.test import Client
        response = Client(HTTP_HOST="localhost").get("/readyz")
        print(response.status_code, response.json()["failed"])
        """,
        DEBUG="True",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "503 ['database']"


def test_metrics_only_for_allowed_addresses(client):
    assert client.get("/metrics").status_code == 200
    hidden = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert hidden.status_code == 404
    assert hidden["Content-Type"] == "application/problem+json"


def test_spoofed_forwarded_for_does_not_open_metrics(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 404


def test_metrics_answer_only_loopback_by_default(monkeypatch):
    # Private ranges are not ours alone: in a cloud network any host, container
    # or tenant holds such an address.
    monkeypatch.delenv("METRICS_ALLOWED_CIDRS", raising=False)
    result = run_python(
        """
        import django; django.setup()
        from django.test import Client
        for address in ("127.0.0.1", "::1", "10.1.2.3", "172.16.5.4", "192.168.1.10", "fd00::1"):
            print(address, Client(HTTP_HOST="localhost").get("/metrics", REMOTE_ADDR=address).status_code)
        """,
        DEBUG="True",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["127.0.0.1", "200", "::1", "200", "10.1.2.3", "404", "172.16.5.4", "404",
                                     "192.168.1.10", "404", "fd00::1", "404"]


@override_settings(METRICS_ALLOWED_CIDRS=["127.0.0.0/8", "10.20.0.0/16"])
def test_metrics_answer_the_addresses_an_operator_lists(client):
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.21.3.4").status_code == 404


def test_metrics_sum_counters_of_several_worker_processes(client, tmp_path, monkeypatch):
    for amount in (3, 4):
        worker = run_python(
            f"""
            from prometheus_client import Counter
            Counter("worker_jobs", "jobs done", ["kind"]).labels("demo").inc({amount})
            """,
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        )
        assert worker.returncode == 0, worker.stderr
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body = client.get("/metrics").content.decode()
    assert 'worker_jobs_total{kind="demo"} 7.0' in body


def test_schema_and_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/token/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_production_mode_refuses_to_start_without_secret_key():
    result = run_python("import django; django.setup()", DEBUG="False", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" in result.stderr  # it is an ImproperlyConfigured at import, not a silent default


def test_check_deploy_is_clean_in_production_mode():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "SECURE_SSL_REDIRECT"},
             "ENV_FILE": "/dev/null", "DEBUG": "False",
             "SECRET_KEY": "pR0d-" + "k" * 20 + "-Zq8vX2mN7bL4tY9wE1rU6iO3pA5sD0fGhJ",
             "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OSE="},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_default_sqlite_database_uses_wal_and_a_busy_timeout(tmp_path):
    result = run_python(
        """
        import django; django.setup()
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            cursor.execute("PRAGMA busy_timeout")
            print(mode, cursor.fetchone()[0])
        """,
        DEBUG="True",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000"]


@pytest.mark.skipif(not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
                    reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
@pytest.mark.parametrize("setting, prepared", [("True", True), ("False", False)])
def test_repeated_statements_are_prepared_unless_turned_off(setting, prepared):
    from django.db import connection

    db = connection.settings_dict
    result = run_python(
        """
        import django; django.setup()
        from django.db import connection
        from signals.models import Instrument
        for _ in range(6):
            list(Instrument.objects.filter(symbol="EURUSD"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            print(cursor.fetchone()[0])
        """,
        DEBUG="True",
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        DATABASE_PREPARED_STATEMENTS=setting,
    )
    assert result.returncode == 0, result.stderr
    assert (int(result.stdout) > 0) is prepared
