from audit.models import AuditEntry


def entries_in_chain_order(queryset=None, *, batch_size=1000):
    """Yields entries by ascending `seq`, one query of `batch_size` rows at a
    time (keyset on the unique `seq` index), so memory stays flat however long
    the chain is, and each query is an index range scan however deep it is.

    Only the entries present when the walk starts are yielded: an export or a
    verification describes one head, not a moving target."""
    queryset = AuditEntry.objects.all() if queryset is None else queryset
    head = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    if head is None:
        return
    queryset = queryset.filter(seq__lte=head).order_by("seq")
    after = 0
    while True:
        batch = list(queryset.filter(seq__gt=after)[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1].seq


def entries_after(seq: int, *, until: int, limit: int) -> list[AuditEntry]:
    """The entries after `seq` up to `until`, at most `limit`, by ascending
    `seq`, in one query (an index range scan)."""
    return list(AuditEntry.objects.filter(seq__gt=seq, seq__lte=until).order_by("seq")[:limit])


def chain_head() -> dict | None:
    """The newest entry's `seq` and `hash`; None while the log is empty."""
    return AuditEntry.objects.order_by("-seq").values("seq", "hash").first()


def count_entries(*, action: str, since) -> int:
    """Entries of `action` written at or after `since`."""
    return AuditEntry.objects.filter(action=action, ts__gte=since).count()
