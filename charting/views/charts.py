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
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from charting import charts, links, registry, selectors
from charting.media import chart_image, png_response
from charting.serializers import (
    ChartLinkResponseSerializer,
    ChartLinkSerializer,
    FrameSerializer,
    SignalChartSerializer,
    SignalLinkParamsSerializer,
    chart_query_serializer,
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


class KindChartView(ChartView):
    """GET /api/v1/charts/<name>/ of a registered chart kind (charting/registry.py)."""

    kind = None  # set per kind by kind_view()
    query_serializer = None

    def get(self, request):
        kind = self.kind
        params = dict(chart_params(self.query_serializer, request.query_params))
        frame = params.pop("frame")
        subject = registry.subject_of(kind, user=request.user, params=params)
        return self.answer(request, registry.chart_of(kind, subject=subject, frame=frame))


def kind_view(kind, base=KindChartView, frame=FrameSerializer, responses=PNG_RESPONSES, parameters=(NO_FORMAT,)):
    """A view class of its own per kind: its query serializer and its
    description in the schema."""
    query = chart_query_serializer(kind.name, kind.params, frame)
    view = type(f"{query.__name__.removesuffix('Serializer')}View", (base,),
                {"kind": kind, "query_serializer": query, "__module__": base.__module__})
    return extend_schema_view(get=extend_schema(parameters=[query, *parameters], responses=responses,
                                                summary=kind.summary))(view)


class SignalChartView(ChartView):
    @extend_schema(summary="A signal's chart: candles around it with its entry, stop and target",
                   parameters=[SignalChartSerializer, NO_FORMAT], responses=PNG_RESPONSES)
    def get(self, request, pk):
        signal = get_object_or_404(selectors.chart_signals(visible_signals(user=request.user)), pk=pk)
        params = chart_params(SignalChartSerializer, request.query_params)
        return self.answer(request, charts.signal_chart(signal=signal, frame=params["frame"],
                                                        timeframe=params.get("timeframe")))


class ChartLinkThrottle(ScopedThrottle):
    scope = "chart_link"


class ChartLinkView(APIView):
    throttle_classes = [ChartLinkThrottle]

    @extend_schema(summary="A signed link to a chart, for an <img> or a chat: no token needed to open it",
                   request=ChartLinkSerializer, responses={
        201: ChartLinkResponseSerializer,
        401: OpenApiResponse(description="No, bad or expired token"),
        404: OpenApiResponse(description="`signal` names no signal of the caller's"),
        422: OpenApiResponse(description="Invalid fields"),
        429: OpenApiResponse(description="Too many links too fast"),
    })
    def post(self, request):
        name = request.data.get("chart") if isinstance(request.data, dict) else None
        kind = registry.get(name) if isinstance(name, str) else None
        if name == "signal":
            path, expires_at = self._signal_link(request)
        elif kind is not None:
            path, expires_at = self._kind_link(request, kind)
        else:
            choices = ", ".join([kind.name for kind in registry.kinds()] + ["signal"])
            raise ValidationError({"chart": [f"One of: {choices}."]})
        return Response({"url": request.build_absolute_uri(path), "expires_at": expires_at},
                        status=status.HTTP_201_CREATED)

    @staticmethod
    def _validated(request, name, params):
        serializer = chart_query_serializer(name, params, ChartLinkSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        frame = data.pop("frame")
        return data, frame, {"width": frame.width, "height": frame.height}

    def _kind_link(self, request, kind):
        data, frame, size = self._validated(request, kind.name, kind.params)
        ttl = data.pop("ttl")
        del data["chart"]
        subject = registry.subject_of(kind, user=request.user, params=data)
        # Made only for parameters its chart accepts now (an unknown
        # instrument is a 422); no data yet is fine: the link shows it once it comes.
        try:
            registry.chart_of(kind, subject=subject, frame=frame)
        except NotFound:
            pass
        return links.link_for(chart=kind.name, params={**size, "bars": frame.bars, **subject}, ttl=ttl)

    def _signal_link(self, request):
        data, frame, size = self._validated(request, "signal", SignalLinkParamsSerializer)
        signal = get_object_or_404(visible_signals(user=request.user).select_related(None).only("pk"), pk=data["signal"])
        params = {**size, "bars": frame.bars}
        if data.get("timeframe"):
            params["timeframe"] = data["timeframe"]
        return links.link_for(chart="signal", params=params, ttl=data["ttl"], kwargs={"pk": signal.pk})
