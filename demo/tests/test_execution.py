import io
import stat
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from demo import execution
from execution.models import AccountSnapshot, Bridge, Fill
from execution.tests.bridge_api import BridgeClient
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


def credentials() -> dict:
    lines = execution.CREDENTIALS_FILE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if not line.startswith("#"))


def test_load_demo_gives_the_trader_a_bridge_whose_secret_only_the_paper_bridge_reads():
    out = io.StringIO()
    call_command("load_demo", "--force", stdout=out)

    bridge = Bridge.objects.get(owner__username="trader", enabled=True)
    assert (bridge.account_ref, bridge.currency) == ("PAPER-DEMO-1", "USD")
    written = credentials()
    assert written["PAPER_BRIDGE_KEY_ID"] == bridge.key_id
    # Starts where the demo equity curve ends.
    last = get_user_model().objects.get(username="trader").equity_points.order_by("-time").first()
    assert Decimal(written["PAPER_BRIDGE_BALANCE"]) == last.balance
    assert stat.S_IMODE(execution.CREDENTIALS_FILE.stat().st_mode) == 0o600
    assert written["PAPER_BRIDGE_SECRET"] not in out.getvalue()
    assert bridge.key_id in out.getvalue()
    assert BridgeClient(bridge, written["PAPER_BRIDGE_SECRET"]).post("poll", {}).status_code == 200


def test_load_demo_gives_the_account_a_history_its_performance_charts_draw():
    call_command("load_demo", "--force", stdout=io.StringIO())
    trader = get_user_model().objects.get(username="trader")
    client = bearer(trader)
    for kind in ("monthly", "drawdown"):
        answer = client.get(f"/api/v1/charts/{kind}/", {"window": "all"})
        assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    # Opened at the broker, not from signals: no initial risk, so no R multiples before the walk-through.
    assert client.get("/api/v1/charts/r-multiples/").status_code == 404

    # The account made what the equity curve says over those days, one closed position a day, and its
    # newest snapshot is where the curve, and the paper bridge's starting balance, are.
    # The curve's daily closes: on the hour (the snapshot load_demo records as the paper
    # bridge's first report is a point of the curve too, at whatever minute it runs).
    closes = [point.balance for point in trader.equity_points.filter(time__hour=execution.CLOSE_HOUR, time__minute=0)
              .order_by("-time")[:execution.HISTORY_DAYS]]
    # The snapshot the paper bridge would report on starting, recorded now, adds
    # today's (flat) return when the last close was on an earlier day.
    summary = client.get("/api/v1/analytics/summary/", {"window": "all"}).json()
    snapshot_days = {time.date() for time in AccountSnapshot.objects.filter(bridge__owner=trader)
                     .values_list("time", flat=True)}
    assert (summary["trades"], summary["days"]) == (execution.HISTORY_DAYS - 1, len(snapshot_days) - 1)
    assert Decimal(summary["net_profit"]) == closes[0] - closes[-1]
    newest = AccountSnapshot.objects.filter(bridge__owner=trader).order_by("-time").first()
    assert newest.equity == closes[0] == Decimal(credentials()["PAPER_BRIDGE_BALANCE"])


def test_load_demo_again_keeps_the_bridge_and_only_the_new_secret_works():
    call_command("load_demo", "--force", stdout=io.StringIO())
    first = credentials()
    execution.CREDENTIALS_FILE.chmod(0o644)
    fills = Fill.objects.count()

    call_command("load_demo", "--force", stdout=io.StringIO())
    second = credentials()
    bridge = Bridge.objects.get(owner__username="trader")
    assert Fill.objects.filter(bridge=bridge).count() == fills  # the history is made once
    assert second["PAPER_BRIDGE_KEY_ID"] == first["PAPER_BRIDGE_KEY_ID"] == bridge.key_id
    assert stat.S_IMODE(execution.CREDENTIALS_FILE.stat().st_mode) == 0o600
    assert BridgeClient(bridge, first["PAPER_BRIDGE_SECRET"]).post("poll", {}).status_code == 401
    assert BridgeClient(bridge, second["PAPER_BRIDGE_SECRET"]).post("poll", {}).status_code == 200
