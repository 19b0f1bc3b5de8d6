"""The customers app's queued jobs (common/jobs.py): the sign-in link emails. (Notifications have their own
outbox and beat sweep: customers/services.py.)"""

from django.db.models import Q

from common.jobs import JobKind, register


def _link_given_up(ids: list[int]) -> None:
    from .models import AccountLinkEmail

    AccountLinkEmail.objects.filter(pk__in=ids, status=AccountLinkEmail.Status.PENDING).update(
        status=AccountLinkEmail.Status.FAILED, error="Sending never finished."
    )


ACCOUNT_LINK = register(
    JobKind(
        name="customers.account_link",
        model="customers.AccountLinkEmail",
        task="customers.send_account_link",
        pending=Q(status="pending"),
        max_attempts=8,
        on_give_up=_link_given_up,
    )
)
