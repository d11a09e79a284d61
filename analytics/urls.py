from django.urls import path

from analytics import views

urlpatterns = [
    path("analytics/summary/", views.SummaryView.as_view(), name="analytics-summary"),
    path("analytics/daily/", views.DailyView.as_view(), name="analytics-daily"),
    path("analytics/by-instrument/", views.ByInstrumentView.as_view(), name="analytics-by-instrument"),
]
