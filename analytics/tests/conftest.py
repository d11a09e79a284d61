import pytest


@pytest.fixture
def markets_open(settings):
    # Orders in these tests may be placed on a weekend.
    settings.MARKET_HOURS_DEFAULT = "always"
