"""Webhook throughput to a local receiver: deliveries per second of one sender (one task-consumer worker) vs plain HTTP POSTs from it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench webhooks [--rounds 5] [--events 400]

A scratch PostgreSQL database (dropped and created afresh, then migrated);
a receiver process on loopback that answers every POST 200 with HTTP/1.1
keep-alive (http.server, threads); this process is the worker. Each round
writes --events events of one user with an endpoint (as the outbox writes
them; not timed), then times `delivery.services.send_due()` until all are
delivered: each delivery claimed with a lease, its secret decrypted, the
body signed (Standard Webhooks), the address checked, posted over a kept
connection, its attempt recorded. Then, the baseline: the same number of
POSTs of a body of the same size from this process with the same HTTP
client (urllib3, a kept connection), nothing else. The two alternate round
by round, so that a busy machine slows both alike.

Figures: deliveries/s and POSTs/s (medians over the rounds) and their ratio.
Checks: every delivery succeeded, each exactly once at the receiver, every
signature verifies with the standardwebhooks package.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    BASE_DIR,
    PYTHON,
    Checks,
    argument_parser,
    configure_in_process,
    free_port,
    recreate_database,
    scratch_database_url,
)

SMOKE = ["--rounds", "1", "--events", "20"]

RECEIVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # the answer in one write: headers and body apart would wait for a delayed ACK

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/hooks"):
            print(json.dumps({"id": self.headers["webhook-id"], "timestamp": self.headers["webhook-timestamp"],
                              "signature": self.headers["webhook-signature"], "body": body.decode()}), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=400)
    args = parser.parse_args(argv)
    url = scratch_database_url()
    recreate_database(url)
    configure_in_process(WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=os.environ,
                   check=True)
    import django

    django.setup()
    import urllib3
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from standardwebhooks import Webhook

    from delivery import outbox, services
    from delivery.models import Delivery, EventType

    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="tp-bench-")) / "received.jsonl"
    receiver = subprocess.Popen([PYTHON, "-c", RECEIVER, str(port)], stdout=log_path.open("w"))
    checks = Checks()
    try:
        time.sleep(1)
        user = get_user_model().objects.create_user("bench-hooks", password="bench-pass-0123456789")
        endpoint, secret = services.create_endpoint(owner=user, url=f"http://127.0.0.1:{port}/hooks/in",
                                                    event_types=[EventType.SIGNAL_CREATED])
        payload = {"id": "2f1d0c9e-5b7a-4e7e-9a53-0d4c3a7b9f11", "instrument": "EURUSD", "side": "buy",
                   "time": "2026-12-01T09:00:00Z", "version": 1, "entry_price": "1.08450", "stop_loss": "1.08000",
                   "take_profit": "1.09000", "payload": {"rsi": 28.5}, "status": "pending",
                   "expires_at": "2026-12-01T09:15:00Z", "created_at": "2026-12-01T09:00:01.123456Z",
                   "producer": "alpha", "owner": "bench-hooks", "approval": None, "chart_url": None}
        baseline_body = json.dumps({"id": 1, "type": "signal.created", "timestamp": "2026-12-01T09:00:01Z",
                                    "data": payload}).encode()
        plain = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
        ours, theirs = [], []
        for number in range(args.rounds):
            with transaction.atomic():
                outbox.record([(user.pk, EventType.SIGNAL_CREATED, payload)] * args.events)
            started = time.perf_counter()
            sent = 0
            while sent < args.events:
                sent += services.send_due()
            ours.append(args.events / (time.perf_counter() - started))
            started = time.perf_counter()
            for _ in range(args.events):
                plain.urlopen("POST", "/plain", body=baseline_body, headers={"Content-Type": "application/json"},
                              retries=False).read()
            theirs.append(args.events / (time.perf_counter() - started))
            print(f"round {number + 1}: {ours[-1]:.0f} deliveries/s, {theirs[-1]:.0f} plain POSTs/s")
        time.sleep(0.5)
    finally:
        receiver.terminate()
        receiver.wait(10)
    received = [json.loads(line) for line in log_path.read_text().splitlines()]
    shutil.rmtree(log_path.parent)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"median: {statistics.median(ours):.0f} deliveries/s per worker, {statistics.median(theirs):.0f} plain "
          f"POSTs/s from the same worker; ratio {ratio:.2f}")
    total = args.rounds * args.events
    checks(Delivery.objects.filter(status="succeeded").count() == total, f"all {total} deliveries succeeded")
    ids = [message["id"] for message in received]
    checks(len(ids) == len(set(ids)) == total, f"each delivered exactly once: {len(ids)} received, "
                                               f"{len(set(ids))} distinct")
    hook = Webhook(secret)
    verified = 0
    for message in received:
        try:
            hook.verify(message["body"], {"webhook-id": message["id"], "webhook-timestamp": message["timestamp"],
                                          "webhook-signature": message["signature"]})
            verified += 1
        except Exception:  # counted below: any refusal is a failed check
            pass
    checks(verified == total, f"every signature verifies with standardwebhooks: {verified}/{total}")
    return checks.status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
