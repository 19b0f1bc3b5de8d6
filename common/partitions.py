"""History tables partitioned by month (PostgreSQL declarative partitioning): the domain event log
(``common_domainevent``) and the stock ledger (``inventory_stockmovement``).

- The parent is ``PARTITION BY RANGE (created_at)``, its primary key ``(id, created_at)``; ids come from one
  sequence owned by the parent's ``id``, so they stay unique and increasing across partitions (the event log's
  consumers page by id inside windows of transaction ids, common/eventlog.py, and keep working unchanged).
- One partition per calendar month (UTC), ``<table>_pYYYYMM``, plus a ``<table>_default`` partition that
  catches a row outside every month created (history loaded with old dates): nothing is ever refused.
- ``partitions_maintain()`` (beat, daily: ``common.partitions_maintain``) creates the months ahead
  (``PARTITIONS_AHEAD_MONTHS``) and moves rows that landed in the default partition into a month of their own.
- ``archive_history`` (management command) writes old months to compressed CSV files, then detaches and
  drops them.

SQLite (``make run`` without PostgreSQL) keeps plain tables: every function here does nothing there.
"""

# ruff: noqa: S608 - the SQL here names tables and partitions: those of PARTITIONED and the names PostgreSQL's
# catalogue gives back, checked by _identifier(); values are always parameters.
import datetime as dt
import re

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

PARTITIONED = ("common_domainevent", "inventory_stockmovement")
COLUMN = "created_at"


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a table name: {name!r}")
    return name


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{_identifier(table)}_p{month:%Y%m}"


def _bound(month: dt.date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def is_partitioned(table: str, *, cursor=None) -> bool:
    if connection.vendor != "postgresql":
        return False
    own = cursor is None
    cursor = cursor or connection.cursor()
    try:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    finally:
        if own:
            cursor.close()
    return bool(row) and row[0] == "p"


def partitions(table: str, *, cursor=None) -> list[tuple[str, dt.datetime | None, dt.datetime | None]]:
    """(name, lower bound, upper bound) of each partition, oldest first; the default partition has None."""
    own = cursor is None
    cursor = cursor or connection.cursor()
    try:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [table],
        )
        rows = cursor.fetchall()
    finally:
        if own:
            cursor.close()
    result = []
    for name, bound in rows:
        if bound == "DEFAULT":
            result.append((name, None, None))
            continue
        # FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')
        lo, hi = (part.split("'")[1] for part in bound.split(" TO "))
        result.append((name, dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)))
    return sorted(result, key=lambda p: (p[1] is not None, p[1] or dt.datetime.min.replace(tzinfo=dt.UTC)))


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = to_regclass(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
        [table],
    )
    return cursor.fetchall()


def _foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
        [table],
    )
    return cursor.fetchall()


def _create_month(cursor, table: str, month: dt.date) -> bool:
    """Create the month's partition if missing, moving its rows out of the default partition first."""
    name = partition_name(table, month)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    lo, hi = _bound(month), _bound(_next_month(month))
    default = f"{table}_default"
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{default}" WHERE {COLUMN} >= %s AND {COLUMN} < %s RETURNING *) '
        f'INSERT INTO "{name}" SELECT * FROM moved',
        [lo, hi],
    )
    cursor.execute(
        f"ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo}') TO ('{hi}')"
    )
    return True


def partition_table(table: str, *, months_ahead: int = 3) -> None:
    """Turn a plain table into one partitioned by month, keeping every row, id and index (a migration)."""
    with connection.cursor() as cursor:
        if is_partitioned(_identifier(table), cursor=cursor):
            return
        old = f"{table}_unpartitioned"
        indexes = _secondary_indexes(cursor, table)  # their definitions name the table: used as they are
        foreign_keys = _foreign_keys(cursor, table)
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        for index, _definition in indexes:
            cursor.execute(f'DROP INDEX "{index}"')
        for name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'", [old]
        )
        (pkey,) = cursor.fetchone()
        cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{pkey}"')
        cursor.execute(f'SELECT COALESCE(max(id), 0) FROM "{old}"')
        last_id = cursor.fetchone()[0]
        cursor.execute(f'ALTER TABLE "{old}" ALTER COLUMN id DROP IDENTITY IF EXISTS')
        cursor.execute(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
            f"PARTITION BY RANGE ({COLUMN})"
        )
        cursor.execute(f'CREATE SEQUENCE "{table}_id_seq" OWNED BY "{table}".id')
        cursor.execute(f"SELECT setval('\"{table}_id_seq\"', %s, %s)", [max(last_id, 1), last_id > 0])
        cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN id SET DEFAULT nextval(\'"{table}_id_seq"\')')
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{pkey}" PRIMARY KEY (id, {COLUMN})')
        for _index, definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
        cursor.execute(f'SELECT min({COLUMN}) FROM "{old}"')
        first = cursor.fetchone()[0]
        today = timezone.now().date()
        month = _month(first.astimezone(dt.UTC).date()) if first else _month(today)
        month = min(month, _month(today))
        end = _month(today)
        for _ in range(months_ahead):
            end = _next_month(end)
        while month <= end:
            _create_month(cursor, table, month)
            month = _next_month(month)
        cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
        cursor.execute(f'DROP TABLE "{old}"')


