"""The cache when Redis is down: it fails fast and says so, and callers degrade instead of failing.

``RedisCache`` is Django's Redis backend with two changes (settings: ``CACHES["default"]["BACKEND"]``):

- a Redis that cannot be reached raises ``CacheUnavailable``, one exception for every way it fails
  (refused, timed out, reset);
- after such a failure the process does not try Redis again for ``REDIS_RETRY_AFTER_SECONDS`` (a circuit
  breaker): every call in that time raises ``CacheUnavailable`` at once, so a dead or unreachable Redis
  costs a request microseconds, not a socket timeout per call.

Nothing in the project relies on the cache for correctness. Callers read through the helpers below, which
answer the default when the cache cannot (``cache_get`` → ``default``, ``cache_add`` → ``None``: "unknown",
never "already there"), and fall back to PostgreSQL where the answer matters (shipping/selectors.py for the
carrier network's version, common/ratelimit.py for the rate limits).
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

logger = logging.getLogger(__name__)


class CacheUnavailable(Exception):
    """The cache could not be reached (or was not tried: it failed a moment ago)."""


try:  # redis-py is installed with celery[redis]; the names are only needed when Redis is used
    from redis.exceptions import ConnectionError as _RedisConnectionError
    from redis.exceptions import TimeoutError as _RedisTimeoutError

    _OUTAGE = (_RedisConnectionError, _RedisTimeoutError, OSError)
except ImportError:  # pragma: no cover
    _OUTAGE = (OSError,)

# Errors a caller of the cache should treat as "the cache did not answer".
CACHE_ERRORS = (CacheUnavailable, *_OUTAGE)

_lock = threading.Lock()
_down_until: dict[str, float] = {}  # per Redis location: monotonic time until which it is not tried
_last_error: dict[str, str] = {}


def _retry_after() -> float:
    return float(getattr(settings, "REDIS_RETRY_AFTER_SECONDS", 5.0))


# Each key set if it is not (``SET NX EX``): 1 where this call set it, 0 where it was there. One command
# (``EVALSHA``) for every key: a pipeline of ``SET`` commands cost the request ~3x more CPU in redis-py.
_ADD_FLAGS_LUA = """
local done = {}
for i, key in ipairs(KEYS) do
    if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) then done[i] = 1 else done[i] = 0 end
end
return done
"""


class _Flags:
    """What Django's Redis backend lacks: several ``SET NX`` in one round trip (``RedisCache.add_flags``,
    whose ``_guarded`` reaches this through ``super()``)."""

    _flags_script = None

    def _add_flags(self, keys: list[str], timeout: float) -> list[bool]:
        client = self._cache.get_client(None, write=True)
        script = self._flags_script
        if script is None:  # its SHA1 computed once; Django gives a new client object per call
            script = type(self)._flags_script = client.register_script(_ADD_FLAGS_LUA)
        value = self._cache._serializer.dumps(1)
        done = script(
            client=client,
            keys=[self.make_and_validate_key(key) for key in keys],
            args=[value, max(1, int(timeout))],
        )
        return [bool(one) for one in done]


class RedisCache(_Flags, DjangoRedisCache):
    """Django's Redis cache backend that fails fast (see the module's docstring)."""

    def _guarded(self, method: str, *args, **kwargs):
        key = self._servers[0] if self._servers else ""
        now = time.monotonic()
        if _down_until.get(key, 0.0) > now:
            raise CacheUnavailable(_last_error.get(key, "the cache failed a moment ago"))
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except _OUTAGE as exc:
            with _lock:
                first = _down_until.get(key, 0.0) == 0.0
                _down_until[key] = time.monotonic() + _retry_after()
                _last_error[key] = f"{type(exc).__name__}: {exc}"[:300]
            if first:
                logger.warning("Cache unreachable (%s): serving without it", _last_error[key])
            raise CacheUnavailable(_last_error[key]) from exc
        if _down_until.get(key):
            with _lock:
                _down_until.pop(key, None)
                _last_error.pop(key, None)
            logger.warning("Cache reachable again")
        return result

    def add(self, *args, **kwargs):
        return self._guarded("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._guarded("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._guarded("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._guarded("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._guarded("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._guarded("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._guarded("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._guarded("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._guarded("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._guarded("delete_many", *args, **kwargs)

    def clear(self, *args, **kwargs):
        return self._guarded("clear", *args, **kwargs)

    def add_flags(self, keys: list[str], timeout: float) -> list[bool]:
        """``SET key 1 NX EX timeout`` for each key in one round trip (a pipeline, not a transaction):
        whether each was set here (False: it was there already)."""
        return self._guarded("_add_flags", keys, timeout)


# --- Helpers for callers that can do without the cache -------------------------------------------------


def cache_get(key: str, default=None):
    """The cached value, or ``default`` when it is missing or the cache cannot answer."""
    try:
        return cache.get(key, default)
    except CACHE_ERRORS:
        return default


def cache_set(key: str, value, timeout=None) -> bool:
    """Store a value; False when the cache cannot (the caller goes on without it)."""
    try:
        cache.set(key, value, timeout)
    except CACHE_ERRORS:
        return False
    return True


def cache_add_flags(keys: list[str], timeout: float) -> list[bool] | None:
    """Set each flag that is not set (``SET NX``, with a time to live), in one round trip with Redis:
    whether each was set by this call. None when the cache cannot answer ("unknown", never "was set")."""
    try:
        add_flags = getattr(cache, "add_flags", None)
        if add_flags is not None:
            return add_flags(keys, timeout)
        return [bool(cache.add(key, 1, timeout)) for key in keys]  # local memory (tests, `make run`)
    except CACHE_ERRORS:
        return None


def cache_delete_many(keys: list[str]) -> bool:
    try:
        cache.delete_many(keys)
    except CACHE_ERRORS:
        return False
    return True


def cache_delete(key: str) -> bool:
    try:
        cache.delete(key)
    except CACHE_ERRORS:
        return False
    return True


def cache_status() -> tuple[bool, str]:
    """Whether the cache answers now (a write and a read of a probe key), with a short detail for /healthz.
    A Redis that failed a moment ago is reported down without being tried again."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    try:
        cache.set("healthz:probe", 1, 10)
        ok = cache.get("healthz:probe") == 1
    except CACHE_ERRORS as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]
    kind = "redis" if "redis" in backend.lower() else backend.rsplit(".", 1)[-1]
    return ok, kind if ok else "the probe key was not read back"
