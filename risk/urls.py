from django.urls import path

from risk import views

urlpatterns = [
    path("risk/policy/", views.PolicyView.as_view(), name="risk-policy"),
]
