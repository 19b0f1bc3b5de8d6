"""Write operations of the customers app."""

import datetime as dt
import functools
import json
import logging
import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, models, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from common import eventlog, jobs
from common.inserts import insert_rows

from . import events as customer_events
from . import sms
from .exceptions import NotificationNotResendable, SmsNotAllowed
from .models import Address, Customer, CustomerNote, Notification

PROFILE_FIELDS = ("first_name", "last_name", "phone", "company", "siren", "vat_number", "language")


def customer_get_or_create(
    *, email: str, data: dict | None = None, events: list | None = None
) -> tuple[Customer, bool]:
    """Find the customer by email (case-insensitive) or create them. Empty profile fields of an existing
    customer are filled from ``data``; what the customer already has is never overwritten by a channel.
    On PostgreSQL one statement (``INSERT … ON CONFLICT (lower(email)) DO UPDATE … RETURNING``): no read
    before, no savepoint, and two requests creating the same customer at once get the same row.
    A new customer's ``customer.created`` event is written in the same transaction, or appended to
    ``events`` for a caller that writes its events in one statement (intake)."""
    data = {k: v for k, v in (data or {}).items() if k in PROFILE_FIELDS and v}
    email = email.strip()
    if connection.vendor == "postgresql":
        customer, created = _customer_upsert(email=email, data=data)
        if created:
            event = customer_events.created_event(customer=customer)
            if events is None:
                eventlog.emit_many([event])
            else:
                events.append(event)
        return customer, created
    customer = Customer.objects.filter(email__iexact=email).first()
    if customer is None:
        try:
            with transaction.atomic():
                customer = Customer.objects.create(email=email, **data)
                event = customer_events.created_event(customer=customer)
                if events is None:
                    eventlog.emit_many([event])
                else:
                    events.append(event)
                return customer, True
        except IntegrityError:  # created by a concurrent request since our read
            customer = Customer.objects.get(email__iexact=email)
    missing = {k: v for k, v in data.items() if not getattr(customer, k)}
    if missing:
        for field, value in missing.items():
            setattr(customer, field, value)
        customer.save(update_fields=[*missing, "updated_at"])
    return customer, False


@functools.cache
def _upsert_sql() -> tuple[str, list, list]:
    """The statement (built once per process), the fields each row inserts, the fields it returns.

    On PostgreSQL the rows travel as one JSON parameter (``jsonb_array_elements``, as ``orders.services.rows``
    writes orders): the statement's text is the same whatever the number of customers, so a connection
    prepares it once (a ``VALUES`` row of placeholders per customer made a new statement, with ~10
    parameters per customer, for each size of batch), and no value goes through Django's per-field
    preparation. Character columns take the text as it is (an assignment cast, which refuses a value too
    long, where an explicit ``::varchar(n)`` would cut it)."""
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    table = connection.ops.quote_name(Customer._meta.db_table)
    # An existing customer keeps what they have; an empty profile field takes the channel's value.
    fill = [f.column for f in fields if f.name in PROFILE_FIELDS]
    sets = ", ".join(
        f'"{c}" = CASE WHEN {table}."{c}" = \'\' THEN EXCLUDED."{c}" ELSE {table}."{c}" END' for c in fill
    )
    changed = " OR ".join(f"({table}.\"{c}\" = '' AND EXCLUDED.\"{c}\" <> '')" for c in fill)
    returned = list(Customer._meta.concrete_fields)
    selects = [
        f"e->>{i}" if isinstance(f, models.CharField) else f"(e->>{i})::{f.db_type(connection)}"
        for i, f in enumerate(fields)
    ]
    # Only identifiers of the model's own columns are formatted in; every value is in the parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT {', '.join(selects)} FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) "
        f"ORDER BY n ON CONFLICT ((lower(email))) DO UPDATE SET {sets}, "
        f'"updated_at" = CASE WHEN {changed} THEN EXCLUDED."updated_at" ELSE {table}."updated_at" END '
        f"RETURNING {', '.join(f'{table}.{connection.ops.quote_name(f.column)}' for f in returned)}, "
        "(xmax = 0) AS inserted"
    )
    return sql, fields, returned


