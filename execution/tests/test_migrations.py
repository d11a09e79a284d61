"""Migrations that change what stored rows mean: applied to a database
holding rows from before them."""

from datetime import timedelta

import pytest

from execution import services
from execution.tests.conftest import fill


@pytest.mark.django_db(transaction=True)
def test_closes_of_positions_already_flat_before_the_upgrade_are_spent_by_the_migration(
        bridge, user_close_executed):
    # A ticket closed by the user before 0005_command_spent_at was applied, which the broker opens again after
    # it: its close must not decide the new life's close reason (nor count as the drawdown guard's close).
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    position, t0 = user_close_executed
    services.record_fills(bridge=bridge, fills=[fill("a2", entry="out", side="sell", volume="0.28", price="1.08100",
                                                     profit="-98", time=t0 + timedelta(minutes=1))])
    # The database as it was before the upgrade, then the upgrade.
    executor = MigrationExecutor(connection)
    executor.migrate([("execution", "0004_symbol_signed_at")])
    executor = MigrationExecutor(connection)
    executor.migrate([("execution", "0005_command_spent_at")])

    services.record_fills(bridge=bridge, fills=[fill("a3", volume="0.10", price="1.08450",
                                                     time=t0 + timedelta(minutes=2))])
    services.record_fills(bridge=bridge, fills=[fill("a4", entry="out", side="sell", volume="0.10", price="1.08050",
                                                     profit="-40", time=t0 + timedelta(minutes=3))])
    position.refresh_from_db()
    assert (position.status, position.close_reason) == ("closed", "stop_loss")
