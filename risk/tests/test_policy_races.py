"""Two changes of one policy at the same moment, over HTTP with real
concurrent connections (PostgreSQL): each is kept, or refused with a 409
that changed nothing; none is lost without a word."""

from decimal import Decimal as D

import pytest

from core.problems import Conflict
from risk.models import RiskPolicy
from tests.concurrency import run_together
from tests.fixtures import bearer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def tighten(user, body):
    return lambda: bearer(user).patch("/api/v1/risk/policy/", body, format="json")


def test_concurrent_changes_are_each_kept_or_refused_with_409(alice, bob):
    for round_ in range(ROUNDS):
        # Each round tighter than the last, so a refused change leaves a value of its own behind.
        minutes, equity = 100 + round_, D(1000 + round_)
        responses = run_together([tighten(alice, {"cooldown_minutes": minutes}),
                                  tighten(alice, {"min_equity": str(equity)}),
                                  tighten(bob, {"cooldown_minutes": minutes})])

        assert [response.status_code in (200, 409) for response in responses] == [True] * 3, [
            response.content for response in responses]
        assert any(response.status_code == 200 for response in responses[:2])
        current = RiskPolicy.objects.get(user=alice, superseded_at__isnull=True)
        assert (current.cooldown_minutes == minutes) is (responses[0].status_code == 200)
        assert (current.min_equity == equity) is (responses[1].status_code == 200)
        bobs = RiskPolicy.objects.filter(user=bob, superseded_at__isnull=True).first()
        assert (bobs is not None and bobs.cooldown_minutes == minutes) is (responses[2].status_code == 200)
    # Versions are numbered without a gap or a repeat, whoever made them.
    versions = list(RiskPolicy.objects.order_by("version").values_list("version", flat=True))
    assert versions == list(range(1, len(versions) + 1))


def test_a_change_committed_while_another_is_made_makes_that_one_a_409_not_a_lost_update(alice, monkeypatch):
    """A change that commits after another has read the override it builds
    on: the other, made from the older override, is refused, and the first
    is kept (it used to be overwritten by a version made from the settings
    it had replaced, while both were answered 200)."""
    from risk import services

    assert bearer(alice).patch("/api/v1/risk/policy/", {"cooldown_minutes": 100}, format="json").status_code == 200
    settings_of = RiskPolicy.settings

    def meanwhile(version):
        monkeypatch.setattr(RiskPolicy, "settings", settings_of)  # the change below reads them unhindered
        [response] = run_together([tighten(alice, {"cooldown_minutes": 120})])
        assert response.status_code == 200
        return settings_of(version)

    monkeypatch.setattr(RiskPolicy, "settings", meanwhile)
    with pytest.raises(Conflict):
        services.tighten_own_policy(user=alice, changes={"min_equity": D("1000")})
    current = RiskPolicy.objects.get(user=alice, superseded_at__isnull=True)
    assert (current.cooldown_minutes, current.min_equity) == (120, None)
