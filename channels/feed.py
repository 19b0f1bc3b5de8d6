"""The availability change log: written when availability changes, read by transaction windows.

A reader may not trust ids or timestamps alone: two transactions take ids 10 and 11, 11 commits first, a
reader sees 11 and moves its cursor past 10, which commits a moment later and is never read. Here every
row carries its transaction's id (``pg_current_xact_id()``), and a read covers the transactions between
the previous read's horizon and the current one, the horizon being the oldest transaction of this
database still running: every transaction below it has ended (committed rows are visible, rolled-back
ones never will be), and any transaction still running is at or above it, so it falls in a later window.
A long transaction only delays the feed; it never loses a change.

The cursor is opaque to callers: ``v1.<lo>.<hi>.<after_xid>.<after_id>.<issued unix time>`` in base64.
"""

import base64
import binascii
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from inventory.models import KitComponent
from inventory.selectors import kits_using

from .models import AvailabilityChange

RETENTION_SECONDS = 7 * 24 * 3600  # a cursor older than this is refused (the log is purged after 8 days)


class CursorInvalid(ValueError):
    pass


class CursorExpired(ValueError):
    pass


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def changes_record(*, product_ids, with_kits: bool = False) -> None:
    """Log that these products' availability changed, inside the caller's transaction. ``with_kits``: and
    that of the kits they are components of (``inventory.selectors.kits_using``), found by the same
    statement on PostgreSQL."""
    product_ids = sorted({int(p) for p in product_ids})
    if not product_ids:
        return
    if _postgres():
        with connection.cursor() as cursor:
            if with_kits:
                cursor.execute(_INSERT_WITH_KITS, [timezone.now(), product_ids, product_ids])
                return
            cursor.execute(
                f"INSERT INTO {AvailabilityChange._meta.db_table} (product_id, xid, created_at) "  # noqa: S608
                "SELECT p, pg_current_xact_id()::text::bigint, %s FROM unnest(%s::bigint[]) AS p",
                [timezone.now(), product_ids],
            )
        return
    if with_kits:
        product_ids = sorted(set(product_ids) | set(kits_using(product_ids=product_ids)))
    AvailabilityChange.objects.bulk_create([AvailabilityChange(product_id=p) for p in product_ids])


# The products and the kits using them (distinct, in id order as the products alone are written).
_INSERT_WITH_KITS = (
    f"INSERT INTO {AvailabilityChange._meta.db_table} (product_id, xid, created_at) "  # noqa: S608
    "SELECT p, pg_current_xact_id()::text::bigint, %s FROM ("
    "SELECT unnest(%s::bigint[]) AS p "
    f"UNION SELECT kit_id FROM {KitComponent._meta.db_table} WHERE component_id = ANY(%s::bigint[])"
    ") AS t ORDER BY p"
)


# The oldest transaction of this database still running (every older one has ended), or the next
# transaction id when none runs. The snapshot's own xmin would do too, but it counts every database of the
# cluster: a long transaction elsewhere would hold the feed back.
_HORIZON_SQL = """
WITH s AS (SELECT pg_current_snapshot() AS snap)
SELECT LEAST(
    (SELECT pg_snapshot_xmax(snap)::text::bigint FROM s),
    (SELECT min(x::text::bigint) FROM s, pg_snapshot_xip(s.snap) AS x
     WHERE mod(x::text::bigint, 4294967296) IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)))
"""


def _horizon() -> int:
    """The upper end (exclusive) of what can be read now: no transaction below it can still commit."""
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute(_HORIZON_SQL)
            return int(cursor.fetchone()[0])
    last = AvailabilityChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return last + 1


@dataclass(frozen=True)
class Cursor:
    lo: int
    hi: int | None = None  # set while a window is read page by page
    after_key: int = 0
    after_id: int = 0
    issued: int = 0

    def encode(self) -> str:
        raw = f"v1.{self.lo}.{self.hi if self.hi is not None else ''}.{self.after_key}.{self.after_id}."
        raw += str(self.issued or int(time.time()))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            version, lo, hi, after_key, after_id, issued = raw.split(".")
            if version != "v1":
                raise ValueError(version)
            cursor = cls(int(lo), int(hi) if hi else None, int(after_key), int(after_id), int(issued))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise CursorInvalid("This cursor is not one the feed gave.") from exc
        if cursor.issued < time.time() - RETENTION_SECONDS:
            raise CursorExpired("This cursor is older than 7 days: read the full availability again.")
        return cursor


def cursor_now() -> str:
    """A cursor from which the next read returns only what changes after this moment."""
    return Cursor(lo=_horizon()).encode()


def changes_read(*, cursor: str, limit: int = 500) -> tuple[list[int], str, bool]:
    """The ids of products whose availability changed since ``cursor`` (each once, in the order of their
    first change), the next cursor, and whether more changes are waiting (read again at once)."""
    current = Cursor.decode(cursor)
    key = "xid" if _postgres() else "id"
    hi = current.hi if current.hi is not None else _horizon()
    rows = AvailabilityChange.objects.filter(**{f"{key}__gte": current.lo, f"{key}__lt": hi})
    if current.after_id:
        rows = rows.filter(
            Q(**{f"{key}__gt": current.after_key}) | Q(**{key: current.after_key, "id__gt": current.after_id})
        )
    page = list(rows.order_by(key, "id").values_list(key, "id", "product_id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    product_ids = list(dict.fromkeys(p for _k, _i, p in page))
    if more:
        last_key, last_id, _p = page[-1]
        following = Cursor(lo=current.lo, hi=hi, after_key=last_key, after_id=last_id)
    else:
        following = Cursor(lo=hi)
    return product_ids, following.encode(), more


def changes_purge(*, older_than_seconds: int = RETENTION_SECONDS + 24 * 3600) -> int:
    limit = timezone.now() - timedelta(seconds=older_than_seconds)
    deleted, _ = AvailabilityChange.objects.filter(created_at__lt=limit).delete()
    return deleted
