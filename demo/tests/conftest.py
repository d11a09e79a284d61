# The demo producer's printed secret is tried with the signals app's signed
# client: its trader, and its signal bodies produced as each test starts.
from signals.tests.conftest import _signals_produced_at_test_start, trader  # noqa: F401 (fixtures)
