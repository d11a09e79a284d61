"""Charts by signed link, outside the versioned API: the URLs that `<img src>`
embeds. The link's signature is the only credential (core/signed_links.py)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny

from charting import charts, registry, selectors
from charting.media import chart_image, png_response
from charting.serializers import LinkFrameSerializer, SignalLinkQuerySerializer
from charting.views.charts import NO_FORMAT, PNG_RESPONSES, ChartView, chart_params, kind_view
from core import signed_links
from signals.models import Signal

# Signed links may sit in shared caches (chat proxies, CDNs), never past the
# link's expiry and briefly enough that new bars show up soon.
PUBLIC_MAX_AGE_SECONDS = 300
FRAME_PARAMS = ("width", "height", "bars")

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


class PublicKindChartView(PublicChartView):
    """/charts/<name>/ of a registered chart kind: the signed parameters are
    the subject the link was made for and the frame."""

    kind = None  # set per kind by kind_view()
    query_serializer = None

    def get(self, request):
        def make(params):
            frame = chart_params(self.query_serializer, request.query_params)["frame"]
            subject = {name: value for name, value in params.items() if name not in FRAME_PARAMS}
            return registry.chart_of(self.kind, subject=subject, frame=frame)
        return self.answer_link(request, make)


def public_kind_view(kind):
    return kind_view(kind, base=PublicKindChartView, frame=LinkFrameSerializer, responses=LINK_RESPONSES,
                     parameters=LINK_PARAMETERS)


class PublicSignalChartView(PublicChartView):
    @extend_schema(summary="A signal's chart by signed link (the signature is the authorization)",
                   parameters=[SignalLinkQuerySerializer, *LINK_PARAMETERS], responses=LINK_RESPONSES)
    def get(self, request, pk):
        def make(params):
            signal = get_object_or_404(selectors.chart_signals(Signal.objects.all()), pk=pk)
            data = chart_params(SignalLinkQuerySerializer, request.query_params)
            return charts.signal_chart(signal=signal, frame=data["frame"], timeframe=data.get("timeframe"))
        return self.answer_link(request, make)
