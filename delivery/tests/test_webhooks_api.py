"""POST/GET/PATCH/DELETE /api/v1/webhooks/, rotation, deliveries and
redelivery: one test per rule of docs/api.md#webhooks."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from delivery import addresses, services
from delivery.models import Delivery, DeliveryAttempt, WebhookEndpoint
from delivery.tests.conftest import make_event
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

ENDPOINT_KEYS = {"id", "url", "events", "enabled", "disabled_at", "disabled_reason", "consecutive_failures",
                 "failing_since", "previous_secret_expires_at", "created_at"}


def create(user, url, events=("signal.created",)):
    return bearer(user).post("/api/v1/webhooks/", {"url": url, "events": list(events)}, format="json")


def errors_of(response):
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"]


def test_201_with_the_secret_once(alice, receiver):
    response = create(alice, receiver.url, ["order.updated", "signal.created", "signal.created"])
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == ENDPOINT_KEYS | {"secret"}
    assert data["secret"].startswith("whsec_") and data["events"] == ["order.updated", "signal.created"]
    assert response["Location"].endswith(f"/api/v1/webhooks/{data['id']}/")
    shown = bearer(alice).get(f"/api/v1/webhooks/{data['id']}/").json()
    assert set(shown) == ENDPOINT_KEYS  # never again
    assert data["secret"] not in str(list(WebhookEndpoint.objects.values()))  # encrypted at rest
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.meta["origin"] == "http://" + receiver.url.split("/")[2] and "token" not in str(entry.meta)


@pytest.mark.parametrize("url", [
    "http://127.0.0.2/hook",  # loopback outside the allowed 127.0.0.1/32
    "http://10.0.0.8/hook",
    "http://192.168.1.20/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://100.64.0.1/hook",  # shared address space
    "http://224.0.0.1/hook",  # multicast
    "http://0.0.0.0/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",  # a private IPv4 address written as IPv6
    # IPv6 forms that carry an IPv4 address a host may reach through them (Python counts them global):
    "http://[::127.0.0.2]/hook",  # IPv4-compatible
    "http://[::ffff:0:7f00:2]/hook",  # SIIT's IPv4-translated
    "http://[64:ff9b::a00:1]/hook",  # NAT64 to 10.0.0.1
    "http://[2002:a00:1::]/hook",  # 6to4 through 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
    "http://[64:ff9b:1::1]/hook",  # NAT64 for local use
    "http://[fec0::1]/hook",  # site-local
])
def test_422_for_a_target_webhooks_may_not_reach(alice, url):
    assert "url" in errors_of(create(alice, url))
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost:9/hook"])
def test_loopback_is_refused_unless_allowed(alice, settings, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert "url" in errors_of(create(alice, url))


def test_the_operator_may_allow_a_private_network(alice, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert create(alice, "http://10.20.3.4/hook").status_code == 201
    assert "url" in errors_of(create(alice, "http://10.21.0.1/hook"))


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://127.0.0.1/x", "events": ["signal.created"]}, "url"),
    ({"url": "http://user:pw@127.0.0.1/x", "events": ["signal.created"]}, "url"),
    ({"url": "http://no-such-host.invalid/x", "events": ["signal.created"]}, "url"),
    ({"url": "http://127.0.0.1/" + "a" * 2100, "events": ["signal.created"]}, "url"),
    ({"url": "http://127.0.0.1/x", "events": []}, "events"),
    ({"url": "http://127.0.0.1/x", "events": ["signal.deleted"]}, "events.0"),
    ({"url": "http://127.0.0.1/x"}, "events"),
])
def test_422_names_the_field(alice, body, field):
    assert field in errors_of(bearer(alice).post("/api/v1/webhooks/", body, format="json"))


def test_409_past_the_most_endpoints_a_user_may_have(alice, receiver, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    assert [create(alice, receiver.url).status_code for _ in range(3)] == [201, 201, 409]
    assert WebhookEndpoint.objects.count() == 2


def test_another_users_endpoint_is_a_404_everywhere(alice, bob, receiver):
    endpoint_id = create(alice, receiver.url).json()["id"]
    client = bearer(bob)
    assert client.get("/api/v1/webhooks/").json()["results"] == []
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "rotate-secret/"),
                         ("get", "deliveries/"), ("post", "deliveries/1/redeliver/")]:
        response = getattr(client, method)(f"/api/v1/webhooks/{endpoint_id}/{path}", {}, format="json")
        assert response.status_code == 404, (method, path)
    assert WebhookEndpoint.objects.get().enabled


def test_401_without_a_token(anon):
    assert anon.get("/api/v1/webhooks/").status_code == 401


def test_patch_turns_off_and_on(alice, receiver):
    endpoint, _ = services.create_endpoint(owner=alice, url=receiver.url, event_types=["signal.created"])
    make_event(alice)
    client = bearer(alice)
    off = client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": False}, format="json").json()
    assert off["enabled"] is False and off["disabled_reason"]
    assert Delivery.objects.get().status == "failed"  # unsent: no longer owed, but may be redelivered
    on = client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": True, "events": ["order.updated"]},
                      format="json").json()
    assert on["enabled"] is True and on["disabled_reason"] == "" and on["events"] == ["order.updated"]
    assert "url" in errors_of(client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"url": "http://10.0.0.1/"},
                                           format="json"))
    assert list(AuditEntry.objects.filter(action="webhook.update").order_by("seq").values_list("meta__enabled", flat=True)) == [
        False, True]


def test_delete(alice, receiver):
    endpoint, _ = services.create_endpoint(owner=alice, url=receiver.url, event_types=["signal.created"])
    make_event(alice)
    assert bearer(alice).delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()
    assert AuditEntry.objects.filter(action="webhook.delete").exists()


def test_rotation_signs_with_both_secrets_during_the_grace(alice, receiver):
    from standardwebhooks import Webhook

    endpoint_id = (created := create(alice, receiver.url).json())["id"]
    old = created["secret"]
    rotated = bearer(alice).post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret/", {"grace_seconds": 3600},
                                 format="json")
    assert rotated.status_code == 200 and rotated.json()["previous_secret_expires_at"]
    new = rotated.json()["secret"]
    make_event(alice)
    services.send_due()
    request = receiver.wait_for(1)[0]
    for secret in (old, new):
        assert Webhook(secret).verify(request["body"], request["headers"])["type"] == "signal.created"
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    # Rotated again without a grace: only the newest secret signs.
    newest = bearer(alice).post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret/", {"grace_seconds": 0},
                                format="json").json()["secret"]
    make_event(alice)
    services.send_due()
    request = receiver.wait_for(2)[1]
    assert Webhook(newest).verify(request["body"], request["headers"])
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    assert AuditEntry.objects.filter(action="webhook.rotate").count() == 2


def test_deliveries_with_their_attempts_and_redeliver(alice, receiver):
    endpoint, _ = services.create_endpoint(owner=alice, url=receiver.url, event_types=["signal.created"])
    event = make_event(alice)
    receiver.answer = 500
    services.send_due()
    client = bearer(alice)
    listed = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert len(listed) == 1
    delivery = listed[0]
    assert delivery["event"]["id"] == event.pk and delivery["event"]["type"] == "signal.created"
    assert delivery["status"] == "pending" and delivery["attempts"] == 1 and delivery["next_attempt_at"]
    assert delivery["last_status_code"] == 500
    attempt = delivery["attempt_log"][0]
    assert attempt["status_code"] == 500 and attempt["succeeded"] is False and attempt["duration_ms"] >= 0
    assert attempt["error"] == "Answered 500." and attempt["started_at"]
    receiver.answer = 200
    Delivery.objects.update(status="failed")  # as if it had run out of retries
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery['id']}/redeliver/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    services.send_due()
    assert Delivery.objects.get().status == "succeeded" and DeliveryAttempt.objects.count() == 2
    ids = {request["headers"]["webhook-id"] for request in receiver.wait_for(2)}
    assert ids == {str(event.pk)}  # the same message: the receiver may dedupe on it


def test_redeliver_on_a_disabled_endpoint_is_409(alice, receiver):
    endpoint, _ = services.create_endpoint(owner=alice, url=receiver.url, event_types=["signal.created"])
    make_event(alice)
    services.update_endpoint(endpoint=endpoint, enabled=False)
    delivery = Delivery.objects.get()
    response = bearer(alice).post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 409 and response.json()["type"].endswith("/webhook-disabled")


def test_an_internationalised_host_is_stored_and_sent_in_its_ascii_form(alice, receiver, monkeypatch):
    """пример.рф is xn--e1afmkfd.xn--p1ai to DNS, TLS and the Host header."""
    real_getaddrinfo = addresses.socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # the public domain, as DNS would answer for it
        return real_getaddrinfo("127.0.0.1" if host == "xn--e1afmkfd.xn--p1ai" else host, *args, **kwargs)

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)
    port = receiver.server.server_address[1]
    response = create(alice, f"http://пример.рф:{port}/in?token=abc")
    assert response.status_code == 201, response.content
    assert response.json()["url"] == f"http://xn--e1afmkfd.xn--p1ai:{port}/in?token=abc"
    make_event(alice)
    services.send_due()
    assert Delivery.objects.get().status == "succeeded"
    assert receiver.requests[0]["headers"]["host"] == f"xn--e1afmkfd.xn--p1ai:{port}"


def test_the_console_shows_an_endpoints_origin_never_its_token(alice, receiver, client, superuser):
    url = receiver.url.rstrip("/") + "/?token=receivers-own-secret-1234"
    endpoint, _ = services.create_endpoint(owner=alice, url=url, event_types=["signal.created"])
    make_event(alice)  # its delivery to the endpoint is written with it
    delivery = Delivery.objects.get(endpoint=endpoint)
    client.force_login(superuser)
    pages = [reverse("admin:delivery_webhookendpoint_changelist"),
             reverse("admin:delivery_webhookendpoint_change", args=[endpoint.pk]),
             reverse("admin:delivery_delivery_changelist"),
             reverse("admin:delivery_delivery_change", args=[delivery.pk])]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200 and "receivers-own-secret" not in response.content.decode()
    assert addresses.origin_of(url) in client.get(pages[1]).content.decode()
    # Nor a search or filter that would tell whether a guess of it is right.
    listed = client.get(pages[0], {"q": "receivers-own-secret"}).content.decode()
    assert str(endpoint.pk) not in listed
    assert client.get(pages[0], {"url__contains": "receivers-own"}).status_code == 400


@pytest.mark.parametrize("grace", [60.0, "60.0"], ids=["json-float", "decimal-string"])
def test_a_rotations_grace_seconds_as_a_float_is_a_422(alice, receiver, grace):
    # docs/api.md: integers are JSON integers or strings of ASCII digits; a JSON float, even 60.0, is a 422.
    endpoint_id = create(alice, receiver.url).json()["id"]
    response = bearer(alice).post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret/", {"grace_seconds": grace},
                                  format="json")
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == ["grace_seconds"]
