"""A person's orders, positions and reconciliation runs (their own; staff
see everyone's, another user's is a 404), closing a position, and the
trading kill switch."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from execution import selectors, services
from execution.filters import OrderFilter, PositionFilter, ReconciliationFilter
from execution.models import Order, Position, ReconciliationRun
from execution.serializers import (
    CommandSerializer,
    OrderSerializer,
    PositionSerializer,
    ReconciliationRunSerializer,
    TradingStateSerializer,
)


@extend_schema_view(list=extend_schema(summary="Your orders (staff: all), newest first"),
                    retrieve=extend_schema(summary="One of your orders"))
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Order.objects.none()
        return selectors.visible_orders(user=self.request.user)


@extend_schema_view(list=extend_schema(summary="Your positions (staff: all), newest first"),
                    retrieve=extend_schema(summary="One of your positions"))
class PositionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = PositionSerializer
    filterset_class = PositionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Position.objects.none()
        return selectors.visible_positions(user=self.request.user)


@extend_schema_view(list=extend_schema(
    summary="Your accounts' reconciliation runs (staff: all), newest first",
    description="Each account snapshot's comparison of the broker's open positions with the platform's, and a "
                "`stale` run when an account falls silent. Staff narrow the list with `?bridge=` (key id) or "
                "`?user=` (username)."))
class ReconciliationViewSet(mixins.ListModelMixin, GenericViewSet):
    serializer_class = ReconciliationRunSerializer
    filterset_class = ReconciliationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationRun.objects.none()
        return selectors.visible_reconciliation_runs(user=self.request.user)


class PositionCloseView(APIView):
    @extend_schema(request=None, summary="Ask the bridge to close one of your open positions",
                   responses={202: CommandSerializer,
                              409: OpenApiResponse(description="`position-not-open`: it is closed")})
    def post(self, request, pk):
        command = services.request_position_close(user=request.user, position_id=pk)
        return Response(CommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)


class PauseTradingView(APIView):
    @extend_schema(request=None, responses={200: TradingStateSerializer,
                                            404: OpenApiResponse(description="You have no enabled bridge")},
                   summary="Pause your trading: every new order is denied `paused`")
    def post(self, request):
        return Response(TradingStateSerializer(services.pause_trading(user=request.user)).data)


class ResumeTradingView(APIView):
    @extend_schema(request=None, responses={200: TradingStateSerializer,
                                            404: OpenApiResponse(description="You have no enabled bridge")},
                   summary="Resume your trading")
    def post(self, request):
        return Response(TradingStateSerializer(services.resume_trading(user=request.user)).data)
