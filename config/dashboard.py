"""The operators' dashboard, on the console's index page
(templates/admin/index.html): what an operator checks at a glance, each
figure a link to the console list it counts, filtered to the very rows
counted.

The figures are read by the selectors of the apps that own their rows, in
a fixed number of queries however many rows there are. A figure that
cannot be read (a query fails) shows as unavailable, never as 0, and the
others still show. A figure of a list the operator may not view is left
out. Times are UTC, and say so.
"""

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.db import connection, transaction
from django.urls import reverse
from django.utils.http import urlencode

from approvals import selectors as approval_selectors
from approvals.models import Approval
from audit import chain_status
from audit import selectors as audit_selectors
from audit.models import AuditEntry
from core.display import utc_time
from execution import selectors as execution_selectors
from execution.models import Bridge, Order, ReconciliationItem
from risk.modes import Mode
from signals import selectors as signal_selectors
from signals.models import Signal

logger = logging.getLogger(__name__)

INGEST_DENIED = "signal.ingest_denied"
# The refusals' figure: the last hour, the audit list's filter choice of it.
REFUSALS_WITHIN, WRITTEN_WITHIN = timedelta(hours=1), "1h"


@dataclass(frozen=True)
class Figure:
    """`value`: a count, or a word for a state; None when it could not be
    read. `url`: the console list of what it counts."""

    key: str
    label: str
    value: int | str | None
    url: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    figures: list[Figure]


@dataclass(frozen=True)
class Dashboard:
    as_of: str
    sections: list[Section]


def _read(name: str, read: Callable[[], object]):
    """What `read` returns, or None when it fails: that figure shows as
    unavailable, the others do not depend on it."""
    try:
        # Inside a transaction (a test's), a failed query would abort it for
        # every figure after this one: a savepoint keeps the failure here.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return read()
    except Exception:
        logger.exception("the console's %s figure could not be read", name)
        return None


class _Links:
    """Links to the console lists an operator may view; None for the others."""

    def __init__(self, site: admin.AdminSite, request):
        self.site, self.request = site, request

    def may_view(self, model) -> bool:
        return (self.site.is_registered(model)
                and self.site.get_model_admin(model).has_view_or_change_permission(self.request))

    def __call__(self, model, **filters) -> str | None:
        if not self.may_view(model):
            return None
        url = reverse(f"{self.site.name}:{model._meta.app_label}_{model._meta.model_name}_changelist")
        return f"{url}?{urlencode(filters)}" if filters else url


def build(site: admin.AdminSite, request, *, now: datetime) -> Dashboard:
    link = _Links(site, request)
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = day + timedelta(days=1)
    # The "Today" choice of the lists' date filter, as Django writes it.
    today = {"created_at__gte": str(day), "created_at__lt": str(tomorrow)}
    sections = [
        Section(f"Trading today (since {utc_time(day)})",
                [*_signals(link, now), *_decisions(link, day, tomorrow, today), *_orders(link, day, tomorrow, today)]),
        Section("Accounts and bridges", _accounts(link, now)),
        Section("Reconciliation", _reconciliation(link)),
        Section("Ingestion and audit", [*_refusals(link, now), *_chain(link, now)]),
    ]
    return Dashboard(as_of=utc_time(now), sections=[section for section in sections if section.figures])


def _signals(link, now):
    if not link.may_view(Signal):
        return []
    pending = _read("pending signals", lambda: signal_selectors.count_pending(now=now))
    return [Figure("pending-signals", "Pending signals", pending, link(Signal, status=Signal.Status.PENDING),
                   "awaiting their owner's decision")]


def _decisions(link, day, tomorrow, today):
    if not link.may_view(Approval):
        return []
    made = _read("decisions", lambda: approval_selectors.decisions_made(since=day, until=tomorrow)) or {}
    note = f"{made['approved']} approved, {made['rejected']} rejected" if made else ""
    return [Figure("decisions-today", "Decisions today", made.get("total"), link(Approval, **today), note)]


