from machines.management.base import CreateClientCommand
from signals import services
from signals.models import Producer


class Command(CreateClientCommand):
    help = "Create a producer (strategy engine) and print its key id and secret. The secret is shown only now."
    model = Producer
    owner_help = "username whose feed the producer's signals land in"

    def create(self, *, name, owner, **options):
        return services.create_producer(name=name, owner=owner)
