"""Settings of the poll benchmark's server: production settings plus the
bench-only URLconf that adds the signed ping. Never used outside
bench/poll.py."""

from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.poll_urls"
