"""Settings of the fills benchmark's server for its diagnosis run
(`python -m bench fills --audit-only`): production settings plus a URLconf
that disconnects the other receivers of execution's batch event. Never used
outside bench/fills.py."""

from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.fills_urls"
