import io

import pytest
from django.core.management import call_command

from approvals import selectors
from approvals.models import Approval
from signals.models import Signal

pytestmark = pytest.mark.django_db


def test_load_demo_gives_the_console_decisions_and_pending_signals_and_is_idempotent():
    call_command("load_demo", "--force", stdout=io.StringIO())
    first = sorted(Approval.objects.values_list("signal_id", "decision"))
    assert {"approved", "rejected"} <= {decision for _, decision in first}
    pending = selectors.pending_signals(Signal.objects.all())
    assert pending.exists()
    for signal_id, decision in first:
        assert Signal.objects.get(pk=signal_id).status == decision

    call_command("load_demo", "--force", stdout=io.StringIO())
    assert sorted(Approval.objects.values_list("signal_id", "decision")) == first
    assert pending.exists()
