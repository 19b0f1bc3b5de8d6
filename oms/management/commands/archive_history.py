"""Archive old months of the partitioned history (common/partitions.py): the domain event log (the orders'
timelines) and the stock ledger. Each month older than ``--before`` is written to
``<dir>/<partition>.csv.gz`` (every column, a header line; checked by reading it back), then detached and
dropped. The ledger's months leave one ``carried_forward`` movement per product and location, so the stock
audit stays clean. A month of the event log is refused while a consumer has not read it or one of its events
is parked.

    python manage.py archive_history --before 2025-01              # months before January 2025
    python manage.py archive_history --before 2025-01 --dry-run    # what would be archived
"""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from common.models import ConsumerFailure, ConsumerProgress
from common.partitions import ArchiveRefused, archive_partition, is_partitioned, partitions
from inventory.services.stock import ledger_carry_forward

TABLES = {"events": "common_domainevent", "ledger": "inventory_stockmovement"}


def _events_month_readable(name: str) -> None:
    """Every consumer has read past the month, and none of its events waits in a parked failure."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT max(xid), min(id), max(id) FROM "{name}"')  # noqa: S608 - a catalogue name
        max_xid, first_id, last_id = cursor.fetchone()
    if first_id is None:
        return
    unresolved = ConsumerFailure.objects.filter(
        event_id__gte=first_id,
        event_id__lte=last_id,
        status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD],
    ).count()
    if unresolved:
        raise ArchiveRefused(f"{name}: {unresolved} parked or held event(s); replay or discard them first")
    if max_xid is not None:
        behind = ConsumerProgress.objects.filter(lo__lte=max_xid).values_list("name", flat=True)
        if behind:
            raise ArchiveRefused(f"{name}: not yet read by {', '.join(sorted(behind))}")


class Command(BaseCommand):
    help = "Write months of the event log and the stock ledger older than --before to files, then drop them."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM: archive the months before this one")
        parser.add_argument("--dir", default=str(settings.BASE_DIR / "var" / "archive"), help="output folder")
        parser.add_argument("--only", choices=sorted(TABLES), help="one table only")
        parser.add_argument("--dry-run", action="store_true", help="say what would be archived")

    def handle(self, *args, before, dir, only, dry_run, **options):
        try:
            limit = dt.datetime.strptime(before, "%Y-%m").replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise CommandError("--before takes a month, YYYY-MM") from exc
        if connection.vendor != "postgresql":
            raise CommandError("Archiving needs PostgreSQL (partitioned history tables).")
        if limit > dt.datetime.now(dt.UTC) - dt.timedelta(days=31):
            raise CommandError("Archive months that ended at least a month ago.")
        refused = 0
        for key, table in TABLES.items():
            if only and key != only:
                continue
            if not is_partitioned(table):
                raise CommandError(f"{table} is not partitioned: run the migrations first.")
            for name, lo, hi in partitions(table):
                if lo is None or hi > limit:
                    continue
                try:
                    if table == "common_domainevent":
                        _events_month_readable(name)
                    rows, path = archive_partition(
                        table=table,
                        name=name,
                        directory=dir,
                        before_drop=ledger_carry_forward if table == "inventory_stockmovement" else None,
                        dry_run=dry_run,
                    )
                except ArchiveRefused as exc:
                    refused += 1
                    self.stderr.write(f"refused: {exc}")
                    continue
                verb = "would archive" if dry_run else "archived"
                self.stdout.write(f"{verb} {name}: {rows} row(s) -> {path}")
        if refused:
            raise CommandError(f"{refused} month(s) refused (see above); the others are archived.")
