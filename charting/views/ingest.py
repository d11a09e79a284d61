"""Signed market-data ingestion: a producer's candles and its user's equity
points, upserted in bulk."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from charting import services
from charting.serializers import CandleBatchSerializer, EquityBatchSerializer, UpsertResultSerializer
from signals.authentication import IsProducer, ProducerSignatureAuthentication, ProducerThrottle

# 5000 candles of ~130 bytes of JSON each fit; a signal's 64 KiB would not.
MARKET_DATA_MAX_BODY_BYTES = 1024 * 1024

INGEST_RESPONSES = {
    200: UpsertResultSerializer,
    401: OpenApiResponse(description="Missing header, unknown/disabled producer, bad signature, stale timestamp"),
    413: OpenApiResponse(description="Body over 1 MiB"),
    415: OpenApiResponse(description="Not JSON"),
    422: OpenApiResponse(description="Invalid fields, e.g. candles.3.high; more than 5000 rows"),
    429: OpenApiResponse(description="Too many requests from this producer"),
}


class MarketDataIngestView(APIView):
    authentication_classes = [ProducerSignatureAuthentication]
    permission_classes = [IsProducer]
    throttle_classes = [ProducerThrottle]
    max_body_bytes = MARKET_DATA_MAX_BODY_BYTES


class CandleIngestView(MarketDataIngestView):
    @extend_schema(summary="Upload candles (a producer's signed call), upserted by instrument, timeframe and time",
                   request=CandleBatchSerializer, responses=INGEST_RESPONSES)
    def post(self, request):
        serializer = CandleBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.upsert_candles(instrument=data["instrument"], timeframe=data["timeframe"],
                                         candles=data["candles"], signed=request.auth)
        return Response({"inserted": result.inserted, "updated": result.updated})


class EquityIngestView(MarketDataIngestView):
    @extend_schema(summary="Upload equity points (a producer's signed call), upserted by time",
                   request=EquityBatchSerializer, responses=INGEST_RESPONSES)
    def post(self, request):
        serializer = EquityBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # A producer reports the account of the user whose feed it serves.
        result = services.upsert_equity_points(owner=request.user.owner, points=serializer.validated_data["points"],
                                               signed=request.auth)
        return Response({"inserted": result.inserted, "updated": result.updated})
