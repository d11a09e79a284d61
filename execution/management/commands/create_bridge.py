from execution import services
from execution.models import Bridge
from machines.management.base import CreateClientCommand


class Command(CreateClientCommand):
    help = ("Create a bridge (the program that trades one broker account) and print its key id and secret. "
            "The secret is shown only now.")
    model = Bridge
    owner_help = "username whose approvals the bridge executes (a user has at most one enabled bridge)"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--account-ref", required=True, help="the broker's id of the account")
        parser.add_argument("--currency", default="USD", type=str.upper,
                            help="the account currency, ISO 4217 (default USD)")

    def create(self, *, name, owner, account_ref, currency, **options):
        return services.create_bridge(name=name, owner=owner, account_ref=account_ref, currency=currency)
