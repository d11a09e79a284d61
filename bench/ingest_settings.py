"""Settings of the ingestion benchmark's server: production settings plus
the bench-only URLconf that adds the baseline endpoint. Never used outside
bench/ingest.py."""

from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.ingest_urls"
