"""The deliveries' console list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery import services
from delivery.models import Delivery, Event

pytestmark = pytest.mark.django_db

DELIVERIES = "/admin/delivery/delivery/"


def _deliveries(make_user, numbers):
    for i in numbers:
        owner = make_user(f"hook-owner-{i}")
        endpoint, _ = services.create_endpoint(owner=owner, url=f"https://hooks{i}.example.com/in",
                                               event_types=["signal.created"])
        event = Event.objects.create(user=owner, type="signal.created", payload={})
        Delivery.objects.create(event=event, endpoint=endpoint)


def test_delivery_list_costs_the_same_queries_however_many_rows(client, superuser, make_user,
                                                                django_assert_max_num_queries):
    """Each row's endpoint column prints the endpoint as `owner → origin`:
    list_select_related names the endpoint but not its owner, read row by row."""
    client.force_login(superuser)
    _deliveries(make_user, range(2))
    with CaptureQueriesContext(connection) as few:
        assert client.get(DELIVERIES).status_code == 200
    _deliveries(make_user, range(2, 22))
    with django_assert_max_num_queries(len(few)):
        assert client.get(DELIVERIES).status_code == 200
