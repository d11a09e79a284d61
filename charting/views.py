"""Contract §6 over HTTP: signed market-data ingestion, the JWT chart
endpoints, chart links, and the public signed-link chart views."""

from functools import lru_cache

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from charting import charts, links, selectors, services
from charting.media import chart_image, png_response
from charting.serializers import (
    CandleBatchSerializer,
    CandleChartSerializer,
    ChartLinkResponseSerializer,
    ChartLinkSerializer,
    EquityBatchSerializer,
    FrameSerializer,
    SignalChartSerializer,
    UpsertResultSerializer,
)
from signals.authentication import ProducerSignatureAuthentication
from signals.models import Signal
from signals.selectors import visible_signals
from signals.views import IsProducer, ProducerThrottle
from core.throttling import ScopedThrottle

# 5000 candles of ~130 bytes of JSON each fit; a signal's 64 KiB would not.
MARKET_DATA_MAX_BODY_BYTES = 1024 * 1024
# JWT answers are one user's: browsers may keep them briefly, shared caches never.
PRIVATE_CACHE_CONTROL = "private, max-age=60"
# Signed links may sit in shared caches (chat proxies, CDNs), never past the
# link's expiry and briefly enough that new bars show up soon.
PUBLIC_MAX_AGE_SECONDS = 300


class PNGRenderer(BaseRenderer):
    """Content negotiation only (an `Accept: image/png` must not get a 406);
    the views return finished image responses."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


def _parse(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _parse_chart_query(serializer_class, query) -> dict:
    """A chart's query parameters, validated. Every chart request, cached or
    not, validates them, and a DRF serializer deep-copies its fields each time
    it is made; the chart serializers are pure functions of the parameters
    (nothing read from the database or the clock), so the result for the same
    parameters is remembered. Invalid parameters raise afresh every time."""
    # QueryDict.items() yields the last value of a repeated name, as the fields read them.
    return dict(_validated_chart_query(serializer_class, isinstance(query, QueryDict),
                                       tuple(sorted(query.items()))))


@lru_cache(maxsize=512)
def _validated_chart_query(serializer_class, query_string: bool, items: tuple) -> dict:
    data = dict(items)
    if query_string:  # where DRF reads an empty optional field as absent, not as invalid
        data = QueryDict(mutable=True)
        data.update(dict(items))
    return _parse(serializer_class, data)


# DRF's ?format= override exists because two renderers do; it is no part of the API.
NO_FORMAT = OpenApiParameter("format", exclude=True)
LINK_PARAMETERS = [
    NO_FORMAT,
    OpenApiParameter("expires", int, required=True, description="Unix seconds; part of the signed link."),
    OpenApiParameter("signature", str, required=True,
                     description="HMAC of the path and every other parameter; from `chart_url` or "
                                 "POST /api/v1/charts/links/, never built by clients."),
]

PNG_RESPONSES = {
    (200, "image/png"): OpenApiTypes.BINARY,
    304: OpenApiResponse(description="If-None-Match matched the chart's ETag"),
    401: OpenApiResponse(description="No, bad or expired token"),
    404: OpenApiResponse(description="No data to draw (or not your signal)"),
    422: OpenApiResponse(description="A parameter is out of range"),
    429: OpenApiResponse(description="Too many requests"),
}
INGEST_RESPONSES = {
    200: UpsertResultSerializer,
    401: OpenApiResponse(description="Missing header, unknown/disabled producer, bad signature, stale timestamp"),
    413: OpenApiResponse(description="Body over 1 MiB"),
    415: OpenApiResponse(description="Not JSON"),
    422: OpenApiResponse(description="Invalid fields, e.g. candles.3.high; more than 5000 rows"),
    429: OpenApiResponse(description="Too many requests from this producer"),
}


# --- ingestion (signed) -------------------------------------------------------------

class MarketDataIngestView(APIView):
    authentication_classes = [ProducerSignatureAuthentication]
    permission_classes = [IsProducer]
    throttle_classes = [ProducerThrottle]
    max_body_bytes = MARKET_DATA_MAX_BODY_BYTES


class CandleIngestView(MarketDataIngestView):
    @extend_schema(request=CandleBatchSerializer, responses=INGEST_RESPONSES, tags=["market data"])
    def post(self, request):
        data = _parse(CandleBatchSerializer, request.data)
        result = services.upsert_candles(instrument=data["instrument"], timeframe=data["timeframe"],
                                         candles=data["candles"])
        return Response({"inserted": result.inserted, "updated": result.updated})


class EquityIngestView(MarketDataIngestView):
    @extend_schema(request=EquityBatchSerializer, responses=INGEST_RESPONSES, tags=["market data"])
    def post(self, request):
        data = _parse(EquityBatchSerializer, request.data)
        # A producer reports the account of the user whose feed it serves.
        result = services.upsert_equity_points(owner=request.user.owner, points=data["points"])
        return Response({"inserted": result.inserted, "updated": result.updated})


# --- charts (JWT) -----------------------------------------------------------------

class ChartView(APIView):
    renderer_classes = [PNGRenderer, JSONRenderer]

    def answer(self, request, chart):
        return png_response(request, chart_image(chart), cache_control=PRIVATE_CACHE_CONTROL)


class CandleChartView(ChartView):
    @extend_schema(parameters=[CandleChartSerializer, NO_FORMAT], responses=PNG_RESPONSES, tags=["charts"])
    def get(self, request):
        params = _parse_chart_query(CandleChartSerializer, request.query_params)
        return self.answer(request, charts.candles_chart(symbol=params["instrument"], timeframe=params["timeframe"],
                                                         frame=params["frame"]))


class SignalChartView(ChartView):
    @extend_schema(parameters=[SignalChartSerializer, NO_FORMAT], responses=PNG_RESPONSES, tags=["charts"])
    def get(self, request, pk):
        signal = get_object_or_404(selectors.chart_signals(visible_signals(user=request.user)), pk=pk)
        params = _parse_chart_query(SignalChartSerializer, request.query_params)
        return self.answer(request, charts.signal_chart(signal=signal, frame=params["frame"],
                                                        timeframe=params.get("timeframe")))


class AccountChartView(ChartView):
    """A chart of the caller's own account: there is no parameter that could
    name another user."""

    make_chart = None  # charts.equity_chart or charts.returns_chart

    def get(self, request):
        params = _parse_chart_query(FrameSerializer, request.query_params)
        return self.answer(request, type(self).make_chart(owner_id=request.user.pk, frame=params["frame"]))


def _account_chart_schema(description):
    return extend_schema_view(get=extend_schema(parameters=[FrameSerializer, NO_FORMAT], responses=PNG_RESPONSES,
                                                tags=["charts"], description=description))


@_account_chart_schema("The caller's equity curve: the last `bars` points.")
class EquityChartView(AccountChartView):
    make_chart = staticmethod(charts.equity_chart)


@_account_chart_schema("Histogram of the caller's daily returns over the last `bars` days with points.")
class ReturnsChartView(AccountChartView):
    make_chart = staticmethod(charts.returns_chart)


class ChartLinkThrottle(ScopedThrottle):
    scope = "chart_link"


class ChartLinkView(APIView):
    throttle_classes = [ChartLinkThrottle]

    @extend_schema(request=ChartLinkSerializer, tags=["charts"], responses={
        201: ChartLinkResponseSerializer,
        401: OpenApiResponse(description="No, bad or expired token"),
        422: OpenApiResponse(description="Invalid fields"),
        429: OpenApiResponse(description="Too many links too fast"),
    })
    def post(self, request):
        data = _parse(ChartLinkSerializer, request.data)
        frame = data["frame"]
        params = {"width": frame.width, "height": frame.height, "bars": frame.bars}
        if data["chart"] == "candles":
            params |= {"instrument": data["instrument"], "timeframe": data["timeframe"]}
        else:
            params["owner"] = request.user.pk
        path, expires_at = links.link_for(chart=data["chart"], params=params, ttl=data["ttl"])
        return Response({"url": request.build_absolute_uri(path), "expires_at": expires_at},
                        status=status.HTTP_201_CREATED)


# --- charts by signed link (no login) ---------------------------------------------

class PublicChartView(ChartView):
    """The link's signature is the authorization; no session, no token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def answer_link(self, request, make_chart):
        params, remaining = links.verify(request)
        chart = make_chart(params)
        max_age = min(remaining, PUBLIC_MAX_AGE_SECONDS)
        return png_response(request, chart_image(chart), cache_control=f"public, max-age={max_age}")


