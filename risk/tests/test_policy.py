"""The risk policy: the built-in defaults, operators' defaults and per-user
overrides set in the console, a user tightening their own over HTTP, every
change a new version audited with before and after."""

from decimal import Decimal as D

import pytest
from django.test import Client

from audit.models import AuditEntry
from risk import selectors, services
from risk.models import RiskPolicy
from risk.policy import BUILT_IN, NAMES
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

URL = "/api/v1/risk/policy/"
DEFAULTS_JSON = {"risk_per_trade_percent": "1.00", "require_stop_loss": True, "max_open_positions": 5,
                 "max_daily_loss_percent": "5.00", "max_drawdown_percent": "20.00", "min_equity": "100.00",
                 "cooldown_after_losses": 3, "cooldown_minutes": 60, "version": 0}


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(**values) -> dict:
    """An admin policy form: every setting empty unless given."""
    return {name: "" for name in NAMES} | {name: str(value).lower() if isinstance(value, bool) else str(value)
                                          for name, value in values.items()}


def defaults_form(**changes) -> dict:
    values = {**BUILT_IN.settings(), **changes}
    return form(**{name: "true" if value is True else "false" if value is False else value
                   for name, value in values.items()})


def patch(user, body):
    return bearer(user).patch(URL, body, format="json")


def test_the_built_in_defaults_are_in_force_until_operators_change_them(alice):
    response = bearer(alice).get(URL)
    assert response.status_code == 200, response.content
    assert response.json() == DEFAULTS_JSON
    assert not RiskPolicy.objects.exists()


def test_operators_set_defaults_and_overrides_in_the_console_and_the_override_wins(alice, bob, superuser):
    staff = console(superuser)
    response = staff.post("/admin/risk/riskpolicy/add/", defaults_form(max_open_positions=8, min_equity="250"))
    assert response.status_code == 302, response.content.decode()
    response = staff.post("/admin/risk/riskpolicy/add/", form(user=alice.pk, risk_per_trade_percent="0.5",
                                                             max_drawdown_percent="10"))
    assert response.status_code == 302, response.content.decode()

    assert patch(bob, {}).json() == {**DEFAULTS_JSON, "max_open_positions": 8, "min_equity": "250.00",
                                     "version": 1}
    assert bearer(alice).get(URL).json() == {**DEFAULTS_JSON, "max_open_positions": 8, "min_equity": "250.00",
                                             "risk_per_trade_percent": "0.50", "max_drawdown_percent": "10.00",
                                             "version": 2}
    entries = list(AuditEntry.objects.filter(action="risk.policy_change").order_by("seq"))
    assert [(entry.actor, entry.meta["scope"], entry.meta["user"], entry.meta["version"]) for entry in entries] == [
        ("root", "defaults", None, 1), ("root", "override", "alice", 2)]
    assert entries[0].meta["before"] is None
    assert entries[0].meta["after"]["max_open_positions"] == 8
    assert entries[1].meta["after"] == {**dict.fromkeys(NAMES), "risk_per_trade_percent": "0.5",
                                        "max_drawdown_percent": "10"}


def test_a_console_change_supersedes_the_version_with_a_new_one(alice, superuser):
    staff = console(superuser)
    first = services.set_policy(user=None, values=BUILT_IN.settings(), changed_by=superuser)
    response = staff.post(f"/admin/risk/riskpolicy/{first.pk}/change/", defaults_form(cooldown_minutes=120))
    assert response.status_code == 302, response.content.decode()

    first.refresh_from_db()
    second = RiskPolicy.objects.get(superseded_at__isnull=True)
    assert (first.version, second.version, second.cooldown_minutes, second.changed_by) == (1, 2, 120, superuser)
    assert first.superseded_at == second.created_at and first.cooldown_minutes == 60
    entry = AuditEntry.objects.filter(action="risk.policy_change").first()
    assert (entry.meta["before"]["cooldown_minutes"], entry.meta["after"]["cooldown_minutes"]) == (60, 120)
    assert entry.meta["previous_version"] == 1
    # History stays as it was: a superseded version cannot be changed.
    assert staff.post(f"/admin/risk/riskpolicy/{first.pk}/change/", defaults_form()).status_code == 403
    assert staff.post(f"/admin/risk/riskpolicy/{first.pk}/delete/").status_code == 403
    assert selectors.effective_policy(user_id=alice.pk).cooldown_minutes == 120


