"""GET-only views of the performance figures (docs/api.md#performance-analytics):
the caller's account, a staff member's look at another user's, a
strategy's owner's look across its subscribers."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.models import DailyRollup
from analytics.serializers import (AnalyticsQuerySerializer, DaySerializer, InstrumentFiguresSerializer,
                                   SummarySerializer)
from core.pagination import NewestFirstCursorPagination
from signals.models import Instrument

NOT_FOUND = OpenApiResponse(description="No such producer of yours, or no such user (staff), or ?user= "
                                        "without being staff")


def _query(request) -> tuple[selectors.Subject, str]:
    query = AnalyticsQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    subject = selectors.subject_for(user=request.user, producer=params.get("producer"),
                                    username=params.get("user"))
    return subject, params["window"]


class SummaryView(APIView):
    @extend_schema(parameters=[AnalyticsQuerySerializer], responses={200: SummarySerializer, 404: NOT_FOUND},
                   summary="Trade and return statistics over a window")
    def get(self, request):
        subject, window = _query(request)
        return Response(SummarySerializer(selectors.summary(subject=subject, window=window)).data)


class DayPagination(NewestFirstCursorPagination):
    ordering = ("-day",)  # a subject has one row a day


class InstrumentPagination(NewestFirstCursorPagination):
    ordering = ("-id",)  # the newest instrument of the platform first


class DailyView(ListAPIView):
    queryset = DailyRollup.objects.none()  # the schema's; `get` reads the subject's days
    serializer_class = DaySerializer
    pagination_class = DayPagination

    @extend_schema(parameters=[AnalyticsQuerySerializer], responses={200: DaySerializer(many=True), 404: NOT_FOUND},
                   summary="P&L, return, equity and closed positions per UTC day, newest first")
    def get(self, request):
        subject, window = _query(request)
        page = self.paginate_queryset(selectors.daily(subject=subject, window=window))
        return self.get_paginated_response(DaySerializer([selectors.day_figures(row) for row in page],
                                                         many=True).data)


class ByInstrumentView(ListAPIView):
    queryset = Instrument.objects.none()  # the schema's; `get` reads the instruments traded
    serializer_class = InstrumentFiguresSerializer
    pagination_class = InstrumentPagination

    @extend_schema(parameters=[AnalyticsQuerySerializer],
                   responses={200: InstrumentFiguresSerializer(many=True), 404: NOT_FOUND},
                   summary="Trade statistics per instrument over a window")
    def get(self, request):
        subject, window = _query(request)
        instruments, figures = selectors.by_instrument(subject=subject, window=window)
        page = self.paginate_queryset(instruments)
        return self.get_paginated_response(InstrumentFiguresSerializer([figures[instrument.pk] for instrument in page],
                                                                       many=True).data)
