"""Concurrency tests: a row lock held by another transaction while the test's block runs."""

import contextlib
import threading
from collections.abc import Callable, Iterator

from django.db import connection, transaction


@contextlib.contextmanager
def held_elsewhere(lock: Callable[[], object], *, timeout: float = 10) -> Iterator[threading.Thread]:
    """Run ``lock()`` (a locking read) in a transaction of another thread, on its own connection, and keep
    that transaction open while the block runs; it ends (rolled back: nothing was written) when the block
    does. Yields the holding thread, alive as long as the lock is held."""
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                lock()
                held.set()
                release.wait(2 * timeout)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout), "the other transaction did not take its lock"
        yield holder
    finally:
        release.set()
        holder.join(timeout)
