"""Tables of the shared kernel: the state every queued job carries (``QueuedJob``, abstract), named leases
and the rate-limit counters used while the cache is down. PostgreSQL holds the truth; Redis only carries
messages and caches (see common/jobs.py and common/ratelimit.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class QueuedJob(models.Model):
    """What a row needs to be a job that is never lost and never done twice (common/jobs.py):

    - ``job_due_at``: from then on the beat sweep queues the job again, as long as it is set. Set when the
      work is asked for, moved to the end of the lease when a worker claims it, cleared when it is done or
      given up. ``NULL``: nothing to do.
    - ``job_lease_until``: a worker holds the job until then; another claim waits until it expires (its
      worker died) before taking it over.
    - ``job_attempts``: how many times a worker took it; past the kind's maximum it is given up.
    """

    job_due_at = models.DateTimeField(_("job due at"), null=True, blank=True, db_index=True)
    job_lease_until = models.DateTimeField(_("job leased until"), null=True, blank=True)
    job_attempts = models.PositiveSmallIntegerField(_("job attempts"), default=0)

    class Meta:
        abstract = True


class Lease(models.Model):
    """A named lease: one holder at a time until it expires (``common.jobs.lease``), e.g. one refresh of a
    carrier's relay points at a time, whatever worker runs it. A holder that dies frees it by expiry."""

    name = models.CharField(_("name"), max_length=200, primary_key=True)
    holder = models.CharField(_("holder"), max_length=64)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("lease")
        verbose_name_plural = _("leases")

    def __str__(self) -> str:
        return f"{self.name} → {self.holder}"


class RateLimitCounter(models.Model):
    """A fixed window of a rate limit counted in the database, used only while the cache cannot count
    (``common.ratelimit``): sign-in stays limited during a Redis outage."""

    key = models.CharField(_("key"), max_length=128, unique=True)
    count = models.PositiveIntegerField(_("count"), default=0)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("rate-limit counter")
        verbose_name_plural = _("rate-limit counters")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
