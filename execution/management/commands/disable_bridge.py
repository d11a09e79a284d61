from execution import services
from execution.models import Bridge
from machines.management.base import DisableClientCommand


class Command(DisableClientCommand):
    help = ("Disable a bridge: its requests are refused from now on (401), and its owner's approvals no "
            "longer become orders. Its orders and positions stay.")
    model = Bridge

    def disable(self, client):
        services.disable_bridge(bridge=client)
