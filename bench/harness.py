"""What the benchmarks share: the environment Django runs in, scratch
databases, the production stack on this machine (PostgreSQL database, a
private redis-server, gunicorn), timing, and checks that print as they are
made (targets included) and become the exit status."""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python")
GUNICORN = str(BASE_DIR / ".venv" / "bin" / "gunicorn")

# Production mode (DEBUG would keep every query in memory and skew timings),
# no .env, fixed bench-only keys.
PRODUCTION_ENV = {
    "ENV_FILE": "/dev/null", "DEBUG": "False", "SECURE_SSL_REDIRECT": "False",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123",
    "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1mZXJuZXQta2V5LTAxMjM0NTY3ODk=",
}


def configure_in_process(**overrides):
    """For a benchmark that drives the app inside its own process (Django's
    test client): production settings, no log line per request, the host the
    test client sends, no throttle tripping over the repeats, and no
    multiprocess metrics directory (that is gunicorn's). Call it before
    Django is set up. The production mode and keys are the servers' own
    (`Stack`), whatever the shell says: a benchmark's process and its server
    must read the same encrypted secrets. For the rest, values already in
    the environment win, then `overrides`, then these defaults."""
    os.environ.update(PRODUCTION_ENV)
    defaults = {"LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver",
                "THROTTLE_USER": "1000000/min", "DJANGO_SETTINGS_MODULE": "config.settings"}
    for name, value in {**defaults, **overrides}.items():
        os.environ.setdefault(name, value)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def argument_parser(module_name: str, doc: str) -> argparse.ArgumentParser:
    """The options parser of benchmark `module_name`, its docstring as help."""
    return argparse.ArgumentParser(prog=f"python -m bench {module_name.rsplit('.', 1)[-1]}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def scratch_database_url() -> str:
    """DATABASE_URL, which must name a PostgreSQL database this benchmark may
    drop: there is no default, so that no run drops a database by accident."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must name a scratch PostgreSQL database (it is dropped and created afresh), "
                 "e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench")
    return url


def recreate_database(url: str) -> None:
    """Drops the PostgreSQL database `url` names (its connections too) and
    creates it empty: point it at a dedicated database, never a real one."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(url.rsplit("/", 1)[-1].split("?", 1)[0])
    with psycopg.connect(url[: url.rindex("/")] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


@contextmanager
def test_database():
    """Django's test database for the run (`test_<name>` of DATABASE_URL on
    PostgreSQL, in memory on SQLite), dropped at the end: the database
    DATABASE_URL names is never touched. Needs `django.setup()` first."""
    from django.db import connection

    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield connection
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)


@contextmanager
def in_process_on_postgres(**overrides):
    """An in-process benchmark's setting: `configure_in_process(**overrides)`,
    Django set up, and its test database for the run (`test_database`);
    exits unless DATABASE_URL names PostgreSQL. Yields the connection."""
    configure_in_process(**overrides)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: DATABASE_URL=postgres://user@host:5432/name")
    with test_database():
        yield connection


def timed(action) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call. For single-threaded CPU work
    the CPU time is the figure a busy shared machine disturbs least."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved_medians(ours, child_argv: list[str], repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) medians of `ours()` and of a child process's action, runs
    interleaved so that a busy machine slows both alike, each after one
    warm-up. The child (`python -m bench ...child_argv`) runs its action once
    per line read from stdin and answers with the JSON of `timed(action)`."""
    import statistics

    child = subprocess.Popen([sys.executable, "-m", "bench", *child_argv], cwd=BASE_DIR,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def theirs():
        child.stdin.write("go\n")
        child.stdin.flush()
        return tuple(json.loads(child.stdout.readline()))

    try:
        ours(), theirs()  # warm-up
        mine, other = [], []
        for _ in range(repeat):
            mine.append(timed(ours))
            other.append(theirs())
    finally:
        child.stdin.close()
        child.wait(30)
    medians = lambda runs: tuple(statistics.median(run[i] for run in runs) for i in (0, 1))  # noqa: E731
    return medians(mine), medians(other)


def serve_timings(action):
    """The child's side of `interleaved_medians`."""
    for _ in sys.stdin:
        print(json.dumps(timed(action)), flush=True)


def timed_post(connection: http.client.HTTPConnection, path: str, body: bytes,
               headers: dict) -> tuple[float, int, dict]:
    """POSTs `body` on `connection`: (the client's wall seconds until the
    whole answer is read, the status, the answer's JSON or its first bytes)."""
    started = time.perf_counter()
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    content = response.read()
    seconds = time.perf_counter() - started
    try:
        answer = json.loads(content)
    except ValueError:
        answer = {"body": content[:200].decode(errors="replace")}
    return seconds, response.status, answer


class Checks:
    """Prints each check as it is made; `status()` is the exit status: 1 if
    any failed."""

    def __init__(self, out=sys.stdout):
        self.out, self.failures = out, []

    def __call__(self, ok, message):
        self.out.write(f"  [{'ok' if ok else 'FAIL'}] {message}\n")
        if not ok:
            self.failures.append(message)

    def ratio(self, label, value, *, at_most=None, at_least=None):
        """A measured ratio against its target, as a check."""
        ok, target = (value <= at_most, f"<= {at_most:g}") if at_most is not None else \
            (value >= at_least, f">= {at_least:g}")
        self(ok, f"{label} {value:.2f} (target {target})")

    def status(self) -> int:
        return 1 if self.failures else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """What production runs, on this machine, started and stopped together:
    a scratch PostgreSQL database (dropped and created afresh, then
    migrated), a private redis-server on a free port (so stopping it in a
    fault run touches nobody else's Redis), and gunicorn with the production
    configuration (`deploy/gunicorn.conf.py`, `workers` processes of
    `threads` threads). `env` adds to or overrides the server's environment
    (throttle budgets, log level, settings module)."""

    def __init__(self, *, database_url: str, workers: int = 4, threads: int = 1, env=None):
        self.database_url = database_url
        self.workers, self.threads = workers, threads
        self.port, self.redis_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="tp-bench-"))
        self.redis = self.gunicorn = None
        self.env = {
            **os.environ,
            **PRODUCTION_ENV,
            "DATABASE_URL": database_url, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **(env or {}),
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # only the server's workers share metric files

    def __enter__(self):
        try:
            recreate_database(self.database_url)
            self.manage("migrate", "--noinput", "-v", "0")
            self.start_redis()
            self.start_gunicorn()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.gunicorn and self.gunicorn.poll() is None:
            self.gunicorn.terminate()
            try:
                self.gunicorn.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.gunicorn.pid, signal.SIGKILL)
        self.stop_redis()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- Django on the stack's database --------------------------------------------

    def manage(self, *args, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=self.env, capture_output=True,
                              text=True)
        if check and done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done

    def django(self, code: str, payload=None):
        """Runs `code` in a Django process of this stack; it reads `payload`
        (JSON on stdin) as `payload` and prints its answer as JSON."""
        script = "import json, sys, django\ndjango.setup()\npayload = json.load(sys.stdin)\n" + code
        done = subprocess.run([PYTHON, "-c", script], cwd=BASE_DIR, env=self.env, capture_output=True, text=True,
                              input=json.dumps(payload))
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    # --- processes -------------------------------------------------------------------

    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--logfile", str(self.tmp / "redis.log")], stdout=subprocess.DEVNULL)
        self._wait(self._redis_ping, "redis")

    def stop_redis(self):
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_gunicorn(self):
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics")}
        with open(self.tmp / "gunicorn.out", "w") as log:
            self.gunicorn = subprocess.Popen(
                [GUNICORN, "-c", "deploy/gunicorn.conf.py", "config.wsgi"], cwd=BASE_DIR, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self.get("/readyz")[0] == 200, "gunicorn")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.gunicorn.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    @staticmethod
    def _wait(ready, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not come up within {timeout} s")

    # --- HTTP ----------------------------------------------------------------------

    def get(self, path, headers=None):
        """(status, body); status 0 when there was no answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            conn.close()

    def readyz(self):
        """(status, the JSON answer or {} when there was none)."""
        status, body = self.get("/readyz")
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}
