"""A person's own risk policy: read it, tighten it."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from risk import selectors, services
from risk.serializers import PolicyChangeSerializer, PolicySerializer

TAGS = ["risk"]


class PolicyView(APIView):
    @extend_schema(responses=PolicySerializer, tags=TAGS, summary="Your effective risk policy")
    def get(self, request):
        return Response(PolicySerializer(selectors.effective_policy(user_id=request.user.pk)).data)

    @extend_schema(request=PolicyChangeSerializer, tags=TAGS, summary="Tighten your own risk policy",
                   responses={200: PolicySerializer,
                              409: OpenApiResponse(description="`risk-policy-changed`: changed meanwhile, retry"),
                              422: OpenApiResponse(description="A setting out of bounds or looser than the value "
                                                               "in force, named")})
    def patch(self, request):
        body = PolicyChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        effective = services.tighten_own_policy(user=request.user, changes=body.validated_data)
        return Response(PolicySerializer(effective).data)
