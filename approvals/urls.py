from django.urls import path

from approvals import views

approval_list = views.ApprovalViewSet.as_view({"get": "list", "post": "create"})
approval_export = views.ApprovalViewSet.as_view({"get": "export"})
approval_detail = views.ApprovalViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("consent/current/", views.CurrentConsentView.as_view(), name="consent-current"),
    path("approvals/", approval_list, name="approval-list"),
    path("approvals/export.csv", approval_export, name="approval-export"),
    path("approvals/<uuid:pk>/", approval_detail, name="approval-detail"),
]
