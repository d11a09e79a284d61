"""The signal resource's `approval` field, filled by a decision."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

# Decided through the approvals API, on signals made as in the approvals tests.
from approvals.tests.conftest import make_signal  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_approval_is_null_until_decided_then_summarises_the_decision(alice, client_for, make_signal):
    client, signal = client_for(alice), make_signal(alice)
    url = f"/api/v1/signals/{signal.pk}/"
    assert client.get(url).json()["approval"] is None
    decided = client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "rejected",
                                                 "consent_version": "1"}, format="json").json()
    body = client.get(url).json()
    assert body["status"] == "rejected"
    assert body["approval"] == {"id": decided["id"], "decision": "rejected", "created_at": decided["created_at"]}


def test_the_feed_costs_the_same_queries_with_decided_signals(alice, client_for, make_signal, settings):
    settings.WORKER_CACHE_SECONDS = 0  # every request reads its user: the same count each time
    client = client_for(alice)
    for _ in range(2):
        make_signal(alice)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/signals/").status_code == 200
        return len(captured)

    before = queries()
    for index in range(10):
        signal = make_signal(alice)
        if index % 2:
            client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                               "consent_version": "1"}, format="json")
    assert queries() == before
    rows = client.get("/api/v1/signals/").json()["results"]
    assert sum(row["approval"] is not None for row in rows) == 5