def test_the_console_names_a_setting_out_of_bounds_and_a_defaults_setting_left_empty(superuser):
    staff = console(superuser)
    body = defaults_form(risk_per_trade_percent="7") | {"cooldown_minutes": ""}
    response = staff.post("/admin/risk/riskpolicy/add/", body)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["risk_per_trade_percent"] == ["Must be from 0.1 to 5."]
    assert errors["cooldown_minutes"] == ["The defaults need every setting."]
    assert not RiskPolicy.objects.exists()


def test_saving_the_same_settings_makes_no_new_version(superuser):
    first = services.set_policy(user=None, values=BUILT_IN.settings(), changed_by=superuser)
    assert services.set_policy(user=None, values=BUILT_IN.settings(), changed_by=superuser) == first
    assert RiskPolicy.objects.count() == 1
    assert AuditEntry.objects.filter(action="risk.policy_change").count() == 1


def test_a_user_tightens_their_own_policy(alice):
    response = patch(alice, {"risk_per_trade_percent": "0.5", "max_open_positions": 2, "min_equity": "1500",
                             "max_daily_loss_percent": "2.5", "cooldown_minutes": 240})
    assert response.status_code == 200, response.content
    assert response.json() == {**DEFAULTS_JSON, "risk_per_trade_percent": "0.50", "max_open_positions": 2,
                               "min_equity": "1500.00", "max_daily_loss_percent": "2.50", "cooldown_minutes": 240,
                               "version": 1}
    override = RiskPolicy.objects.get(user=alice)
    assert (override.changed_by, override.max_drawdown_percent, override.require_stop_loss) == (alice, None, None)
    entry = AuditEntry.objects.get(action="risk.policy_change")
    assert (entry.actor, entry.meta["before"], entry.meta["after"]["max_open_positions"]) == (
        "alice", dict.fromkeys(NAMES), 2)

    # Again, tighter still: the override keeps what it had and the earlier version is history.
    assert patch(alice, {"max_open_positions": 1}).json()["max_open_positions"] == 1
    current = RiskPolicy.objects.get(user=alice, superseded_at__isnull=True)
    assert (current.version, current.risk_per_trade_percent, current.max_open_positions) == (2, D("0.50"), 1)
    entry = AuditEntry.objects.filter(action="risk.policy_change").first()
    assert (entry.meta["before"]["max_open_positions"], entry.meta["after"]["max_open_positions"]) == (2, 1)


@pytest.mark.parametrize(("body", "fields"), [
    ({"risk_per_trade_percent": "1.5"}, ["risk_per_trade_percent"]),
    ({"max_open_positions": 6}, ["max_open_positions"]),
    ({"max_daily_loss_percent": "6"}, ["max_daily_loss_percent"]),
    ({"max_drawdown_percent": "25"}, ["max_drawdown_percent"]),
    ({"min_equity": "99.99"}, ["min_equity"]),
    ({"cooldown_after_losses": 4}, ["cooldown_after_losses"]),
    ({"cooldown_minutes": 59}, ["cooldown_minutes"]),
    ({"require_stop_loss": False}, ["require_stop_loss"]),
    # every looser setting is named, the tighter ones with them change nothing
    ({"risk_per_trade_percent": "2", "max_open_positions": 10, "cooldown_minutes": 120},
     ["max_open_positions", "risk_per_trade_percent"]),
])
def test_loosening_is_422_naming_each_setting_and_changes_nothing(alice, body, fields):
    response = patch(alice, body)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert sorted(response.json()["errors"]) == fields
    assert "only tighten" in response.json()["errors"][fields[0]][0]
    assert not RiskPolicy.objects.exists()
    assert not AuditEntry.objects.filter(action="risk.policy_change").exists()


