"""The inventory app's queued jobs (common/jobs.py): a catalogue import is recoverable from its row, so a
message lost with the broker or a worker killed mid-import never leaves a file "waiting" for ever."""

from django.db.models import Q
from django.utils import timezone

from common.jobs import JobKind, register


def _catalogue_import_given_up(ids: list[int]) -> None:
    from .models import ProductImport

    ProductImport.objects.filter(pk__in=ids).exclude(status=ProductImport.Status.DONE).update(
        status=ProductImport.Status.FAILED,
        message="The import was started several times and never finished: nothing was imported.",
        finished_at=timezone.now(),
    )


CATALOGUE_IMPORT = register(
    JobKind(
        name="inventory.catalogue_import",
        model="inventory.ProductImport",
        task="inventory.catalogue_import",
        pending=Q(status__in=["pending", "running"]),
        # The whole file is applied in one transaction (nothing is visible before it commits), so the lease
        # covers the longest import rather than being renewed as it goes.
        lease_seconds=1800,
        max_attempts=3,
        on_give_up=_catalogue_import_given_up,
    )
)
