"""The production URLs plus the poll benchmark's baseline: a signed ping, a
bridge call with the same authentication, permission and throttle as every
bridge call that does nothing and answers `{}`. It exists only in the
benchmark's server (bench/poll_settings.py), never in production."""

from django.urls import path
from rest_framework.response import Response

from config.urls import urlpatterns as production_urlpatterns
from execution.views.bridge import BridgeView


class PingView(BridgeView):
    def post(self, request):
        return Response({})


urlpatterns = [path("api/v1/bench/bridge-ping", PingView.as_view()), *production_urlpatterns]