@functools.cache
def _row_template() -> tuple[list, dict[str, int], list[int]]:
    """A new customer's row with every default (the email and dates to fill), where each profile field
    goes, and where the dates go."""
    fields = _upsert_sql()[1]
    blank = Customer()
    template = [
        None if f.name in ("created_at", "updated_at") else _plain(f, getattr(blank, f.attname))
        for f in fields
    ]
    at = {f.name: i for i, f in enumerate(fields)}
    return template, at, [at["created_at"], at["updated_at"]]


def _plain(field, value):
    """``value`` as the JSON row carries it: what Django would send, as text for the cast."""
    if value is None or value.__class__ in (str, int, bool):
        return value
    value = field.get_db_prep_save(value, connection)
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else str(value)


def _customers_upsert(people: list[tuple[str, dict]]) -> list[tuple[Customer, bool]]:
    """``INSERT … ON CONFLICT (lower(email)) DO UPDATE … RETURNING`` for one or more customers, in one
    statement: each (customer, created). The emails must be distinct (case-insensitive): one statement may
    not touch a row twice."""
    sql, fields, returned = _upsert_sql()
    template, at, dates = _row_template()
    now = timezone.now().isoformat()
    at_email = at["email"]
    rows = []
    for email, data in people:
        row = template.copy()
        row[at_email] = email
        for name, value in data.items():
            row[at[name]] = _plain(fields[at[name]], value)
        for i in dates:
            row[i] = now
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows)])
        result = cursor.fetchall()
    attnames = [f.attname for f in returned]
    converters = [(f, f.get_db_converters(connection)) for f in returned]
    alias = connection.alias  # read once: ``connection`` is a proxy looked up per access
    out = []
    for row in result:
        values = []
        for (f, fconverters), value in zip(converters, row[:-1], strict=True):
            for converter in fconverters:
                value = converter(value, f, connection)
            values.append(value)
        out.append((Customer.from_db(alias, attnames, values), bool(row[-1])))
    return out


def _customer_upsert(*, email: str, data: dict) -> tuple[Customer, bool]:
    return _customers_upsert([(email, data)])[0]


def customers_get_or_create_many(
    *, people: list[tuple[str, dict]], events: list | None = None
) -> dict[str, Customer]:
    """``customer_get_or_create`` for a batch of orders, in a fixed number of statements: the customers
    found by email (case-insensitive), the missing ones created in one insert (a concurrent creation is
    read back), empty profile fields filled as one customer at a time would. Returns them by lower-case
    email. Runs inside the caller's transaction. The new customers' ``customer.created`` events are
    appended to ``events`` (written with the batch's other events), or written here."""
    wanted: dict[str, tuple[str, dict]] = {}
    for email, data in people:
        email = email.strip()
        clean = {k: v for k, v in (data or {}).items() if k in PROFILE_FIELDS and v}
        if email.lower() in wanted:
            # The first order of the batch creates the customer; later ones only fill what is empty.
            known = wanted[email.lower()][1]
            known.update({k: v for k, v in clean.items() if k not in known})
        else:
            wanted[email.lower()] = (email, dict(clean))
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        # One statement for the whole batch: found or created, empty profile fields filled, and whether
        # each was created by this statement (so a concurrent creation is never announced twice).
        found, created = {}, set()
        for customer, was_created in _customers_upsert(list(wanted.values())):
            key = customer.email.lower()
            found[key] = customer
            if was_created:
                created.add(key)
        _created_events(found, created, events)
        return found
    by_email = Customer.objects.annotate(lower=Lower("email"))
    found = {c.email.lower(): c for c in by_email.filter(lower__in=wanted)}
    missing = [Customer(email=email, **data) for key, (email, data) in wanted.items() if key not in found]
    if missing:
        Customer.objects.bulk_create(missing, ignore_conflicts=True)
        found.update(
            {c.email.lower(): c for c in by_email.filter(lower__in=[c.email.lower() for c in missing])}
        )
        created = {c.email.lower() for c in missing}
    else:
        created = set()
    _created_events(found, created, events)
    for key, customer in found.items():
        if key in created:
            continue
        fill = {k: v for k, v in wanted[key][1].items() if not getattr(customer, k)}
        if fill:
            for field, value in fill.items():
                setattr(customer, field, value)
            customer.save(update_fields=[*fill, "updated_at"])
    return found


