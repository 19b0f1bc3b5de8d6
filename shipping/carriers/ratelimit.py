"""A fixed-window rate limiter shared by every worker process through the cache (Redis in production):
``RateLimiter("laposte", per_second=100).acquire()`` blocks until a call is allowed in the current second.

Fixed one-second windows may let up to twice the rate through across a window boundary; carriers' quotas
(La Poste: 100 calls a second) are counted the same way, and a 429 that slips through is retried anyway.

While the cache is down, each process counts its own calls (the same window, in memory): the limit then
holds per process rather than for the whole fleet. That fails open on purpose: a carrier's 429 is retried
with backoff, whereas stopping every tracking poll and label for the length of a Redis outage would not be."""

import threading
import time

from django.core.cache import cache

from common.cache import CACHE_ERRORS

_local_lock = threading.Lock()
_local: dict[str, tuple[int, int]] = {}  # name → (window, calls counted in it by this process)


class RateLimitTimeout(Exception):
    """No slot came free within ``max_wait`` seconds."""


class RateLimiter:
    def __init__(self, name: str, *, per_second: int, clock=time.time, sleep=time.sleep):
        self.name = name
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep

    def _key(self, window: int) -> str:
        return f"ratelimit:{self.name}:{window}"

    def try_acquire(self) -> bool:
        """Take a slot in the current second if one is left."""
        window = int(self.clock())
        key = self._key(window)
        try:
            cache.add(key, 0, timeout=5)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr: start the window again
                cache.set(key, 1, timeout=5)
                count = 1
        except CACHE_ERRORS:
            count = self._count_locally(window)
        return count <= self.per_second

    def _count_locally(self, window: int) -> int:
        with _local_lock:
            last_window, count = _local.get(self.name, (window, 0))
            count = count + 1 if last_window == window else 1
            _local[self.name] = (window, count)
        return count

    def acquire(self, *, max_wait: float = 10.0) -> None:
        deadline = self.clock() + max_wait
        while not self.try_acquire():
            now = self.clock()
            if now >= deadline:
                raise RateLimitTimeout(f"{self.name}: no call allowed within {max_wait} s.")
            self.sleep(max(0.001, int(now) + 1 - now))  # until the next window
