"""The console's strategy leaderboard."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from execution.tests.trading import trade

pytestmark = pytest.mark.django_db

LEADERBOARD = "/admin/analytics/strategyleaderboard/"


def test_staff_without_the_view_permission_cannot_open_the_leaderboard(client, operator):
    """Every other console list answers 403 to staff not allowed to view it;
    the leaderboard's own changelist_view never asks."""
    client.force_login(operator)
    assert client.get("/admin/signals/signal/").status_code == 403
    assert client.get(LEADERBOARD).status_code == 403


def _strategies(make_user, numbers):
    for i in numbers:
        trade(make_user(f"quant-{i}"), name=f"desk-{i}", account_ref=f"7{i}")


def test_the_leaderboard_costs_the_same_queries_however_many_strategies(client, superuser, make_user,
                                                                        django_assert_max_num_queries):
    """Up to 500 strategies are listed, each read by its own summary queries."""
    client.force_login(superuser)
    _strategies(make_user, range(2))
    with CaptureQueriesContext(connection) as few:
        assert client.get(LEADERBOARD).status_code == 200
    _strategies(make_user, range(2, 8))
    with django_assert_max_num_queries(len(few)):
        response = client.get(LEADERBOARD)
    assert response.content.decode().count("quant-") == 8
