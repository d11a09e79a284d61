"""approvals_total{decision} and approval_decision_seconds count
committed decisions only."""

import pytest
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_committed_decision_is_counted_with_its_delay(alice, client_for, make_signal,
                                                        django_capture_on_commit_callbacks):
    signal = make_signal(alice, created_ago=42)
    before = {
        "rejected": sample("approvals_total", decision="rejected"),
        "approved": sample("approvals_total", decision="approved"),
        "count": sample("approval_decision_seconds_count"),
        "sum": sample("approval_decision_seconds_sum"),
        "le_30": sample("approval_decision_seconds_bucket", le="30.0"),
        "le_60": sample("approval_decision_seconds_bucket", le="60.0"),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "rejected",
                                                                 "consent_version": "1"}, format="json")
    assert response.status_code == 201
    assert sample("approvals_total", decision="rejected") == before["rejected"] + 1
    assert sample("approvals_total", decision="approved") == before["approved"]
    assert sample("approval_decision_seconds_count") == before["count"] + 1
    assert 42 <= sample("approval_decision_seconds_sum") - before["sum"] < 60
    assert sample("approval_decision_seconds_bucket", le="30.0") == before["le_30"]
    assert sample("approval_decision_seconds_bucket", le="60.0") == before["le_60"] + 1


def test_a_refused_decision_is_not_counted(alice, client_for, make_signal, django_capture_on_commit_callbacks):
    signal = make_signal(alice)
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                           "consent_version": "1"}, format="json")
    before = sample("approvals_total", decision="approved"), sample("approval_decision_seconds_count")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                                  "consent_version": "1"}, format="json").status_code == 409
    assert callbacks == []
    assert (sample("approvals_total", decision="approved"), sample("approval_decision_seconds_count")) == before
