"""The console pages every kind of machine client shares (producers,
bridges): add one, rotate its secret, disable it, all through the owning
app's audited services.

A new secret is shown once, in the body of the page that answers the add or
rotate request (the admin's pages are sent with Cache-Control: no-store):
never in a message, which Django keeps in a signed (readable) cookie or in
the session until the next page, and never in a log.
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from machines.models import MachineClient
from machines.services import DEFAULT_GRACE_SECONDS


class MachineClientAdmin(admin.ModelAdmin):
    """A subclass sets `creation_fields` (the add form's fields),
    `detail_fields` (what the change page shows, all read-only: after
    creation every change is an audited action) and implements the three
    service hooks."""

    creation_fields: list[str] = ["name", "owner"]
    detail_fields: list[str] = ["name", "owner", "key_id", "enabled", "created_at", "disabled_at"]
    creation_form = None  # the add form's class, when the model's own fields are not enough
    actions = ["rotate_secret", "disable"]

    def create_client(self, obj: MachineClient) -> tuple[MachineClient, str]:
        """Creates the client `obj` describes (unsaved, from the add form);
        returns it and its first secret."""
        raise NotImplementedError

    def rotate_client_secret(self, client: MachineClient) -> str:
        raise NotImplementedError

    def disable_client(self, client: MachineClient) -> None:
        raise NotImplementedError

    def get_fields(self, request, obj=None):
        return self.creation_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and self.creation_form is not None:
            kwargs.setdefault("form", self.creation_form)
        return super().get_form(request, obj, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # what it sent and its audit entries refer to it: disable it instead

    def save_model(self, request, obj, form, change):
        if change:
            return
        client, secret = self.create_client(obj)
        # The admin goes on with `obj` (its log entry, then response_add): make it the stored client.
        obj.__dict__.update({k: v for k, v in client.__dict__.items() if k != "_state"})
        obj._state.adding, obj._state.db = False, client._state.db
        obj._new_secret = secret  # in memory, for response_add alone

    def response_add(self, request, obj, post_url_continue=None):
        return self.secrets_page(request, [(obj, obj._new_secret)],
                                 title=f"{self.opts.verbose_name.capitalize()} added")

    @admin.action(description=f"Rotate secret (old secrets keep working for {DEFAULT_GRACE_SECONDS // 3600} h)",
                  permissions=["change"])
    def rotate_secret(self, request, queryset):
        issued = [(client, self.rotate_client_secret(client)) for client in queryset.filter(enabled=True)]
        if not issued:
            self.message_user(request, f"No enabled {self.opts.verbose_name} was selected: nothing rotated.",
                              messages.WARNING)
            return None
        return self.secrets_page(request, issued, title="Secrets rotated")

    @admin.action(description="Disable (its requests are refused from now on)", permissions=["change"])
    def disable(self, request, queryset):
        for client in queryset.filter(enabled=True):
            self.disable_client(client)
            self.message_user(request, f"{self.opts.verbose_name.capitalize()} “{client.name}” disabled.")

    def secrets_page(self, request, issued, *, title):
        """The one place a client's secret is ever shown."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": title,
                   "issued": [{"client": client, "secret": secret} for client, secret in issued]}
        return TemplateResponse(request, "machines/admin/secrets.html", context)