def test_tightening_is_measured_against_the_value_in_force(alice, superuser):
    # Staff let alice trade without a stop loss and risk 2 %: she may go back to 1.5 % and a required stop.
    services.set_policy(user=alice, values={**dict.fromkeys(NAMES), "require_stop_loss": False,
                                            "risk_per_trade_percent": D("2")}, changed_by=superuser)
    assert patch(alice, {"risk_per_trade_percent": "2.5"}).status_code == 422
    response = patch(alice, {"risk_per_trade_percent": "1.5", "require_stop_loss": True})
    assert response.status_code == 200, response.content
    assert (response.json()["risk_per_trade_percent"], response.json()["require_stop_loss"]) == ("1.50", True)
    assert patch(alice, {"require_stop_loss": False}).status_code == 422


@pytest.mark.parametrize(("body", "field"), [
    ({"risk_per_trade_percent": "0.05"}, "risk_per_trade_percent"),  # tighter, but below the bounds
    ({"max_open_positions": 0}, "max_open_positions"),
    ({"max_daily_loss_percent": "0"}, "max_daily_loss_percent"),
    ({"cooldown_minutes": 100000}, "cooldown_minutes"),
    ({"risk_per_trade_percent": 0.5}, "risk_per_trade_percent"),  # a JSON float
    ({"risk_per_trade_percent": "0.555"}, "risk_per_trade_percent"),  # two decimal places at most
    ({"max_open_positions": "2.0"}, "max_open_positions"),
    ({"version": 7}, "version"),  # not a setting
    ({"user": "bob"}, "user"),
])
def test_a_bad_setting_is_422_naming_it(alice, body, field):
    response = patch(alice, body)
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == [field]
    assert not RiskPolicy.objects.exists()


def test_another_users_policy_is_out_of_reach(alice, bob):
    assert patch(alice, {"max_open_positions": 1}).status_code == 200
    assert bearer(bob).get(URL).json() == DEFAULTS_JSON
    assert bearer(alice).patch(f"{URL}?user={bob.pk}", {"max_open_positions": 2}, format="json").status_code == 422
    assert selectors.effective_policy(user_id=bob.pk) == BUILT_IN
    assert not RiskPolicy.objects.filter(user=bob).exists()


def test_a_patch_that_changes_nothing_makes_no_version(alice):
    assert patch(alice, {"max_open_positions": 3}).json()["version"] == 1
    assert patch(alice, {"max_open_positions": 3}).json()["version"] == 1
    assert patch(alice, {}).json()["version"] == 1
    assert RiskPolicy.objects.count() == 1


def test_the_policy_needs_a_login(anon):
    assert anon.get(URL).status_code == 401
    assert anon.patch(URL, {"max_open_positions": 1}, format="json").status_code == 401


def test_a_patch_with_the_value_already_in_force_makes_no_version_and_pins_nothing(alice, superuser):
    # docs/api.md#the-policy: "a PATCH that changes nothing makes no version". 5 is the defaults' value.
    from risk import selectors, services
    from risk.models import RiskPolicy
    from risk.policy import BUILT_IN
    from tests.fixtures import bearer

    response = bearer(alice).patch("/api/v1/risk/policy/", {"max_open_positions": 5}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 0
    assert not RiskPolicy.objects.filter(user=alice).exists()
    # Operators then tighten everyone's limit: alice, who never asked for more, gets it too.
    services.set_policy(user=None, values={**BUILT_IN.settings(), "max_open_positions": 3}, changed_by=superuser)
    assert selectors.effective_policy(user_id=alice.pk).max_open_positions == 3
