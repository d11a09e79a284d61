from prometheus_client import Counter

# Counted when the entry's transaction commits: a rolled-back action leaves no
# entry, so it must not be counted either.
AUDIT_EVENTS = Counter("audit_events", "Audit entries committed, by action.", ["action"])
