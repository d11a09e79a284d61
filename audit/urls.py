from django.urls import path

from audit import views

urlpatterns = [
    path("audit/", views.AuditEntryListView.as_view(), name="audit-list"),
    path("audit/export.csv", views.AuditCSVExportView.as_view(), name="audit-export"),
    path("audit/export.jsonl", views.AuditJSONLinesExportView.as_view(), name="audit-export-jsonl"),
]
