"""One decision per signal, even when many arrive at once."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from approvals.models import Approval
from audit.models import AuditEntry

CONCURRENT = 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_decisions_give_one_201_and_nineteen_409(alice, make_signal, consent_v1):
    signal = make_signal(alice)
    token = str(AccessToken.for_user(alice))
    start = threading.Barrier(CONCURRENT)
    answers, lock = [], threading.Lock()

    def post(index):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            decision = "approved" if index % 2 else "rejected"
            start.wait(timeout=30)
            response = client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": decision,
                                                          "consent_version": "1"}, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()  # each thread had its own real connection

    threads = [threading.Thread(target=post, args=(i,)) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (CONCURRENT - 1)
    assert {body["type"].rsplit("/", 1)[-1] for status, body in answers if status == 409} == {"already-decided"}
    winner = next(body for status, body in answers if status == 201)
    approval = Approval.objects.get(signal=signal)
    assert str(approval.pk) == winner["id"]
    signal.refresh_from_db()
    assert signal.status == approval.decision == winner["decision"]
    assert AuditEntry.objects.filter(action="approval.create").count() == 1
