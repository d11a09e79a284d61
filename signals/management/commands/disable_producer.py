from machines.management.base import DisableClientCommand
from signals import services
from signals.models import Producer


class Command(DisableClientCommand):
    help = "Disable a producer: its requests are refused from now on (401). Its signals stay."
    model = Producer

    def disable(self, client):
        services.disable_producer(producer=client)
