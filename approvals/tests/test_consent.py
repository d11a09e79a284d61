"""Versioned consent texts; a published version never changes."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from approvals import services
from approvals.models import ConsentText, PublishedConsentIsFinal
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/api/v1/consent/current/"


def test_version_1_ships_and_is_current(alice, client_for):
    response = client_for(alice).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"version", "text", "published_at"}
    assert body["version"] == "1"
    assert "decision is final" in body["text"]
    assert body["published_at"].endswith("Z")


def test_consent_needs_a_token():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_publishing_makes_the_new_version_current_and_is_audited(alice, operator, client_for):
    services.publish_consent(text="New terms.", version="2", by=operator)
    body = client_for(alice).get(URL).json()
    assert (body["version"], body["text"]) == ("2", "New terms.")
    entry = AuditEntry.objects.get(action="consent.publish")
    assert (entry.actor_type, entry.actor, entry.meta) == ("user", "operator", {"version": "2"})
    assert entry.target_id == str(ConsentText.objects.get(version="2").pk)


def test_a_published_version_cannot_be_changed_or_removed():
    consent = ConsentText.objects.get(version="1")
    consent.text = "Something the user never agreed to."
    with pytest.raises(PublishedConsentIsFinal):
        consent.save()
    with pytest.raises(PublishedConsentIsFinal):
        ConsentText.objects.filter(pk=consent.pk).update(text="rewritten")
    with pytest.raises(PublishedConsentIsFinal):
        consent.delete()
    with pytest.raises(PublishedConsentIsFinal):
        ConsentText.objects.all().delete()
    assert ConsentText.objects.get(pk=consent.pk).text != "rewritten"


def test_a_version_label_is_published_once(operator):
    with pytest.raises(ValidationError) as excinfo:
        services.publish_consent(text="Again.", version="1", by=operator)
    assert "version" in excinfo.value.message_dict
    assert ConsentText.objects.count() == 1
    assert not AuditEntry.objects.filter(action="consent.publish").exists()


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


def test_operator_publishes_a_new_version_in_the_admin(console):
    response = console.post(reverse("admin:approvals_consenttext_add"), {"version": "2", "text": "Terms v2."})
    assert response.status_code == 302
    assert ConsentText.objects.current().version == "2"
    entry = AuditEntry.objects.get(action="consent.publish")
    assert (entry.actor, entry.meta) == ("root", {"version": "2"})


def test_admin_shows_a_published_version_read_only(console):
    consent = ConsentText.objects.get(version="1")
    change_url = reverse("admin:approvals_consenttext_change", args=[consent.pk])
    page = console.get(change_url)
    assert page.status_code == 200
    assert b'name="text"' not in page.content  # no editable field, only the stored words
    assert console.post(change_url, {"version": "1", "text": "rewritten"}).status_code == 403
    assert console.post(reverse("admin:approvals_consenttext_delete", args=[consent.pk]),
                        {"post": "yes"}).status_code == 403
    assert ConsentText.objects.get(pk=consent.pk).text == consent.text
    assert not AuditEntry.objects.filter(action="consent.publish").exists()


def test_admin_refuses_a_duplicate_version(console):
    response = console.post(reverse("admin:approvals_consenttext_add"), {"version": "1", "text": "x"})
    assert response.status_code == 200  # the form again, with the error
    assert b"already exists" in response.content
    assert ConsentText.objects.count() == 1