def _created_events(found: dict[str, Customer], created: set[str], events: list | None) -> None:
    news = [customer_events.created_event(customer=found[key]) for key in sorted(created) if key in found]
    if news:
        if events is None:
            eventlog.emit_many(news)
        else:
            events.extend(news)


@transaction.atomic
def customer_siren_set(*, customer: Customer, siren: str) -> Customer:
    """Set a business customer's SIREN (9 digits; the database refuses anything else)."""
    customer.siren = siren.strip()
    customer.save(update_fields=["siren", "updated_at"])
    return customer


MAX_NOTE_LENGTH = 4000


def customer_note_add(*, customer: Customer, text: str, author=None) -> CustomerNote:
    """Write a note of customer service on the customer's page."""
    text = (text or "").strip()
    if not text:
        raise ValueError("A note cannot be empty.")
    return CustomerNote.objects.create(customer=customer, text=text[:MAX_NOTE_LENGTH], author=author)


def address_remember(*, customer: Customer, address: dict, kind: str = Address.Kind.SHIPPING) -> Address:
    """Keep a delivery address in the customer's book (once: an identical one is reused)."""
    fields = {
        k: address.get(k, "") or ""
        for k in ("name", "company", "line1", "line2", "postcode", "city", "phone")
    }
    fields["country"] = address.get("country") or "FR"
    # One read answers both questions: is this address already in the book (an identical one sorts
    # first), and is the book empty (then the new address becomes the default).
    first = (
        Address.objects.filter(customer=customer, kind=kind)
        .annotate(same=ExpressionWrapper(Q(**fields), output_field=BooleanField()))
        .order_by("-same", "pk")
        .first()
    )
    if first is not None and first.same:
        return first
    return Address.objects.create(customer=customer, kind=kind, is_default=first is None, **fields)


_ADDRESS_COLUMNS = ("name", "company", "line1", "line2", "postcode", "city", "phone", "country")
# each value its own parameter (server-side binding deduces one type per parameter, and the insert's columns
# and the comparisons would deduce two)
_ADDRESS_KEEP_SQL = """
INSERT INTO customers_address
    (customer_id, kind, name, company, line1, line2, postcode, city, phone, country, is_default, created_at)
SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
    NOT EXISTS (SELECT 1 FROM customers_address WHERE customer_id = %s AND kind = %s), %s
WHERE NOT EXISTS (
    SELECT 1 FROM customers_address
    WHERE customer_id = %s AND kind = %s AND name = %s AND company = %s AND line1 = %s AND line2 = %s
        AND postcode = %s AND city = %s AND phone = %s AND country = %s)
"""


def address_keep(*, customer_id: int, address: dict, kind: str = Address.Kind.SHIPPING) -> None:
    """``address_remember`` in one statement, for a caller that needs nothing back (the consumer of
    ``order.created``): the address is inserted unless an identical one is in the book, as the default
    when the book has none of its kind."""
    fields = {k: address.get(k, "") or "" for k in _ADDRESS_COLUMNS}
    fields["country"] = address.get("country") or "FR"
    values = [fields[k] for k in _ADDRESS_COLUMNS]
    params = [customer_id, kind, *values, customer_id, kind, timezone.now(), customer_id, kind, *values]
    with connection.cursor() as cursor:
        cursor.execute(_ADDRESS_KEEP_SQL, params)


# --- Notifications: the transactional outbox ------------------------------------------------------------
#
# ``notification_queue`` writes the message in the caller's transaction and, once it commits, queues the
# Celery task that sends it. If the broker is down at that moment nothing is lost: the row stays pending
# and beat (``notifications_dispatch_due``) queues it again a minute later, then with backoff after each
# failed attempt. A sender first claims the row (row lock with SKIP LOCKED, then a conditional UPDATE), so
# two workers given the same message send it once; a row already sent is skipped.

logger = logging.getLogger(__name__)

# SMTP errors that another attempt cannot fix: the address is refused.
PERMANENT_EMAIL_ERRORS = (smtplib.SMTPRecipientsRefused,)


def _seconds(name: str, default: int) -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, name, default))


