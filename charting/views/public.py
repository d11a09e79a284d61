"""Charts by signed link, outside the versioned API: the URLs that `<img src>`
embeds. The link's signature is the only credential (core/signed_links.py)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny

from charting import charts, selectors
from charting.media import chart_image, png_response
from charting.serializers import CandleChartSerializer, FrameSerializer, SignalChartSerializer
from charting.views.charts import NO_FORMAT, PNG_RESPONSES, ChartView, chart_params
from core import signed_links
from signals.models import Signal

# Signed links may sit in shared caches (chat proxies, CDNs), never past the
# link's expiry and briefly enough that new bars show up soon.
PUBLIC_MAX_AGE_SECONDS = 300

LINK_PARAMETERS = [
    NO_FORMAT,
    OpenApiParameter("expires", int, required=True, description="Unix seconds; part of the signed link."),
    OpenApiParameter("signature", str, required=True,
                     description="HMAC of the path and every other parameter; from `chart_url` or "
                                 "POST /api/v1/charts/links/, never built by clients."),
]
LINK_RESPONSES = {**{code: answer for code, answer in PNG_RESPONSES.items() if code != 401},
                  403: OpenApiResponse(description="Signature or parameters altered"),
                  410: OpenApiResponse(description="The link has expired")}


class PublicChartView(ChartView):
    """The link's signature is the authorization; no session, no token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def answer_link(self, request, make_chart):
        params, remaining = signed_links.verify(request)
        chart = make_chart(params)
        max_age = min(remaining, PUBLIC_MAX_AGE_SECONDS)
        return png_response(request, chart_image(chart), cache_control=f"public, max-age={max_age}")


class PublicCandleChartView(PublicChartView):
    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request):
        def make(params):
            data = chart_params(CandleChartSerializer, request.query_params)
            return charts.candles_chart(symbol=data["instrument"], timeframe=data["timeframe"], frame=data["frame"])
        return self.answer_link(request, make)


class PublicSignalChartView(PublicChartView):
    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request, pk):
        def make(params):
            signal = get_object_or_404(selectors.chart_signals(Signal.objects.all()), pk=pk)
            data = chart_params(SignalChartSerializer, request.query_params)
            return charts.signal_chart(signal=signal, frame=data["frame"], timeframe=data.get("timeframe"))
        return self.answer_link(request, make)


class PublicAccountChartView(PublicChartView):
    """Equity or returns of the account the link was made for."""

    make_chart = None

    @extend_schema(parameters=LINK_PARAMETERS, responses=LINK_RESPONSES, tags=["charts"])
    def get(self, request):
        def make(params):
            frame = chart_params(FrameSerializer, request.query_params)["frame"]
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
