"""The bridge's calls: signed POSTs with a JSON body, each answered from what
is stored, so a replayed call changes nothing."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from execution import services
from execution.authentication import (
    BridgeSignatureAuthentication,
    BridgeThrottle,
    IsBridge,
    bridge_requests_rejected_total,
)
from execution.serializers import (
    MAX_ITEMS_PER_CALL,
    AccountResultSerializer,
    AccountSerializer,
    AcknowledgementSerializer,
    CommandSerializer,
    FillsResultSerializer,
    FillsSerializer,
    PollResultSerializer,
    PollSerializer,
    SymbolsResultSerializer,
    SymbolsSerializer,
)
from machines.authentication import refusal_reason

# 1000 fills (or positions) of ~400 bytes of JSON each fit.
BRIDGE_MAX_BODY_BYTES = 1024 * 1024

REFUSALS = {
    401: OpenApiResponse(description="Missing header, unknown/disabled bridge, bad signature, stale timestamp"),
    413: OpenApiResponse(description="Body over 1 MiB"),
    415: OpenApiResponse(description="Not JSON"),
    422: OpenApiResponse(description=f"Invalid fields, named with dotted paths (`fills.3.volume`); more than "
                                     f"{MAX_ITEMS_PER_CALL} items"),
    429: OpenApiResponse(description="Too many requests from this bridge"),
}


def bridge_call(*, request, response, description, refusals=None):
    return extend_schema(request=request, responses={200: response, **REFUSALS, **(refusals or {})},
                         description=description)


class BridgeView(APIView):
    """A signed bridge call; `body` is the serializer of its JSON body.
    Refusals after authentication are counted like the authentication's."""

    authentication_classes = [BridgeSignatureAuthentication]
    permission_classes = [IsBridge]
    throttle_classes = [BridgeThrottle]
    max_body_bytes = BRIDGE_MAX_BODY_BYTES
    body = None

    def handle_exception(self, exc):
        if reason := refusal_reason(exc):
            bridge_requests_rejected_total.labels(reason=reason).inc()
        return super().handle_exception(exc)

    def validated(self, request) -> dict:
        serializer = self.body(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class SymbolsView(BridgeView):
    body = SymbolsSerializer

    @bridge_call(request=SymbolsSerializer, response=SymbolsResultSerializer,
                 description="The broker's contract specs; sizing needs them. Replaces the earlier specs of "
                             "the same instruments, unless a call signed later wrote them; `updated` counts the "
                             "specs written.")
    def post(self, request):
        updated = services.upsert_symbols(bridge=request.user, symbols=self.validated(request)["symbols"],
                                          signed_at=request.auth.signed_at)
        return Response({"updated": updated})


class PollView(BridgeView):
    body = PollSerializer

    # An empty serializer would leave the body out of the schema: it is a JSON object.
    @bridge_call(request=OpenApiTypes.OBJECT, response=PollResultSerializer,
                 description="The account's commands not yet acknowledged, oldest first (again on every poll "
                             "until acknowledged).")
    def post(self, request):
        self.validated(request)
        commands = services.poll_commands(bridge=request.user)
        return Response({"commands": CommandSerializer(commands, many=True).data})


class AcknowledgementView(BridgeView):
    body = AcknowledgementSerializer

    @bridge_call(request=AcknowledgementSerializer, response=AcknowledgementSerializer,
                 description="What the bridge did with a command. The same answer again is a 200 that changes "
                             "nothing.",
                 refusals={404: OpenApiResponse(description="No such command of this bridge"),
                           409: OpenApiResponse(description="Contradicts the command's earlier acknowledgement")})
    def post(self, request):
        data = self.validated(request)
        command = services.acknowledge_command(bridge=request.user, command_id=data["command"], status=data["status"],
                                               broker_ticket=data["broker_ticket"], error=data["error"])
        return Response(AcknowledgementSerializer(command).data)


class FillsView(BridgeView):
    body = FillsSerializer

    @bridge_call(request=FillsSerializer, response=FillsResultSerializer,
                 description=f"Up to {MAX_ITEMS_PER_CALL} fills, stored once each by fill_id; they open, add to, "
                             f"reduce and close positions. A fill of another bridge's order, or one closing more "
                             f"than its position holds, is a 422 and nothing of the call is stored.")
    def post(self, request):
        inserted, duplicates = services.record_fills(bridge=request.user, fills=self.validated(request)["fills"])
        return Response({"inserted": inserted, "duplicates": duplicates})


class AccountView(BridgeView):
    body = AccountSerializer

    @bridge_call(request=AccountSerializer, response=AccountResultSerializer,
                 description="A snapshot of the account, stored once per time; it feeds the equity curve.")
    def post(self, request):
        summary = services.record_account_snapshot(bridge=request.user, **self.validated(request))
        return Response(AccountResultSerializer(summary).data)
