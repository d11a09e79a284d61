from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Performance analytics"

    def ready(self):
        from analytics import receivers
        from analytics.charts import register_charts

        receivers.connect()
        register_charts()
