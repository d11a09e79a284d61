"""Refresh-token rotation: one refresh token yields exactly one successor,
however many requests present it at once, in one process or across gunicorn
workers."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from tests.concurrency import run_together

REFRESH_URL = "/api/v1/auth/token/refresh/"
CONCURRENT = 8
BASE_DIR = Path(__file__).resolve().parents[2]


def refresh(refresh_token):
    return APIClient().post(REFRESH_URL, {"refresh": refresh_token}, format="json")


@pytest.mark.django_db
def test_a_session_lasts_while_refreshed_within_the_refresh_lifetime(alice, settings, time_machine):
    # A sliding lifetime (docs/security.md): each successor lives the lifetime again.
    start = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    time_machine.move_to(start, tick=False)
    token = str(RefreshToken.for_user(alice))
    for day in (6, 12, 18):  # within 7 days of the last refresh each time
        time_machine.move_to(start + timedelta(days=day), tick=False)
        token = refresh(token).json()["refresh"]
    time_machine.move_to(start + timedelta(days=18 + 7, seconds=1), tick=False)  # left unrefreshed for 7 days
    assert refresh(token).status_code == 401


@pytest.mark.django_db
def test_each_refresh_token_has_one_successor_in_turn(alice):
    first = str(RefreshToken.for_user(alice))
    second = refresh(first).json()["refresh"]
    assert refresh(first).status_code == 401
    third = refresh(second)
    assert third.status_code == 200
    assert len({first, second, third.json()["refresh"]}) == 3
    assert refresh(second).status_code == 401


@pytest.mark.django_db
def test_a_refresh_token_never_written_down_still_rotates_once(alice):
    # A token issued before simplejwt's token list existed has no row in it.
    token = RefreshToken.for_user(alice)
    OutstandingToken.objects.filter(jti=token["jti"]).delete()
    assert refresh(str(token)).status_code == 200
    assert refresh(str(token)).status_code == 401


def assert_one_successor(answers, original, post):
    """Exactly one 200; its successor works, the original does not."""
    assert sorted(status for status, _ in answers) == [200] + [401] * (len(answers) - 1)
    successor = next(body["refresh"] for status, body in answers if status == 200)
    assert post(successor)[0] == 200
    assert post(original)[0] == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_refreshes_of_one_token_give_one_successor(alice):
    original = str(RefreshToken.for_user(alice))

    def post(token):
        response = refresh(token)
        return response.status_code, response.json()

    answers = run_together([lambda: post(original)] * CONCURRENT)
    assert_one_successor(answers, original, post)
    assert {body["type"].rsplit("/", 1)[-1] for status, body in answers if status == 401} == {"not-authenticated"}
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(original, verify=False)["jti"]).count() == 1


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers_health(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def gunicorn_on_test_database(transactional_db):
    """gunicorn with three worker processes, with the production
    configuration, serving the test database. The app is loaded before the
    workers fork, so that all three take requests from the start."""
    port = free_port()
    db = connection.settings_dict
    env = {**os.environ, "ENV_FILE": "/dev/null", "ALLOWED_HOSTS": "127.0.0.1",
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py", "--workers", "3",
         "--threads", "1", "--preload", "--bind", f"127.0.0.1:{port}", "config.wsgi"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not answers_health(base + "/healthz"):
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_through_three_gunicorn_workers_give_one_successor(alice, gunicorn_on_test_database):
    url = gunicorn_on_test_database + REFRESH_URL

    def post(token):
        request = urllib.request.Request(url, json.dumps({"refresh": token}).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as refused:
            return refused.code, json.load(refused)

    for _ in range(3):  # a few rounds, so that requests meet in every pairing of workers
        original = str(RefreshToken.for_user(alice))
        answers = run_together([lambda: post(original)] * CONCURRENT)
        assert_one_successor(answers, original, post)
