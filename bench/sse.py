"""1,000 event streams (SSE) held by one ASGI process; an event reaches all of them: memory per client, latency p50/p99.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench .venv/bin/python -m bench sse [--clients 1000] [--rounds 5]

The production stack's database (bench/harness.py `Stack`: a scratch
PostgreSQL database, a private redis-server) with one uvicorn process
serving config/asgi.py in place of gunicorn, as `make run` and
deploy/compose.yaml run it. --clients users each open GET
/api/v1/events/stream/ with their own JWT from one asyncio client process
(raw sockets, so the client costs little). Once all are connected, each
round writes one event for every one of them in one transaction, as the
outbox does for a signal published to that many subscribers, and every
client notes when the event's message arrives.

Figures: the server's resident memory with the clients connected minus
before the first one, per client (and its thread count); the latency from
the commit to each client's receipt, p50 and p99 over all rounds; the
stream poller's interval is EVENT_STREAM_POLL_SECONDS (0.25 s by default).
Checks: every client gets every round's event, with the event's id; no
client is refused.
"""

import asyncio
import json
import statistics
import subprocess
import sys
import time

from bench.harness import BASE_DIR, PYTHON, Checks, Stack, argument_parser, scratch_database_url

SMOKE = ["--clients", "20", "--rounds", "2"]

SERVER_ENV = {"LOG_LEVEL": "WARNING"}


class StreamStack(Stack):
    """The stack with uvicorn serving the ASGI application instead of gunicorn."""

    def start_gunicorn(self):
        with open(self.tmp / "uvicorn.out", "w") as log:
            self.gunicorn = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1", "--no-access-log", "--timeout-graceful-shutdown", "2"], cwd=BASE_DIR, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self.get("/healthz")[0] == 200, "uvicorn")

    def memory(self) -> tuple[int, int]:
        """(resident kB, threads) of the uvicorn process."""
        fields = dict(line.split(":", 1) for line in open(f"/proc/{self.gunicorn.pid}/status"))
        return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


USERS = """
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken
User = get_user_model()
users = User.objects.bulk_create([User(username=f"bench-stream-{n:05d}", password="!") for n in range(payload)])
print(json.dumps([str(AccessToken.for_user(user)) for user in users]))
"""

# One event for every user, in one transaction (the outbox's write for a
# publication to that many feeds); the time of the commit is the start of
# every client's latency.
EVENTS = """
import time
from django.db import transaction
from django.contrib.auth import get_user_model
from delivery.models import Event
users = list(get_user_model().objects.filter(username__startswith="bench-stream-").values_list("pk", flat=True))
with transaction.atomic():
    events = Event.objects.bulk_create([Event(user_id=pk, type="signal.created", payload={"round": payload})
                                        for pk in users], batch_size=2000)
committed = time.time()
print(json.dumps({"committed": committed, "ids": [event.pk for event in events]}))
"""


class Client:
    """One stream: connects, reads, notes when each message with an id arrives."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.received: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.status = None

    async def run(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write((f"GET /api/v1/events/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        await writer.drain()
        status_line = await reader.readline()
        self.status = int(status_line.split()[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"retry:"):
                    self.connected.set()
                # Chunked transfer: chunk sizes and SSE lines interleave; only "id: N" lines matter here.
                if line.startswith(b"id: "):
                    self.received[int(line[4:])] = time.time()
        finally:
            self.connected.set()
            writer.close()


async def hold(port, tokens, rounds, stack):
    # A first stream loads everything a stream needs (URLs, views, the poller), then goes.
    warm_up = Client(port, tokens.pop())
    task = asyncio.create_task(warm_up.run())
    await asyncio.wait_for(warm_up.connected.wait(), 60)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(1)
    before = stack.memory()
    clients = [Client(port, token) for token in tokens]
    tasks = [asyncio.create_task(client.run()) for client in clients]
    for client in clients:  # opened steadily, as reconnecting users would
        await asyncio.wait_for(client.connected.wait(), 60)
    await asyncio.sleep(1)
    after = stack.memory()
    results = []
    for number in range(rounds):
        written = await asyncio.to_thread(stack.django, EVENTS, number)
        ids = set(written["ids"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(ids & client.received.keys() for client in clients):
            await asyncio.sleep(0.05)
        latencies = [client.received[event_id] - written["committed"]
                     for client in clients for event_id in ids & client.received.keys()]
        results.append({"latencies": latencies, "reached": sum(bool(ids & c.received.keys()) for c in clients)})
        await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return clients, before, after, results


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    checks = Checks()
    with StreamStack(database_url=scratch_database_url(), env=SERVER_ENV) as stack:
        tokens = stack.django(USERS, args.clients + 1)  # and one for the warm-up
        clients, before, after, results = asyncio.run(hold(stack.port, tokens, args.rounds, stack))
    latencies = sorted(latency for result in results for latency in result["latencies"])
    per_client_kb = (after[0] - before[0]) / args.clients
    print(f"{args.clients} streams on one uvicorn process: resident memory {before[0] / 1024:.1f} MiB before, "
          f"{after[0] / 1024:.1f} MiB with them ({per_client_kb:.1f} KiB per client); threads {before[1]} -> "
          f"{after[1]}")
    if latencies:
        p50, p99 = statistics.median(latencies), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"commit -> client latency over {len(latencies)} deliveries ({args.rounds} rounds): "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    checks(all(client.status == 200 for client in clients),
           f"every client's stream opened (200): {sum(c.status == 200 for c in clients)}/{args.clients}")
    for number, result in enumerate(results):
        checks(result["reached"] == args.clients, f"round {number + 1}: the event reached "
                                                  f"{result['reached']}/{args.clients} clients")
    return checks.status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
