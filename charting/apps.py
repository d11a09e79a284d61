from django.apps import AppConfig


class ChartingConfig(AppConfig):
    name = "charting"
    verbose_name = "Charts and market data"

    def ready(self):
        from charting import charts, registry, selectors
        from signals import chart_link

        for kind in charts.OWN_KINDS:
            registry.register(kind)
        chart_link.provide_chart_probe(selectors.signals_with_bars)
