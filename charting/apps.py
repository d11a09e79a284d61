from django.apps import AppConfig


class ChartingConfig(AppConfig):
    name = "charting"
    verbose_name = "Charts and market data"

    def ready(self):
        from charting import caches, charts, registry, selectors
        from core.worker_cache import flush_on_change
        from signals import chart_link

        flush_on_change(caches.candle_series, dispatch_uid="charting.caches.candle_series")
        for kind in charts.OWN_KINDS:
            registry.register(kind)
        chart_link.provide_chart_probe(selectors.signals_with_bars)
