"""The production URLs plus the benchmark's baseline: an endpoint that only
parses the JSON body with DRF and inserts one signal row. It exists only in
the benchmark's server (bench/ingest_settings.py), never in production."""

import os
from datetime import timedelta
from functools import lru_cache

from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as production_urlpatterns
from signals import events
from signals.models import Instrument, Producer, Signal


@lru_cache(maxsize=1)
def _fixed_refs():
    producer = Producer.objects.get(name="bench-engine")
    return producer.pk, producer.owner_id, Instrument.objects.get(symbol="EURUSD").pk


class BaselineView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def post(self, request):
        data = request.data
        producer_id, owner_id, instrument_id = _fixed_refs()
        now = timezone.now()
        signal = Signal.objects.create(
            producer_id=producer_id, owner_id=owner_id, instrument_id=instrument_id, side=data["side"],
            time=now, version=data["version"], entry_price=data["entry_price"], payload=data.get("payload") or {},
            expires_at=now + timedelta(minutes=15), fingerprint="",
        )
        return Response({"id": str(signal.pk)}, status=201)


if os.environ.get("BENCH_WITHOUT_AUDIT"):
    # Diagnosis only (`python -m bench ingest --without-audit`): how much of the gap the
    # audit chain's serialized appends account for. Never a measurement to report as the figure.
    events.signal_created.receivers = []
    events.signal_created.sender_receivers_cache.clear()

urlpatterns = [path("api/v1/bench/baseline/", BaselineView.as_view()), *production_urlpatterns]
