"""A person's risk: the policy in force for them and their account's state
under the guards."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from execution import selectors
from execution.serializers import RiskSerializer
from risk import selectors as risk_selectors


class RiskView(APIView):
    @extend_schema(responses=RiskSerializer, summary="Your effective risk policy and your account's mode and figures")
    def get(self, request):
        policy = risk_selectors.effective_policy(user_id=request.user.pk)
        bridge = selectors.bridge_for_user(user=request.user)
        account = None if bridge is None else selectors.account_risk(bridge=bridge, now=timezone.now())
        return Response(RiskSerializer((policy, account)).data)
