"""The orders app's queued jobs (common/jobs.py): a payment's capture or refund at its provider. The channel
connectors' (deliveries, imports, stock pushes) are in channels/jobs.py,
the return label's in returns/jobs.py."""

from django.db.models import Q

from common.jobs import JobKind, register


def _payment_given_up(ids: list[int]) -> None:
    from .payments.services import payment_given_up

    payment_given_up(ids)


PAYMENT_TRANSACTION = register(
    JobKind(
        name="orders.payment_transaction",
        model="orders.PaymentTransaction",
        task="orders.payment_transaction",
        pending=Q(status="pending"),
        max_attempts=8,
        on_give_up=_payment_given_up,
    )
)
