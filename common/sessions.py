"""Sessions stored in PostgreSQL, their data kept a short while in Redis (settings ``SESSION_ENGINE``).

Every signed-in request read its ``django_session`` row: on the floor, one statement of the ~10 a scan sends
(issue 21 point 5). This is Django's ``cached_db`` engine with the project's rules for Redis (common/cache.py:
never the source of truth, a request served without it):

- **PostgreSQL stays the store.** Every save writes the row first, then the cache; a session read from the
  cache is always a copy of a row that was written. Redis flushed or down loses nothing: the next request
  reads the row (and no request fails on a cache error: ``CACHE_ERRORS`` are swallowed).
- **A copy lives at most ``SESSION_CACHE_SECONDS``** (60 s), not the session's whole age (Django's choice:
  two weeks). A logout, a ``cycle_key`` (sign-in, the portal's sign-out) or a session flushed deletes the
  row and then the copy; if that ``DELETE`` cannot reach Redis, the copy in Redis still answers for at most
  that long — only when Redis failed at that very moment and answers again within the window, which is the
  whole of the risk (bench/README.md, "Sessions and the user per request, kept a minute").
- **Only with a shared cache** (``REDIS_URL``): a cache per process (``LocMemCache``: ``make run``, the
  tests) would keep a signed-out session alive in the other processes, so the rows are read as before,
  unless ``SESSIONS_CACHED`` says otherwise.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.core.cache import caches

from .cache import CACHE_ERRORS

KEY_PREFIX = "oms.session:"


def _cached() -> bool:
    default = "LocMemCache" not in settings.CACHES[settings.SESSION_CACHE_ALIAS]["BACKEND"]
    return bool(getattr(settings, "SESSIONS_CACHED", default))


def _max_age() -> int:
    return int(getattr(settings, "SESSION_CACHE_SECONDS", 60))


class SessionStore(DBStore):
    cache_key_prefix = KEY_PREFIX

    def __init__(self, session_key=None):
        self._cache = caches[settings.SESSION_CACHE_ALIAS] if _cached() else None
        super().__init__(session_key)

    def _cache_key(self, session_key: str) -> str:
        return self.cache_key_prefix + session_key

    def _cache_set(self, session_key: str, data: dict, expiry_age: int) -> None:
        timeout = min(expiry_age, _max_age())
        try:
            if timeout > 0:
                self._cache.set(self._cache_key(session_key), data, timeout)
            else:
                self._cache.delete(self._cache_key(session_key))
        except CACHE_ERRORS:
            pass

    def load(self):
        if self._cache is None or not self.session_key:
            return super().load()
        try:
            data = self._cache.get(self._cache_key(self.session_key))
        except CACHE_ERRORS:
            return super().load()  # not copied back: the cache cannot take it now
        if data is not None:
            return data
        row = self._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        self._cache_set(self.session_key, data, self.get_expiry_age(expiry=row.expire_date))
        return data

    def exists(self, session_key):
        return super().exists(session_key)  # the row decides (a new key's collision check)

    def save(self, must_create=False):
        super().save(must_create)  # the row first: the copy is never newer than PostgreSQL
        if self._cache is not None:
            self._cache_set(self.session_key, self._session, self.get_expiry_age())

    def delete(self, session_key=None):
        super().delete(session_key)
        if session_key is None:
            session_key = self.session_key
        if self._cache is None or session_key is None:
            return
        try:
            self._cache.delete(self._cache_key(session_key))
        except CACHE_ERRORS:
            pass  # the copy ends by itself within SESSION_CACHE_SECONDS (module docstring)

    def flush(self):
        self.clear()
        self.delete(self.session_key)
        self._session_key = None

    # The async API (unused by the project) goes through the same paths, so no copy is ever left behind.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)

    async def asave(self, must_create=False):
        return await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        return await sync_to_async(self.delete)(session_key)

    async def aflush(self):
        return await sync_to_async(self.flush)()
