"""The returns' queued job (common/jobs.py): the return label asked of the carrier. Recoverable from its row:
the beat sweep queues again what is due and not held, and takes over the job of a worker that died once its
lease expires. Its name and task keep the ``orders.`` prefix they had when returns were part of orders, so
rows and messages queued before the move still run."""

from django.db.models import Q

from common.jobs import JobKind, register

from .models import Return


def _return_label_given_up(ids: list[int]) -> None:
    Return.objects.filter(pk__in=ids, label_pdf="").update(
        label_error="The return label was asked for several times and never finished: ask for it again."
    )


RETURN_LABEL = register(
    JobKind(
        name="orders.return_label",
        model="returns.Return",
        task="orders.return_label",
        pending=Q(status="label_sent", label_pdf="", carrier__isnull=False),
        on_give_up=_return_label_given_up,
    )
)
