"""The operators' dashboard in a real headless Chromium: staff log in, read
the figures on the console's index page, and follow one to the list of the
rows it counted."""

import pytest

from approvals.tests.test_console_browser import chromium_page, log_in
from tests.dashboard_data import EXPECTED, NOW, populate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_read_the_figures_and_follow_one_to_its_filtered_list(live_server, make_user, time_machine):
    time_machine.move_to(NOW, tick=True)
    populate(time_machine=time_machine)
    time_machine.move_to(NOW, tick=True)
    operator = make_user("operator", is_staff=True, is_superuser=True)
    operator.set_password("operator-pass-1234")
    operator.save()

    with chromium_page() as page:
        log_in(page, live_server.url, "operator", "operator-pass-1234")
        assert page.inner_text("#dashboard h2").startswith("At a glance, as of 2027-01-12 09:3")
        assert page.inner_text("#dashboard h2").endswith(" UTC")
        shown = {key: page.inner_text(f"[data-figure='{key}'] .figure-value") for key in EXPECTED}
        assert shown == {key: str(count) for key, count in EXPECTED.items()}
        assert page.inner_text("[data-figure='audit-chain'] .figure-value") == "verifies"

        page.click("[data-figure='accounts-halted'] .figure-value a")
        page.wait_for_selector("#result_list")
        assert "account=halted" in page.url
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == EXPECTED["accounts-halted"]
        assert sorted(rows.nth(n).locator("th").inner_text() for n in range(rows.count())) == ["d-a", "g-a"]
        # The list says which filter it shows.
        assert page.inner_text("#changelist-filter li.selected a:text-is('halted')") == "halted"
