"""Demo data for `python manage.py load_demo` (last, once the trader's
bridge exists, so that approvals become orders): the demo trader's
decisions, so the operators' console has approvals and rejections to
review while a couple of signals still wait in the pending list. Safe to
run repeatedly: decided signals are no longer pending."""

from approvals import selectors, services
from approvals.models import Approval
from demo import signal_feed
from demo.signal_feed import PRODUCER_NAME
from signals.models import Signal

KEEP_PENDING = 2  # the soonest-expiring signals stay undecided for the pending list
DEMO_DECISIONS = [
    ("approved", "Breakout confirmed on H1; sized at half risk."),
    ("rejected", "News at 14:30; not trading into it."),
    ("approved", ""),
]
DEMO_CLIENT = {"ip": "203.0.113.10", "user_agent": "TraderApp/3.2 (demo; Android 15)"}


def load(*, stdout, users):
    trader = users["trader"]
    # The demo producer's signals only: the trader's own producers' signals
    # (the README has them made) are theirs to decide, never the demo's.
    pending = list(selectors.pending_signals(Signal.objects.filter(owner=trader, producer__name=PRODUCER_NAME)))
    consent = selectors.current_consent().version
    feed_decisions = signal_feed.decisions()
    # The feed's own decisions (GBPUSD approved, AUDUSD rejected), then DEMO_DECISIONS for the rest.
    chosen = [(signal, feed_decisions[signal.instrument.symbol], "demo decision") for signal in pending
              if signal.instrument.symbol in feed_decisions]
    rest = [signal for signal in pending if signal.instrument.symbol not in feed_decisions]
    chosen += [(signal, decision, reason) for signal, (decision, reason) in zip(rest[KEEP_PENDING:], DEMO_DECISIONS)]
    for signal, decision, reason in chosen:
        services.decide_signal(user=trader, signal_id=str(signal.pk), decision=decision, consent_version=consent,
                               reason=reason, **DEMO_CLIENT)
    made = len(chosen)
    decisions = Approval.objects.filter(user=trader)
    stdout.write(f"Demo decisions: {made} more from the pending list; {trader.username} has {decisions.count()} "
                 f"({decisions.filter(decision='rejected').count()} rejected) for the console to review.")
