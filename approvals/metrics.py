from prometheus_client import Counter, Histogram

approvals_total = Counter("approvals_total", "Decisions recorded (committed), by decision.", ["decision"])
# Signals live 900 s by default, so the buckets resolve the first quarter hour
# finely and leave the tail to the long-lived ones.
approval_decision_seconds = Histogram(
    "approval_decision_seconds",
    "Time from a signal's arrival to the user's decision on it.",
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 4 * 3600, float("inf")),
)


def count_decision(*, decision: str, seconds: float) -> None:
    approvals_total.labels(decision=decision).inc()
    approval_decision_seconds.observe(max(seconds, 0.0))
