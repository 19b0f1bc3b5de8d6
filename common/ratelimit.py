"""Rate limits that keep protecting when the cache is gone.

``is_limited`` counts with django-ratelimit in the cache (Redis) as usual. When the cache cannot answer, the
same fixed window is counted in PostgreSQL (``common.RateLimitCounter``: one row per window and key, an
atomic increment), so a Redis outage never opens sign-in to password guessing, and never locks customers
out either. If the database cannot count either, the request is refused (fail closed): it could not have
been served anyway. The choice per limit is in README.md ("When Redis or a worker fails").
"""

import hashlib
import logging
import re
import zlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_ratelimit.core import is_ratelimited

from .cache import CACHE_ERRORS

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^(\d+)/(\d*)([smhd])?$")


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/15m"`` → (10, 900): at most 10 in 900 seconds (django-ratelimit's notation)."""
    match = _RATE.match(rate.strip())
    if not match:
        raise ValueError(f"Not a rate: {rate!r} (e.g. 10/15m, 20/h)")
    count, multiplier, unit = match.groups()
    return int(count), _PERIODS[unit or "s"] * int(multiplier or 1)


def is_limited(request, *, group: str, key: str | Callable, rate: str) -> bool:
    """Count this request in ``group`` for ``key`` ("ip" or ``key(group, request)``) and say whether it is
    over ``rate``. The cache counts; while it cannot, the database does (see the module's docstring).

    "ip" is the client's address as the audit log reads it (``RATELIMIT_IP_META_KEY``; behind a proxy, the
    first address of ``X-Forwarded-For``): django-ratelimit's own reading fails on a list of addresses."""
    if key == "ip":
        key = _ip_key
    try:
        return bool(is_ratelimited(request, group=group, key=key, rate=rate, increment=True))
    except CACHE_ERRORS:
        pass
    value = key(group, request)
    try:
        return _db_count(group=group, value=str(value), rate=rate) > parse_rate(rate)[0]
    except Exception:  # noqa: BLE001 - neither the cache nor the database can count: refuse
        logger.exception("Rate limit %s: neither the cache nor the database could count; refused", group)
        return True


def _ip_key(group, request) -> str:
    from .audit import client_ip

    return client_ip(request) or "unknown"


def _db_count(*, group: str, value: str, rate: str) -> int:
    limit, period = parse_rate(rate)
    now = timezone.now()
    ts = int(now.timestamp())
    # The same windows as django-ratelimit: fixed, with a per-key offset so they do not all end together.
    window_end = ts - (ts % period) + (zlib.crc32(value.encode()) % period)
    if window_end < ts:
        window_end += period
    key = hashlib.sha256(f"{group}|{limit}/{period}|{value}|{window_end}".encode()).hexdigest()
    expires = now + timedelta(seconds=window_end - ts + 5)
    from .models import RateLimitCounter

    counters = RateLimitCounter.objects.filter(key=key)
    if not counters.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateLimitCounter.objects.create(key=key, count=1, expires_at=expires)
        except IntegrityError:  # created by a concurrent request since our update
            counters.update(count=F("count") + 1)
        # Windows that ended are of no use: remove them now and then (a new window is a good moment).
        RateLimitCounter.objects.filter(expires_at__lt=now).delete()
    return counters.values_list("count", flat=True).first() or 0