def notification_queue(
    *,
    customer: Customer,
    kind: str,
    recipient: str,
    body_text: str,
    dedup_key: str,
    order=None,
    channel: str = Notification.Channel.EMAIL,
    language: str | None = None,
    subject: str = "",
    body_html: str = "",
    resend_of: Notification | None = None,
    created_by=None,
) -> Notification | None:
    """Write a message to send once the current transaction commits. Returns None, writing nothing, when a
    message with this ``dedup_key`` already exists (the event was already notified)."""
    if not recipient:
        return None  # no address or phone number: nobody to tell
    dedup_key = dedup_key[:200]
    notification = Notification(
        customer=customer,
        order=order,
        kind=kind,
        channel=channel,
        language=language or customer.language,
        recipient=recipient[:254],
        subject=subject[:255],
        body_text=body_text,
        body_html=body_html,
        dedup_key=dedup_key,
        resend_of=resend_of,
        created_by=created_by,
        # The task queued on commit sends it at once; beat only takes what is still pending then.
        next_attempt_at=timezone.now() + _seconds("NOTIFICATION_FIRST_WAIT_SECONDS", 60),
    )
    # One statement: a message with this key already there (a replay, or a concurrent transaction that
    # queued it first: the unique key keeps it to one) is skipped by the INSERT itself (``ON CONFLICT DO
    # NOTHING``), without the read before it and the savepoint around it.
    if not insert_rows([notification], conflict=("dedup_key",))[0]:
        return None
    transaction.on_commit(functools.partial(notification_dispatch, notification_id=notification.pk))
    return notification


def notification_dispatch(*, notification_id: int) -> bool:
    """Hand the message to the broker (after commit). A broker outage is logged, not raised: the row is
    pending and beat will queue it again."""
    from .tasks import send_notification as send_notification_task

    # No publish retries, and nothing raised: the caller (a request, after its commit) must not wait on a
    # dead broker; the outbox row is the retry (common/jobs.py enqueue).
    return jobs.enqueue(send_notification_task, notification_id)


_NOTIFICATION = Notification._meta.db_table
# ``_claim`` on PostgreSQL: the pending (or stuck) row, unless another sender holds it, taken and returned.
_CLAIM_SQL = (
    f"UPDATE {_NOTIFICATION} SET status = %s, attempts = attempts + 1, claimed_at = %s, "  # noqa: S608
    f"next_attempt_at = %s WHERE id = (SELECT id FROM {_NOTIFICATION} WHERE id = %s AND (status = %s OR "
    "(status = %s AND claimed_at < %s)) FOR UPDATE SKIP LOCKED) RETURNING "
    + ", ".join(f.column for f in Notification._meta.concrete_fields)
)


def _claim(*, notification_id: int) -> Notification | None:
    """Take the message for this sender: pending, or stuck in ``sending`` longer than the timeout (its
    worker died). Locked rows are skipped: another sender has them."""
    now = timezone.now()
    stuck = now - _seconds("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 600)
    if connection.vendor == "postgresql":
        # One statement: the row locked (SKIP LOCKED) and claimed by the UPDATE that returns it.
        rows = list(
            Notification.objects.raw(
                _CLAIM_SQL,
                [
                    Notification.Status.SENDING,
                    now,
                    now + _seconds("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 600),
                    notification_id,
                    Notification.Status.PENDING,
                    Notification.Status.SENDING,
                    stuck,
                ],
            )
        )
        return rows[0] if rows else None
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id)
            .filter(
                Q(status=Notification.Status.PENDING)
                | Q(status=Notification.Status.SENDING, claimed_at__lt=stuck)
            )
            .select_related("customer")
            .first()
        )
        if notification is None:
            return None
        # Compare-and-set as well: databases without row locks (SQLite) still let one sender through.
        claimed = Notification.objects.filter(
            pk=notification.pk, status=notification.status, attempts=notification.attempts
        ).update(
            status=Notification.Status.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=now,
            next_attempt_at=now + _seconds("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 600),
        )
        if not claimed:
            return None
    notification.status = Notification.Status.SENDING
    notification.attempts += 1
    notification.claimed_at = now
    return notification


def _deliver(notification: Notification) -> None:
    if notification.channel == Notification.Channel.SMS:
        sms.get_backend().send(
            to=notification.recipient,
            text=notification.body_text,
            reference=f"notification-{notification.pk}",
        )
        return
    from_email = settings.DEFAULT_FROM_EMAIL
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "oms.localhost"
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=from_email,
        to=[notification.recipient],
        # The same Message-ID on every attempt: a receiving server that saw it already may drop a retry.
        headers={"Message-ID": f"<notification.{notification.pk}@{domain}>"},
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    message.send(fail_silently=False)


def notification_send(*, notification_id: int) -> str:
    """Send one message if it is still to be sent. Returns ``sent``, ``skipped`` (sent, failed for good, or
    being sent by another worker), ``retry`` (failed, beat tries again later) or ``failed`` (given up)."""
    notification = _claim(notification_id=notification_id)
    if notification is None:
        return "skipped"
    try:
        _deliver(notification)
    except Exception as exc:  # every failure is recorded on the row; none is lost
        permanent = isinstance(exc, PERMANENT_EMAIL_ERRORS) or getattr(exc, "permanent", False)
        return _attempt_failed(notification=notification, error=exc, permanent=permanent)
    Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.SENDING, attempts=notification.attempts
    ).update(status=Notification.Status.SENT, sent_at=timezone.now(), next_attempt_at=None)
    return "sent"