def unpartition_table(table: str) -> None:
    """The reverse: one plain table again, with an identity id continuing after the last one."""
    with connection.cursor() as cursor:
        if not is_partitioned(_identifier(table), cursor=cursor):
            return
        old = f"{table}_partitioned"
        indexes = _secondary_indexes(cursor, table)
        foreign_keys = _foreign_keys(cursor, table)
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        for index, _definition in indexes:
            cursor.execute(f'DROP INDEX "{index}"')
        for name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'", [old]
        )
        (pkey,) = cursor.fetchone()
        cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{pkey}"')
        cursor.execute(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN id DROP DEFAULT')
        cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
        cursor.execute(f'SELECT COALESCE(max(id), 0) + 1 FROM "{table}"')
        start = cursor.fetchone()[0]
        cursor.execute(f'DROP TABLE "{old}" CASCADE')  # its partitions and its sequence
        cursor.execute(
            f'ALTER TABLE "{table}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {start})'
        )
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{pkey}" PRIMARY KEY (id)')
        for _index, definition in indexes:
            cursor.execute(definition.replace(f" ON ONLY public.{table} ", f" ON public.{table} "))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')


def partitions_create(*, since: dt.date, until: dt.date) -> list[str]:
    """The monthly partitions of every partitioned table from ``since``'s month to ``until``'s (a bulk
    load of history creates them first, so its rows go straight to their month)."""
    if connection.vendor != "postgresql":
        return []
    created = []
    for table in PARTITIONED:
        with transaction.atomic(), connection.cursor() as cursor:
            if not is_partitioned(table, cursor=cursor):
                continue
            month = _month(since)
            while month <= _month(until):
                if _create_month(cursor, table, month):
                    created.append(partition_name(table, month))
                month = _next_month(month)
    return created


def partitions_maintain(*, now=None, months_ahead: int | None = None) -> dict[str, list[str]]:
    """Create this month's and the next months' partitions, and a month of its own for every row that
    landed in the default partition. Safe to run at any time, as often as wanted."""
    if connection.vendor != "postgresql":
        return {}
    months_ahead = settings.PARTITIONS_AHEAD_MONTHS if months_ahead is None else months_ahead
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    created: dict[str, list[str]] = {}
    for table in PARTITIONED:
        with transaction.atomic(), connection.cursor() as cursor:
            if not is_partitioned(table, cursor=cursor):
                continue
            cursor.execute(
                f"SELECT DISTINCT date_trunc('month', {COLUMN} AT TIME ZONE 'UTC')::date "
                f'FROM "{table}_default"'
            )
            months = {row[0] for row in cursor.fetchall()}
            month = _month(today)
            for _ in range(months_ahead + 1):
                months.add(month)
                month = _next_month(month)
            for month in sorted(months):
                if _create_month(cursor, table, month):
                    created.setdefault(table, []).append(partition_name(table, month))
    return created


class ArchiveRefused(Exception):
    """A month that cannot be archived yet (a consumer has not read it, or a parked event is in it)."""


def archive_partition(
    *, table: str, name: str, directory, before_drop=None, dry_run: bool = False
) -> tuple[int, str]:
    """Write one partition to ``directory/<name>.csv.gz`` (CSV with a header, every column), then detach
    and drop it; ``before_drop(cursor, name, lo, hi)`` runs in the same transaction as the drop (the ledger
    carries its balances forward there). Returns (rows, file)."""
    import csv
    import gzip
    from pathlib import Path

    bounds = {p[0]: (p[1], p[2]) for p in partitions(_identifier(table))}
    if name not in bounds or bounds[name][0] is None:
        raise ArchiveRefused(f"{name} is not a monthly partition of {table}")
    lo, hi = bounds[name]
    path = Path(directory) / f"{name}.csv.gz"
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{name}"')
        rows = cursor.fetchone()[0]
    if dry_run:
        return rows, str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection.ensure_connection()
    with gzip.open(path, "wb") as out, connection.connection.cursor() as cur:
        with cur.copy(
            f'COPY (SELECT * FROM "{name}" ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)'
        ) as copy:
            for chunk in copy:
                out.write(chunk)
    # Count what the file holds (JSON payloads may hold newlines, quoted by COPY): read it back as CSV.
    with gzip.open(path, "rt", newline="") as back:
        kept = sum(1 for _ in csv.reader(back)) - 1
    if kept != rows:
        raise ArchiveRefused(f"{path} holds {kept} rows, {name} {rows}: nothing dropped")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{name}" IN ACCESS EXCLUSIVE MODE')
        cursor.execute(f'SELECT count(*) FROM "{name}"')
        if cursor.fetchone()[0] != rows:
            raise ArchiveRefused(f"{name} changed while it was written out: run again")
        if before_drop is not None:
            before_drop(cursor, name, lo, hi)
        cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
        cursor.execute(f'DROP TABLE "{name}"')
    return rows, str(path)
