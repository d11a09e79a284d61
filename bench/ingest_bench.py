"""Benchmark (issue 4): signed ingestion vs a baseline, same server, same run.

gunicorn with 2 workers on PostgreSQL and Redis; the load comes from separate
processes (bench/ingest_load.py) over loopback. The two endpoints take turns
in one-second slices (so both see the same background load of a shared
machine), each for --seconds in all (default 30: shorter runs of the same code
wandered by ±0.03):

- signed:   POST /api/v1/signals/ — verify the HMAC, validate, insert, audit, metrics;
- baseline: POST /api/v1/bench/baseline/ — parse the JSON body with DRF, insert one row
  (bench/ingest_urls.py; the endpoint exists only in this benchmark's server).

Target: signed req/s ≥ 0.6 × baseline req/s.

    .venv/bin/python bench/ingest_bench.py [--seconds 30] [--without-audit]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tp_signals_bench) is
DROPPED and recreated: point it at a throwaway database. REDIS_URL defaults
to redis://127.0.0.1:6379/5.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import common
from common import BASE_DIR

PYTHON = str(BASE_DIR / ".venv" / "bin" / "python")

ENV = {
    **os.environ,
    **common.PRODUCTION_ENV,
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tp_signals_bench"),
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
    "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
    # A budget the load never exhausts, taken in slices of production's size
    # (600/min: one Redis call per 6 requests, core/throttling.py):
    # the per-producer check costs what it costs in production, but never refuses.
    "THROTTLE_PRODUCER": "600/s",
}


def manage(*args, capture=False):
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=ENV, check=True,
                            capture_output=capture, text=True)
    return result.stdout


def fresh_database():
    common.recreate_database(ENV["DATABASE_URL"])
    manage("migrate", "--noinput", "-v", "0")
    manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                          "get_user_model().objects.create_user('bench-trader', password='bench-pass-0123456789')")
    return json.loads(manage("create_producer", "bench-engine", "--owner", "bench-trader", "--json", capture=True))


def start_server(port, metrics_dir):
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "PORT": str(port)}
    server = subprocess.Popen(
        [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "config.wsgi"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("gunicorn did not come up")


def stop_server(server):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def load(port, seconds, credentials, version_base):
    output = subprocess.run(
        [PYTHON, "bench/ingest_load.py", "--signed-url", f"http://127.0.0.1:{port}/api/v1/signals/",
         "--baseline-url", f"http://127.0.0.1:{port}/api/v1/bench/baseline/", "--seconds", str(seconds),
         "--key-id", credentials["key_id"], f"--secret={credentials['secret']}", "--version-base", str(version_base)],
        cwd=BASE_DIR, env=ENV, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--without-audit", action="store_true",
                        help="diagnosis: signed ingestion without its audit entry (not the figure to report)")
    args = parser.parse_args()
    if args.without_audit:
        ENV["BENCH_WITHOUT_AUDIT"] = "1"

    credentials = fresh_database()
    with tempfile.TemporaryDirectory() as metrics_dir:
        server = start_server(args.port, metrics_dir)
        try:
            load(args.port, 4, credentials, 1)  # warm-up: connections, imports, caches
            result = load(args.port, 2 * args.seconds, credentials, 100_000_000)
        finally:
            stop_server(server)

    for mode in ("baseline", "signed"):
        print(mode, json.dumps(result[mode]))
    ratio = result["signed"]["ok_per_second"] / result["baseline"]["ok_per_second"]
    print(f"baseline {result['baseline']['ok_per_second']} req/s, signed {result['signed']['ok_per_second']} req/s, "
          f"ratio {ratio:.2f} (target >= 0.6)")
    unexpected = {mode: r["statuses"] for mode, r in result.items() if set(r["statuses"]) - {"200", "201"}}
    if unexpected:
        print(f"unexpected statuses: {unexpected}", file=sys.stderr)
    return 0 if ratio >= 0.6 and not unexpected else 1


if __name__ == "__main__":
    sys.exit(main())
