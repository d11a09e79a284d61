"""The project's URLs plus views that fail on purpose, for the error tests."""

from django.db import OperationalError
from django.http import HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from config.urls import urlpatterns as project_urlpatterns


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_crash(request):
    raise RuntimeError("secret-in-exception: SELECT * FROM users WHERE password='hunter2'")


@api_view(["GET"])
@permission_classes([AllowAny])
def database_down(request):
    raise OperationalError("could not connect to server: password=hunter2")


def plain_crash(request):
    raise ValueError("traceback-marker hunter2")


def plain_ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/test/drf-crash/", drf_crash),
    path("api/v1/test/database-down/", database_down),
    path("api/v1/test/plain-crash/", plain_crash),
    *project_urlpatterns,
]
