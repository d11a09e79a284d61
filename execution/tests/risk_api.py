"""The risk scenarios' moves over HTTP: the owner approves with a JWT, the
bridge reports its specs, fills and account snapshots with signed calls."""

from datetime import UTC, datetime

from execution.tests.bridge_api import account_json, fill_json
from tests.fixtures import bearer

# A Tuesday morning: FX markets are open.
TUESDAY = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)
EURUSD_SPECS = {"instrument": "EURUSD", "tick_size": "0.00001", "tick_value": "1", "volume_min": "0.01",
                "volume_step": "0.01", "volume_max": "100"}
XAUUSD_SPECS = {"instrument": "XAUUSD", "tick_size": "0.01", "tick_value": "1", "volume_min": "0.01",
                "volume_step": "0.01", "volume_max": "50"}


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def send_specs(signed):
    ok(signed.post("symbols", {"symbols": [EURUSD_SPECS, XAUUSD_SPECS]}))


def report(signed, equity, *, time=None, positions=()):
    """An account snapshot the bridge sends (balance 10,000.00)."""
    return ok(signed.post("account", account_json(equity=str(equity), time=time, positions=positions)))


def approve(user, signal) -> dict:
    """The owner approves over HTTP; returns the order it made, as the API shows it."""
    approval = ok(bearer(user).post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                                           "consent_version": "1"}, format="json"), 201)
    orders = ok(bearer(user).get("/api/v1/orders/"))["results"]
    return next(order for order in orders if order["approval"] == approval["id"])


def losing_closes(signed, count, *, prefix="loss"):
    """`count` positions opened and closed at a loss of 10.00 each, one after the other."""
    for n in range(count):
        ticket = f"{prefix}-{n}"
        ok(signed.post("fills", {"fills": [
            fill_json(f"{ticket}-in", position_ticket=ticket),
            fill_json(f"{ticket}-out", entry="out", side="sell", position_ticket=ticket, price="1.08350",
                      profit="-10.00"),
        ]}))


def risk(user) -> dict:
    return ok(bearer(user).get("/api/v1/risk/"))


def tighten(user, **settings) -> dict:
    return ok(bearer(user).patch("/api/v1/risk/policy/", settings, format="json"))
