"""Small, rarely written facts kept per process and checked against a version token in the shared cache:
the pattern integrations/configured.py began with, made reusable (the integrations' configuration;
common/authz.py: a user's permissions and role names; fulfillment's active boxes).

A ``VersionedMemo`` holds values read from PostgreSQL under the token it read *before* them. On each use it
reads the token (one Redis GET, no SQL); while the token is the one it holds and the copy is at most
``max_age`` seconds old, the values are answered from memory. Every write of the facts calls ``changed()``:
this process's copy is dropped and the token deleted at once and again after the commit, so a reader in
another process that loaded the old rows between the two takes a new token and reads again.

A copy is not kept:

- when the cache cannot answer (Redis down: ``CACHE_ERRORS``) or is not shared between processes (no
  ``REDIS_URL``, a cache per process), unless the ``setting`` says so (the tests: one process each);
- inside the transaction that wrote the facts (``changed()`` under an atomic block), until it commits or
  the thread's next read outside any transaction: rows read there may still be rolled back.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from common.cache import CACHE_ERRORS

VERSION_TTL = 24 * 3600  # seconds; a missing token only costs a new read


class VersionedMemo:
    def __init__(self, key: str, *, setting: str, max_age: float = 10.0, max_entries: int = 2000):
        self.key = key
        self.setting = setting
        self.max_age = max_age
        self.max_entries = max_entries
        self._memo: dict = {"token": None, "loaded": 0.0, "values": {}}
        # written by a transaction of this thread (its connection) that has not ended yet
        self._local = threading.local()

    def _shared(self) -> bool:
        default = "LocMemCache" not in settings.CACHES["default"]["BACKEND"]
        return bool(getattr(settings, self.setting, default))

    def _token(self) -> str | None:
        from django.core.cache import cache

        if not self._shared():
            return None
        try:
            token = cache.get(self.key)
            if token is None:
                token = uuid.uuid4().hex
                if not cache.add(self.key, token, VERSION_TTL):
                    token = cache.get(self.key)
        except CACHE_ERRORS:
            return None
        return token

    def _may_keep(self) -> bool:
        dirty = getattr(self._local, "dirty", False)
        if dirty and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            self._local.dirty = dirty = False  # the writing transaction ended (committed or rolled back)
        return not dirty

    def values(self) -> dict:
        """This process's values if still valid, else an empty dict (kept only when it may be)."""
        token = self._token()
        memo = self._memo
        now = time.monotonic()
        if token is not None and memo["token"] == token and now - memo["loaded"] <= self.max_age:
            if len(memo["values"]) <= self.max_entries:
                return memo["values"]
        fresh = {"token": token, "loaded": now, "values": {}}
        if token is not None and self._may_keep():
            self._memo = fresh
        return fresh["values"]

    def get(self, name: Any, load: Callable[[], Any]) -> Any:
        """The value ``name``, loaded by ``load()`` when not in memory."""
        values = self.values()
        if name not in values:
            values[name] = load()
        return values[name]

    def _forget_shared(self) -> None:
        from django.core.cache import cache

        try:
            cache.delete(self.key)
        except CACHE_ERRORS:
            pass

    def changed(self) -> None:
        """The facts were written: every process reads them again."""
        self._memo = {"token": None, "loaded": 0.0, "values": {}}
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            self._local.dirty = True
            transaction.on_commit(self._committed, robust=True)
        self._forget_shared()

    def _committed(self) -> None:
        self._local.dirty = False
        self._memo = {"token": None, "loaded": 0.0, "values": {}}
        self._forget_shared()

    def forget(self) -> None:
        """Drop this process's copy, as after a commit (tests)."""
        self._local.dirty = False
        self._memo = {"token": None, "loaded": 0.0, "values": {}}
