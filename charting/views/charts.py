"""The chart endpoints for a logged-in user (JWT), and the signed links they
hand out for `<img src>`."""

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from charting import charts, links, selectors
from charting.media import chart_image, png_response
from charting.serializers import (
    CandleChartSerializer,
    ChartLinkResponseSerializer,
    ChartLinkSerializer,
    FrameSerializer,
    SignalChartSerializer,
)
from core.throttling import ScopedThrottle
from signals.selectors import visible_signals

# JWT answers are one user's: browsers may keep them briefly, shared caches never.
PRIVATE_CACHE_CONTROL = "private, max-age=60"


def chart_params(serializer_class, query: QueryDict) -> Mapping:
    """A chart's query parameters, validated by `serializer_class`; read-only,
    as the values are shared by every request with the same parameters."""
    return _validated_params(serializer_class, tuple((name, tuple(values)) for name, values in query.lists()))


# Kept per serializer and parameters because every chart request validates
# its parameters, a cached image's too, and making a DRF serializer
# deep-copies its fields: about 0.2 ms each time, a tenth of a cached chart's
# whole answer (a lookup here costs a few microseconds). The chart serializers
# read nothing but the parameters (no database, no clock), so the same
# parameters always validate to the same values. Invalid parameters raise,
# and exceptions are not cached: they are validated anew every time.
@lru_cache(maxsize=512)
def _validated_params(serializer_class, lists: tuple) -> Mapping:
    query = QueryDict(mutable=True)
    for name, values in lists:
        query.setlist(name, values)
    serializer = serializer_class(data=query)
    serializer.is_valid(raise_exception=True)
    return MappingProxyType(serializer.validated_data)


class PNGRenderer(BaseRenderer):
    """Content negotiation only (an `Accept: image/png` must not get a 406);
    the views return finished image responses."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


# DRF's ?format= override exists because two renderers do; it is no part of the API.
NO_FORMAT = OpenApiParameter("format", exclude=True)

PNG_RESPONSES = {
    (200, "image/png"): OpenApiTypes.BINARY,
    304: OpenApiResponse(description="If-None-Match matched the chart's ETag"),
    401: OpenApiResponse(description="No, bad or expired token"),
    404: OpenApiResponse(description="No data to draw (or not your signal)"),
    422: OpenApiResponse(description="A parameter is out of range"),
    429: OpenApiResponse(description="Too many requests"),
}


class ChartView(APIView):
    renderer_classes = [PNGRenderer, JSONRenderer]

    def answer(self, request, chart):
        return png_response(request, chart_image(chart), cache_control=PRIVATE_CACHE_CONTROL)


class CandleChartView(ChartView):
    @extend_schema(parameters=[CandleChartSerializer, NO_FORMAT], responses=PNG_RESPONSES, tags=["charts"])
    def get(self, request):
        params = chart_params(CandleChartSerializer, request.query_params)
        return self.answer(request, charts.candles_chart(symbol=params["instrument"], timeframe=params["timeframe"],
                                                         frame=params["frame"]))


class SignalChartView(ChartView):
    @extend_schema(parameters=[SignalChartSerializer, NO_FORMAT], responses=PNG_RESPONSES, tags=["charts"])
    def get(self, request, pk):
        signal = get_object_or_404(selectors.chart_signals(visible_signals(user=request.user)), pk=pk)
        params = chart_params(SignalChartSerializer, request.query_params)
        return self.answer(request, charts.signal_chart(signal=signal, frame=params["frame"],
                                                        timeframe=params.get("timeframe")))


class AccountChartView(ChartView):
    """A chart of the caller's own account: there is no parameter that could
    name another user."""

    make_chart = None  # charts.equity_chart or charts.returns_chart

    def get(self, request):
        params = chart_params(FrameSerializer, request.query_params)
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
        serializer = ChartLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        frame = data["frame"]
        params = {"width": frame.width, "height": frame.height, "bars": frame.bars}
        if data["chart"] == "candles":
            params |= {"instrument": data["instrument"], "timeframe": data["timeframe"]}
        else:
            params["owner"] = request.user.pk
        path, expires_at = links.link_for(chart=data["chart"], params=params, ttl=data["ttl"])
        return Response({"url": request.build_absolute_uri(path), "expires_at": expires_at},
                        status=status.HTTP_201_CREATED)
