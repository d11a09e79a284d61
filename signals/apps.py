from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Trade signals"

    def ready(self):
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from signals import schema  # noqa: F401  (registers the OpenAPI extension)
        from signals.models import Instrument
        from signals.selectors import forget_whitelist

        def whitelist_changed(sender, **kwargs):
            forget_whitelist()  # now, and again once the change is visible to every reader
            transaction.on_commit(forget_whitelist)

        post_save.connect(whitelist_changed, sender=Instrument, weak=False, dispatch_uid="signals:whitelist")
        post_delete.connect(whitelist_changed, sender=Instrument, weak=False,
                            dispatch_uid="signals:whitelist-delete")
