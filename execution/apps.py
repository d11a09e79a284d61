from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = "Execution"

    def ready(self):
        from approvals import events as approval_events
        from approvals.models import Approval
        from charting import registry as charting_registry
        from core.ops import SCRAPE_TIME_METRICS
        from execution import selectors
        from execution.metrics import ExecutionCollector
        from execution.receivers import place_order

        # Approvals never import execution: an approval announces itself, and
        # its order is created by this receiver, inside the approval's transaction.
        approval_events.approval_created.connect(place_order, sender=Approval, weak=False,
                                                 dispatch_uid="execution:place-order")
        SCRAPE_TIME_METRICS.register(ExecutionCollector())
        # Charting, below, draws a signal's fill and close and labels the
        # equity axis with the account's currency: facts only execution has.
        charting_registry.provide_signal_trades(selectors.signal_trades)
        charting_registry.provide_account_currency(selectors.account_currency)