def _orders(link, day, tomorrow, today):
    if not link.may_view(Order):
        return []
    made = _read("orders", lambda: execution_selectors.orders_created(since=day, until=tomorrow)) or {}
    return [Figure("orders-today", "Orders today", made.get("total"), link(Order, **today)),
            Figure("orders-denied-today", "Orders denied today", made.get("denied"),
                   link(Order, status=Order.Status.DENIED, **today), "by the risk checks")]


def _accounts(link, now):
    if not link.may_view(Bridge):
        return []
    counts = _read("accounts", lambda: execution_selectors.account_overview(now=now)) or {}
    stale_after = f"{settings.ACCOUNT_STALE_SECONDS} s"
    notes = {
        Mode.ACTIVE: ("Active accounts", "trading (or paused by their owners)"),
        Mode.REDUCING: ("Reducing", "the day's loss limit reached: no new opens until 00:00 UTC"),
        Mode.HALTED: ("Halted", "the drawdown limit reached: positions closed, until staff resume them"),
        execution_selectors.STALE: ("Stale", f"no account snapshot for over {stale_after}, or none yet: "
                                             f"new orders denied"),
    }
    silent_after = f"{execution_selectors.BRIDGE_SILENT_AFTER.total_seconds() / 60:g} min"
    return [*(Figure(f"accounts-{group}", label, counts.get(group), link(Bridge, account=group), note)
              for group, (label, note) in notes.items()),
            Figure("silent-bridges", f"Bridges silent for over {silent_after}", counts.get("silent"),
                   link(Bridge, contact="silent"), "neither polled nor sent a snapshot")]


def _reconciliation(link):
    if not link.may_view(ReconciliationItem):
        return []
    count = _read("open drift items", lambda: execution_selectors.open_drift_items().count())
    return [Figure("open-drift-items", "Open drift items", count, link(ReconciliationItem, drift="open"),
                   "what each account's newest comparison with its broker found not matching")]


def _refusals(link, now):
    if not link.may_view(AuditEntry):
        return []
    since = now - REFUSALS_WITHIN
    count = _read("refused ingests", lambda: audit_selectors.count_entries(action=INGEST_DENIED, since=since))
    return [Figure("refused-ingests", "Refused signed ingests, last hour", count,
                   link(AuditEntry, action=INGEST_DENIED, within=WRITTEN_WITHIN),
                   f"since {utc_time(since)}; an address past its budget of refusals counts once a window")]


def _chain(link, now):
    if not link.may_view(AuditEntry):
        return []
    found = _read("audit chain", lambda: chain_status.status(now=now))
    if found is None:
        return [Figure("audit-chain", "Audit chain", None)]
    head = f"head #{found.head_seq} {found.head_hash}" if found.head_hash else ""
    checked = f"checked {utc_time(found.checked_at)}" if found.checked_at else ""
    if found.state == chain_status.VERIFIED:
        return [Figure("audit-chain", "Audit chain", "verifies", link(AuditEntry), f"{head}, {checked}")]
    if found.state == chain_status.BEHIND:
        return [Figure("audit-chain", "Audit chain", f"not verified past #{found.verified_seq}",
                       link(AuditEntry, seq__gt=found.verified_seq),
                       f"{head}; not verified since {utc_time(found.checked_at)}: {found.unverified} newer entries "
                       f"unchecked yet (each look checks {chain_status.LOOK_LIMIT}; manage.py verify_audit checks "
                       f"them all)")]
    if found.state == chain_status.BROKEN:
        return [Figure("audit-chain", "Audit chain", f"broken at #{found.broken_seq}",
                       link(AuditEntry, seq=found.broken_seq), f"{found.problem} ({checked}); {head}")]
    return [Figure("audit-chain", "Audit chain", "empty", link(AuditEntry), "no entry yet")]
