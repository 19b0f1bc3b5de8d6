"""The integrations' job kinds (``common.jobs``): sending a webhook delivery (webhooks/sending.py) and telling
an endpoint's owner that it was disabled (below)."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common import jobs

from .models import WebhookEndpoint
from .webhooks import sending  # noqa: F401 - registers the delivery job

logger = logging.getLogger(__name__)


def _recipients(endpoint: WebhookEndpoint) -> list[str]:
    emails = [endpoint.contact_email] if endpoint.contact_email else []
    if endpoint.owner_id and endpoint.owner and endpoint.owner.email:
        emails.append(endpoint.owner.email)
    if not emails:  # nobody named: the managers (settings.MANAGERS)
        emails = [email for _name, email in getattr(settings, "MANAGERS", [])]
    return sorted(set(emails))


def endpoint_disabled_notice(endpoint_id: int) -> bool:
    """Email the owner that their endpoint was disabled, why, and how to enable it again (once)."""
    with jobs.claim(NOTICE_JOB, endpoint_id) as job:
        if job is None:
            return False
        endpoint = WebhookEndpoint.objects.select_related("owner").get(pk=endpoint_id)
        recipients = _recipients(endpoint)
        if recipients:
            with translation.override(settings.LANGUAGE_CODE):
                link = settings.SITE_URL + reverse("integrations:webhook_detail", args=[endpoint.pk])
                subject = _("Webhook endpoint disabled: %(url)s") % {"url": endpoint.url[:80]}
                body = _(
                    "Deliveries to %(url)s have stopped: %(reason)s\n\n"
                    "The deliveries already waiting are kept. Once the receiver works again, send a "
                    "test event, then enable the endpoint: the deliveries waiting are sent in order, and "
                    "the failed ones can be replayed from its delivery log.\n%(link)s"
                ) % {"url": endpoint.url, "reason": endpoint.disabled_reason, "link": link}
            EmailMultiAlternatives(subject=subject, body=body, to=recipients).send()
        else:
            logger.warning(
                "Webhook endpoint %s disabled and nobody to tell: %s", endpoint.pk, endpoint.disabled_reason
            )
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(owner_notified_at=timezone.now())
        return True


NOTICE_JOB = jobs.register(
    jobs.JobKind(
        name="integrations.endpoint_disabled_notice",
        model="integrations.WebhookEndpoint",
        task="integrations.endpoint_disabled_notice",
        pending=Q(status="disabled", owner_notified_at__isnull=True),
        max_attempts=5,
    )
)
