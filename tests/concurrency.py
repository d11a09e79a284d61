"""Real concurrency for race tests and benchmarks: callables released at the
same moment, each in a thread with its own database connection."""

import threading

from django.db import connection


def run_together(targets, *, timeout=120):
    """Runs each callable of `targets` in a thread of its own, all waiting
    at a barrier so that they start at the same moment, and returns their
    results in the order of `targets`. Each thread closes its database
    connection when done (Django opens one per thread). Raises an
    ExceptionGroup of whatever the targets raised, and TimeoutError if one
    is still running after `timeout` seconds."""
    barrier = threading.Barrier(len(targets))
    results, errors = [None] * len(targets), []

    def run(index, target):
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # raised below, once every thread is done
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, target)) for index, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"threads still running after {timeout} s")
    if errors:
        raise ExceptionGroup(f"{len(errors)} of {len(targets)} threads failed", errors)
    return results
