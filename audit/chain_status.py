"""Whether the audit chain verifies, as the operators' console shows it at a
glance (config/dashboard.py).

Walking a long chain takes seconds, too long for every look at the console,
so the looks are incremental: the *verified point* (the seq and hash of the
newest entry found to link back to seq 1, and when) is kept in the shared
cache; each look walks on from it, at most LOOK_LIMIT entries, and moves it
forward. `verify_audit` walks the whole chain and keeps its head as the
point, or the break it found. The point is a shortcut, never the evidence:
without one (a new cache, Redis flushed) a look starts again from seq 1,
and a chain longer than a look is shown verified only as far as the looks
have got. A break, once found, is shown until `verify_audit` finds the
chain whole again: the entries it concerns do not change by themselves.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache

from audit import selectors
from audit.verification import ChainReport, Checkpoint, verify_after

POINT_KEY = "audit:verified-point"
# Entries one look walks at most: a few tens of milliseconds.
LOOK_LIMIT = 2000

VERIFIED, BEHIND, BROKEN, EMPTY = "verified", "behind", "broken", "empty"


@dataclass(frozen=True)
class ChainStatus:
    """`state`: VERIFIED (every entry up to the head links up, found at
    `checked_at`), BEHIND (only up to `verified_seq`, found at `checked_at`:
    the entries after it are not verified yet), BROKEN (at `broken_seq`, for
    `problem`, found at `checked_at`) or EMPTY."""

    state: str
    head_seq: int = 0
    head_hash: str | None = None
    verified_seq: int = 0
    checked_at: datetime | None = None
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def unverified(self) -> int:
        """Entries after the verified point."""
        return self.head_seq - self.verified_seq


def remember(report: ChainReport, *, at: datetime) -> None:
    """Keeps what a walk of the whole chain found (`verify_audit`): its head
    as the verified point, or its break."""
    _keep(report, at=at)


def status(*, now: datetime, limit: int | None = None) -> ChainStatus:
    """The chain's state, walking at most `limit` (LOOK_LIMIT) entries on
    from the kept point (two queries: the head, the entries)."""
    limit = LOOK_LIMIT if limit is None else limit
    head = selectors.chain_head()
    if head is None:
        return ChainStatus(EMPTY)
    kept = cache.get(POINT_KEY)
    if kept is None or not kept.get("broken_seq"):
        kept = _look(head, kept, now=now, limit=limit)
    if kept.get("broken_seq"):
        return ChainStatus(BROKEN, head_seq=head["seq"], head_hash=head["hash"], verified_seq=kept["seq"],
                           checked_at=kept["at"], broken_seq=kept["broken_seq"], problem=kept["problem"])
    return ChainStatus(VERIFIED if kept["seq"] >= head["seq"] else BEHIND, head_seq=head["seq"],
                       head_hash=head["hash"], verified_seq=kept["seq"], checked_at=kept["at"])


def _look(head: dict, kept: dict | None, *, now: datetime, limit: int) -> dict:
    """The point (or break) after walking on from `kept` towards `head`;
    kept again when it moved."""
    point = Checkpoint(kept["seq"], kept["hash"]) if kept and kept["seq"] else None  # seq 0: an empty chain
    if point is None or point.seq < head["seq"]:
        report = verify_after(point, until=head["seq"], limit=limit)
        return _keep(report, at=now) if not report.ok or report.verified > (point.seq if point else 0) else kept
    if point.seq > head["seq"]:
        return _keep(ChainReport(head["seq"], head["hash"], head["seq"] + 1,
                                 f"entry {point.seq} was verified at {kept['at'].isoformat()}, but the chain now ends "
                                 f"at seq {head['seq']}: entries were cut off the end"), at=now)
    if point.hash != head["hash"]:
        return _keep(ChainReport(point.seq - 1, None, point.seq,
                                 f"entry {point.seq} no longer has the hash it had when it was verified"), at=now)
    return kept


def _keep(report: ChainReport, *, at: datetime) -> dict:
    kept = {"seq": report.verified, "hash": report.head_hash, "at": at}
    if not report.ok:
        kept.update(broken_seq=report.broken_seq, problem=report.problem)
    cache.set(POINT_KEY, kept, timeout=None)
    return kept
