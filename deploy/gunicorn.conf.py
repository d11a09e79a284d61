"""gunicorn settings for `make run` and production. Everything is overridable
from the environment (GUNICORN_CMD_ARGS or the variables below)."""

import os

from prometheus_client import multiprocess

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")

# Throttle counters, render locks and cached charts live in the cache. Without
# Redis that cache is per-process memory, so serve one process with threads;
# with Redis every process shares it and we can use every core. There, one
# thread per process (gunicorn's sync worker, behind a buffering proxy): with
# two, a thread back from the database waits for the GIL while the other
# computes (holding the audit chain's lock all that while), and
# `python -m bench ingest` measured a fifth fewer signed requests per second.
if os.environ.get("REDIS_URL"):
    workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) * 2 + 1))
    threads = int(os.environ.get("GUNICORN_THREADS", "1"))
else:
    workers = 1
    threads = int(os.environ.get("GUNICORN_THREADS", "8"))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers to bound slow leaks
max_requests_jitter = 500
accesslog = None  # the app writes one structured line per request itself
errorlog = "-"
# gunicorn's control socket (for `gunicornc`) is one path per user by default,
# ~/.gunicorn/gunicorn.ctl, which every gunicorn of that user on the host
# would share; nothing here uses it.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):
    """Metrics from all workers are summed from files in this directory; files
    left by an earlier run would be summed in too. The task consumer and the
    event stream's ASGI process write theirs here as well and may have
    started first: the files of processes still running stay."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            pid = name.rsplit("_", 1)[-1].removesuffix(".db")
            if not (pid.isdigit() and _alive(int(pid))):
                os.remove(os.path.join(path, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