LINK_RESPONSES = {**{code: answer for code, answer in PNG_RESPONSES.items() if code != 401},
                  403: OpenApiResponse(description="Signature or parameters altered"),
                  410: OpenApiResponse(description="The link has expired")}


class PublicCandleChartView(PublicChartView):
    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request):
        def make(params):
            data = _parse_chart_query(CandleChartSerializer, params)
            return charts.candles_chart(symbol=data["instrument"], timeframe=data["timeframe"], frame=data["frame"])
        return self.answer_link(request, make)


class PublicSignalChartView(PublicChartView):
    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request, pk):
        def make(params):
            signal = get_object_or_404(selectors.chart_signals(Signal.objects.all()), pk=pk)
            data = _parse_chart_query(SignalChartSerializer, params)
            return charts.signal_chart(signal=signal, frame=data["frame"], timeframe=data.get("timeframe"))
        return self.answer_link(request, make)


class PublicAccountChartView(PublicChartView):
    """Equity or returns of the account the link was made for."""

    make_chart = None

    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request):
        def make(params):
            frame = _parse_chart_query(FrameSerializer, params)["frame"]
            # The owner must still be active; checked with the data version, in one query.
            version = selectors.active_user_equity_version(user_id=params.get("owner"))
            if version is None:
                raise NotFound("No such chart.")
            return type(self).make_chart(owner_id=params["owner"], frame=frame, version=version)
        return self.answer_link(request, make)


class PublicEquityChartView(PublicAccountChartView):
    make_chart = staticmethod(charts.equity_chart)


class PublicReturnsChartView(PublicAccountChartView):
    make_chart = staticmethod(charts.returns_chart)
