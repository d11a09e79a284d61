"""The operators' commands every kind of machine client has: create one,
rotate its secret, disable it (`create_producer`, `create_bridge`, ...).

A subclass names the concrete model and calls the owning app's audited
service in its hook (`create`, `rotate`, `disable`). The audit entry names
the command as the actor. A new secret is printed once; the `--json` form is
what automation reads, so it is the one object and nothing else.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from core import request_context
from machines.models import MachineClient
from machines.services import DEFAULT_GRACE_SECONDS


class MachineClientCommand(BaseCommand):
    model: type[MachineClient]  # set by each subclass

    @property
    def kind(self) -> str:
        return str(self.model._meta.verbose_name)

    def act_as_operator(self) -> None:
        command_name = type(self).__module__.rsplit(".", 1)[-1]
        request_context.set_actor("system", f"manage.py {command_name}")

    def client_by_key_id(self, key_id: str) -> MachineClient:
        client = self.model.objects.filter(key_id=key_id).first()
        if client is None:
            raise CommandError(f"No {self.kind} with key id {key_id!r}.")
        return client

    def print_credentials(self, client: MachineClient, secret: str, *, as_json: bool, intro: str) -> None:
        if as_json:
            self.stdout.write(json.dumps({"key_id": client.key_id, "secret": secret}))
            return
        self.stdout.write(intro)
        self.stdout.write(f"Key id: {client.key_id}")
        self.stdout.write(f"Secret: {secret}")
        self.stdout.write("Store the secret now: it is not shown again.")


def _messages(detail) -> list[str]:
    """A ValidationError's messages, whatever fields they are under."""
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]


def add_json_argument(parser) -> None:
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help='print only {"key_id": ..., "secret": ...}')


class CreateClientCommand(MachineClientCommand):
    """`NAME --owner USERNAME [--json]`, plus what the subclass adds."""

    owner_help = "the username the client acts for"

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help=self.owner_help)
        add_json_argument(parser)

    def handle(self, *args, name, owner, as_json=False, **options):
        self.act_as_operator()
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named {owner!r}.")
        if self.model.objects.filter(name=name).exists():
            raise CommandError(f"A {self.kind} named {name!r} already exists.")
        try:
            client, secret = self.create(name=name, owner=user, **options)
        except ValidationError as exc:
            raise CommandError(" ".join(_messages(exc.detail)))
        self.print_credentials(client, secret, as_json=as_json,
                               intro=f"{self.kind.capitalize()} {client.name!r} created for {user.username}.")

    def create(self, *, name: str, owner, **options) -> tuple[MachineClient, str]:
        """The app's create service: the client and its first secret."""
        raise NotImplementedError


# Far past any sensible overlap of two secrets, and far below the dates
# Python can hold.
MAX_GRACE_SECONDS = 10 * 365 * 24 * 3600


class RotateSecretCommand(MachineClientCommand):
    """`KEY_ID [--grace-seconds N] [--json]`."""

    def add_arguments(self, parser):
        parser.add_argument("key_id")
        parser.add_argument("--grace-seconds", type=int, default=DEFAULT_GRACE_SECONDS,
                            help=f"how long the current secrets keep working, default {DEFAULT_GRACE_SECONDS} "
                                 "(0: they stop now)")
        add_json_argument(parser)

    def handle(self, *args, key_id, grace_seconds, as_json=False, **options):
        self.act_as_operator()
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise CommandError(f"--grace-seconds must be from 0 to {MAX_GRACE_SECONDS} (ten years).")
        client = self.client_by_key_id(key_id)
        if not client.enabled:
            raise CommandError(f"{self.kind.capitalize()} {client.name!r} is disabled.")
        secret = self.rotate(client, grace_seconds=grace_seconds)
        self.print_credentials(client, secret, as_json=as_json,
                               intro=f"New secret for {client.name!r}; the previous ones stop working "
                                     f"in {grace_seconds} s.")

    def rotate(self, client: MachineClient, *, grace_seconds: int) -> str:
        """The app's rotate service: the new secret."""
        raise NotImplementedError


class DisableClientCommand(MachineClientCommand):
    """`KEY_ID`. Disabling a disabled client changes nothing."""

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id, **options):
        self.act_as_operator()
        client = self.client_by_key_id(key_id)
        if not client.enabled:
            self.stdout.write(f"{self.kind.capitalize()} {client.name!r} was already disabled.")
            return
        self.disable(client)
        self.stdout.write(f"{self.kind.capitalize()} {client.name!r} ({client.key_id}) disabled: "
                          "its requests are refused from now on.")

    def disable(self, client: MachineClient) -> None:
        """The app's disable service."""
        raise NotImplementedError