def _attempt_failed(*, notification: Notification, error: Exception, permanent: bool) -> str:
    max_attempts = getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", 10)
    error_text = f"{type(error).__name__}: {error}"[:2000]
    given_up = permanent or notification.attempts >= max_attempts
    now = timezone.now()
    if given_up:
        changes = {"status": Notification.Status.FAILED, "next_attempt_at": None}
    else:
        base = getattr(settings, "NOTIFICATION_RETRY_BASE_SECONDS", 60)
        cap = getattr(settings, "NOTIFICATION_RETRY_MAX_SECONDS", 3600)
        delay = min(base * 2 ** (notification.attempts - 1), cap)
        changes = {
            "status": Notification.Status.PENDING,
            "next_attempt_at": now + dt.timedelta(seconds=delay),
        }
    Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.SENDING, attempts=notification.attempts
    ).update(last_error=error_text, **changes)
    logger.warning(
        "Notification %s attempt %s failed%s: %s",
        notification.pk,
        notification.attempts,
        " for good" if given_up else "",
        error_text,
    )
    return "failed" if given_up else "retry"


def notifications_dispatch_due(*, limit: int = 200) -> int:
    """Beat: queue again what is still unsent and due (pending past its first minute or its backoff, or
    stuck in ``sending``). Each row gets a lease of a few minutes first, so the next beat run does not queue
    it a second time while it waits in the broker. Returns how many were queued."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[Notification.Status.PENDING, Notification.Status.SENDING],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Notification.objects.filter(pk__in=ids).update(
            next_attempt_at=now + _seconds("NOTIFICATION_LEASE_SECONDS", 300)
        )
    queued = 0
    for notification_id in ids:
        queued += notification_dispatch(notification_id=notification_id)
    return queued


def notification_resend(*, notification: Notification, actor=None) -> Notification:
    """Send a message again (customer service: "I did not get the email"). A new row is written, a copy of
    the original's content addressed to the customer's current email or phone, linked to the original and
    to the user who asked; the original keeps its own history."""
    with transaction.atomic():
        original = Notification.objects.select_for_update().select_related("customer").get(pk=notification.pk)
        if original.status in (Notification.Status.PENDING, Notification.Status.SENDING):
            raise NotificationNotResendable(
                "This message has not been sent yet: it is still being sent.",
                details={"notification": original.pk, "status": original.status},
            )
        customer = original.customer
        if original.channel == Notification.Channel.SMS:
            if not (customer.sms_opt_in and customer.phone):
                raise SmsNotAllowed(
                    "The customer no longer accepts text messages.", details={"notification": original.pk}
                )
            recipient = customer.phone
        else:
            recipient = customer.email
        count = Notification.objects.filter(resend_of=original).count()
        resent = notification_queue(
            customer=customer,
            order=original.order,
            kind=original.kind,
            channel=original.channel,
            language=original.language,
            recipient=recipient,
            subject=original.subject,
            body_text=original.body_text,
            body_html=original.body_html,
            dedup_key=f"resend:{original.pk}:{count + 1}",
            resend_of=original,
            created_by=actor,
        )
    return resent
