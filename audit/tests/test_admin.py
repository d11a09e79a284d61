"""The operator console lists the log and can change nothing, superusers included."""

import re
from datetime import UTC

import pytest
from django.test import Client

from audit.models import AuditEntry

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditentry/"


@pytest.fixture
def console(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_changelist_with_filters_search_and_date_hierarchy(console, chain_of):
    chain_of(3, actor_type="producer", actor="alpha")
    response = console.get(CHANGELIST)
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert {f.title for f in changelist.filter_specs} >= {"action", "status", "actor type"}
    assert changelist.date_hierarchy == "ts"
    # seq 1 is the operator's own login
    assert [(e.seq, e.action) for e in changelist.result_list] == [
        (4, "test.step3"), (3, "test.step2"), (2, "test.step1"), (1, "auth.login")]

    action_filter = next(f for f in changelist.filter_specs if f.title == "action")
    assert {"auth.login", "admin.change", "signal.create", "approval.create"} <= {
        value for value, _ in action_filter.lookup_choices}
    assert [e.seq for e in console.get(CHANGELIST, {"action": "test.step2"}).context["cl"].result_list] == [3]
    assert [e.seq for e in console.get(CHANGELIST, {"q": "3"}).context["cl"].result_list] == [4]  # target id
    assert console.get(CHANGELIST, {"q": "alpha"}).context["cl"].result_count == 3  # actor
    assert console.get(CHANGELIST, {"ts__year": "2026"}).status_code == 200


def test_no_add_change_or_delete_even_for_a_superuser(console, superuser, chain_of):
    assert superuser.is_superuser
    entry = chain_of(1)[0]
    before = list(AuditEntry.objects.values())
    assert console.get(f"{CHANGELIST}add/").status_code == 403
    assert console.post(f"{CHANGELIST}add/", {"action": "forged"}).status_code == 403
    assert console.post(f"{CHANGELIST}{entry.pk}/change/", {"action": "forged"}).status_code == 403
    assert console.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    response = console.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [str(entry.pk)],
                                         "post": "yes"})
    assert list(AuditEntry.objects.values()) == before
    assert "delete_selected" not in response.content.decode()


def test_an_entry_can_be_viewed_read_only(console, chain_of):
    entry = chain_of(1, meta={"instrument": "EURUSD"})[0]
    response = console.get(f"{CHANGELIST}{entry.pk}/change/")
    assert response.status_code == 200
    assert "EURUSD" in response.content.decode()
    assert not response.context["has_change_permission"]
    assert 'name="_save"' not in response.content.decode()


def test_an_entry_reads_in_utc_with_its_meta_as_escaped_json(console, chain_of):
    entry = chain_of(1, meta={"reason": "<script>alert(1)</script>", "desk": "Zürich"})[0]
    shown = entry.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = console.get(f"{CHANGELIST}{entry.pk}/change/").content.decode()
    listing = console.get(CHANGELIST).content.decode()
    assert shown in page and shown in listing
    for html in (page, listing):
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", html) and "a.m." not in html and "p.m." not in html
    assert '<pre>{\n  &quot;desk&quot;: &quot;Zürich&quot;,\n  &quot;reason&quot;: ' \
           '&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\n}</pre>' in page
    assert "<script>alert(1)" not in page


def test_a_year_out_of_range_in_the_date_hierarchy_is_not_a_server_error(console_of_errors):
    """Django turns a ValueError of the date hierarchy into a bad lookup, but
    datetime(10**22, 1, 1) raises OverflowError."""
    assert console_of_errors.get(CHANGELIST, {"ts__year": "99999999999999999999999"}).status_code < 500


@pytest.mark.parametrize("parameter", ["action", "status__exact", "actor_type__exact"])
def test_a_nul_character_in_a_filter_is_a_400_not_a_server_error(console_of_errors, parameter):
    """PostgreSQL refuses NUL in a text parameter when the query runs, after
    the admin's checks of the lookups; the console refuses it first."""
    assert console_of_errors.get(CHANGELIST, {parameter: "\x00"}).status_code == 400


@pytest.fixture
def console_of_errors(superuser):
    """A console whose requests answer 500 instead of raising in the test."""
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    return client
