"""A bridge retrying its fills calls while the first attempts are still
running, over HTTP with real concurrent connections (PostgreSQL)."""

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from execution.models import Fill, Position
from execution.tests.bridge_api import BridgeClient, bridge_and_secret, fill_json  # noqa: F401 (a fixture)
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 3


def test_concurrent_overlapping_fills_calls_leave_the_positions_exact(bridge_and_secret, shipped_instruments):
    start = timezone.now() - timedelta(hours=1)
    for round_ in range(ROUNDS):
        ticket = f"round-{round_}"

        def fills(kind, numbers, *, offset=0):
            return [fill_json(f"{ticket}-{kind}{n}", entry="in" if kind == "i" else "out",
                              side="buy" if kind == "i" else "sell", volume="0.10", position_ticket=ticket,
                              price="1.08450" if kind == "i" else "1.08550", profit="0" if kind == "i" else "1.00",
                              time=start + timedelta(seconds=offset + n)) for n in numbers]

        opening = fills("i", range(10))  # 1.00 lot
        closes = fills("o", range(6), offset=100)  # 0.60 lot in all
        # Each call consistent on its own (never closing more than it opened), overlapping the others.
        calls = [[*opening, *closes[:4]], [*opening, *closes[2:]], [*opening, *closes], [*opening, *closes[:4]]]
        bodies = [json.dumps({"fills": call}).encode() for call in calls]

        responses = run_together([lambda body=body: BridgeClient(*bridge_and_secret).post("fills", raw=body)
                                  for body in bodies])

        assert [response.status_code for response in responses] == [200] * len(calls)
        answers = [response.json() for response in responses]
        assert sum(answer["inserted"] for answer in answers) == 16
        assert sum(answer["duplicates"] for answer in answers) == sum(map(len, calls)) - 16
        assert Fill.objects.filter(position_ticket=ticket).count() == 16
        position = Position.objects.get(ticket=ticket)
        assert (position.status, position.volume, position.opened_volume) == ("open", D("0.40"), D("1.00"))
        assert (position.open_price, position.close_price, position.realized_pnl) == (
            D("1.08450"), D("1.08550"), D("6.00"))
