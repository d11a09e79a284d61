"""The operators' console driven end to end in a real headless Chromium
(Debian's `chromium`, through Playwright): log in as staff, filter the
approvals, open one, export the selection as CSV."""

import csv
import io
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Permission

from approvals.models import Approval

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium_page():
    """A page in a fresh headless Chromium. Playwright's sync API marks an
    event loop as running in this thread, where Django then refuses (or
    keeps apart) database connections: the test writes its data before
    opening the browser and touches the database no more until it closes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(accept_downloads=True)
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def log_in(page, base_url, username, password):
    """Logs in on the console's login page; waits for the index."""
    page.goto(f"{base_url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


@pytest.fixture
def reviewer(make_user):
    """A staff operator allowed to view approvals and nothing more."""
    user = make_user("reviewer", is_staff=True)
    user.set_password("reviewer-pass-1234")
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_approval", "view_pendingsignal"]))
    return user


def record(user, decision, make_signal, **signal_fields):
    signal = make_signal(user, created_ago=20, **signal_fields)
    signal.status = decision
    signal.save(update_fields=["status"])
    return Approval.objects.create(signal=signal, user=user, decision=decision, consent_version="1",
                                   reason=f"{user.username} says {decision}", ip="198.51.100.20",
                                   user_agent="TraderApp/4")


def test_operator_logs_in_filters_opens_and_exports(live_server, reviewer, alice, bob, make_signal):
    record(alice, "approved", make_signal, symbol="EURUSD", side="buy")
    rejected = record(bob, "rejected", make_signal, symbol="XAUUSD", side="sell")
    make_signal(alice, expires_in=300)  # still pending

    with chromium_page() as page:
        log_in(page, live_server.url, "reviewer", "reviewer-pass-1234")
        # The console is styled: the admin's CSS was served (DEBUG is off).
        header_colour = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
        assert header_colour not in ("rgba(0, 0, 0, 0)", "transparent")
        assert page.is_visible("text=Pending signals")

        page.click("#content-main a[href$='/approvals/approval/']")
        page.wait_for_selector("#result_list")
        assert page.locator("#result_list tbody tr").count() == 2

        page.click("#changelist-filter a:text-is('Rejected')")
        page.wait_for_url("**decision__exact=rejected**")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1
        assert "bob" in rows.first.inner_text() and "XAUUSD" in rows.first.inner_text()

        rows.first.locator("th a").click()
        page.wait_for_selector("fieldset")
        details = page.inner_text("#content-main")
        for text in (str(rejected.signal_id), "XAUUSD", "sell", "engine-bob", "bob says rejected", "TraderApp/4"):
            assert text in details
        assert page.locator("input[name=decision], select[name=decision], textarea[name=reason]").count() == 0
        page.go_back()
        page.wait_for_selector("#result_list")

        page.check("#action-toggle")  # select every row on the (filtered) page
        page.select_option("select[name=action]", "export_csv")
        with page.expect_download() as download_info:
            page.click("button[name=index]")
        with open(download_info.value.path(), encoding="utf-8") as exported:
            rows = list(csv.DictReader(io.StringIO(exported.read())))
        assert [(r["id"], r["user"], r["instrument"], r["side"], r["decision"], r["reason"]) for r in rows] == [
            (str(rejected.pk), "bob", "XAUUSD", "sell", "rejected", "bob says rejected")]
