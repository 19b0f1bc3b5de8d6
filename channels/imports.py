"""CSV / XLSX order files: read with the channel's column mapping, check every row, then take every order
through the intake in one transaction (all or nothing per file). A dry run does the same and rolls back,
so it reports every problem the real import would meet, out-of-stock lines included."""

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import jobs
from common.addresses import address_clean, error_messages
from common.exceptions import DomainError
from common.tabular import MAX_ROWS, ImportFileError, Problem, read_table
from common.tabular import progress_clear as _progress_clear
from common.tabular import progress_get as _progress_read
from common.tabular import progress_set as _progress_write
from common.text import bad_character
from inventory.models import Product, StockLevel
from orders.models import DeliveryMode, Order
from orders.services.intake import LineInput, OrderInput, order_create
from orders.services.sourcing import channel_location_ids

from .models import ImportJob

__all__ = ["MAX_ROWS", "FIELDS", "ImportFileError", "Problem", "import_run", "progress_get", "rows_from"]

MAX_QUANTITY = 10_000

# Our field → (label, required). The mapping says which column of the file holds each.
FIELDS: "OrderedDict[str, tuple]" = OrderedDict(
    [
        ("external_id", (_("Order id (several rows with one id are the lines of one order)"), True)),
        ("email", (_("Customer email"), True)),
        ("first_name", (_("First name"), False)),
        ("last_name", (_("Last name"), False)),
        ("phone", (_("Phone"), False)),
        ("sku", (_("SKU"), True)),
        ("quantity", (_("Quantity"), True)),
        ("unit_price", (_("Unit price incl. VAT"), False)),
        ("delivery_mode", (_("Delivery mode (home, relay, store)"), False)),
        ("ship_name", (_("Recipient"), False)),
        ("company", (_("Company"), False)),
        ("line1", (_("Address"), False)),
        ("line2", (_("Address (continued)"), False)),
        ("postcode", (_("Postcode"), False)),
        ("city", (_("City"), False)),
        ("country", (_("Country"), False)),
        ("relay_carrier", (_("Relay carrier"), False)),
        ("relay_id", (_("Relay point id"), False)),
        ("store", (_("Pickup store code"), False)),
        ("note", (_("Note"), False)),
    ]
)


def default_mapping() -> dict:
    return {key: key for key in FIELDS}


@dataclass
class Row:
    line: int
    values: dict


@dataclass
class Group:
    external_id: str
    rows: list[Row] = field(default_factory=list)


def rows_from(*, content: bytes, filename: str, mapping: dict) -> list[Row]:
    headers, table = read_table(content=content, filename=filename)
    index = {h.lower(): i for i, h in enumerate(headers)}
    columns = {}
    missing = []
    for key, (label, required) in FIELDS.items():
        column = (mapping.get(key) or "").strip()
        if column and column.lower() in index:
            columns[key] = index[column.lower()]
        elif required:
            missing.append(f"{label} ({column or '?'})")
    if missing:
        raise ImportFileError(
            str(_("Columns not found in the file: %(columns)s.")) % {"columns": ", ".join(missing)}
        )
    return [
        Row(line=n, values={key: (cells[i] if i < len(cells) else "") for key, i in columns.items()})
        for n, cells in table
    ]


def _check_row(row: Row) -> list[Problem]:
    v = row.values
    problems = []

    def bad(code, message, **params):
        problems.append(Problem(row.line, code, str(message) % params if params else str(message)))

    for name, value in v.items():
        if bad_character(value):
            bad(
                "invalid_characters",
                _("Column %(column)s contains a character that cannot be stored (NUL or a lone surrogate)."),
                column=name,
            )
            return problems  # nothing else of this row can be read safely
    if not v.get("external_id"):
        bad("required", _("The order id is empty."))
    try:
        validate_email(v.get("email", ""))
    except ValidationError:
        bad("invalid_email", _("%(value)r is not an email address."), value=v.get("email", ""))
    if not v.get("sku"):
        bad("required", _("The SKU is empty."))
    try:
        quantity = int(v.get("quantity", ""))
        if not 0 < quantity <= MAX_QUANTITY:
            raise ValueError
    except ValueError:
        bad(
            "invalid_quantity",
            _("Quantity %(value)r is not a whole number from 1 to %(max)s."),
            value=v.get("quantity", ""),
            max=MAX_QUANTITY,
        )
    if v.get("unit_price"):
        try:
            price = Decimal(v["unit_price"].replace(",", ".").replace("€", "").strip())
            if not price.is_finite() or price < 0 or price > Decimal("99999999.99"):
                raise InvalidOperation
        except InvalidOperation:
            bad("invalid_price", _("Unit price %(value)r is not an amount."), value=v["unit_price"])
    mode = (v.get("delivery_mode") or DeliveryMode.HOME).lower()
    if mode not in DeliveryMode.values:
        bad(
            "invalid_mode",
            _("Delivery mode %(value)r is not home, relay or store."),
            value=v.get("delivery_mode"),
        )
    elif mode == DeliveryMode.HOME:
        empty = [name for name in ("line1", "postcode", "city") if not v.get(name)]
        if empty:
            bad("incomplete_address", _("The delivery address lacks: %(fields)s."), fields=", ".join(empty))
        else:
            _check_address(v, bad, postcode_required=True)
    elif mode == DeliveryMode.RELAY and not (v.get("relay_id") and v.get("relay_carrier")):
        bad("incomplete_relay", _("A relay point needs its carrier and id."))
    elif mode == DeliveryMode.RELAY:
        _check_address(v, bad, postcode_required=False)
    elif mode == DeliveryMode.STORE and not v.get("store"):
        bad("required", _("Store pickup needs the store's code."))
    return problems


def _check_address(values: dict, bad, *, postcode_required: bool) -> None:
    try:
        address_clean(
            postcode=values.get("postcode", ""),
            country=values.get("country") or "FR",
            postcode_required=postcode_required,
        )
    except ValidationError as exc:
        for field, messages in error_messages(exc).items():
            bad(f"invalid_{field}", "%(text)s", text=" ".join(messages))


def _normalised(first: dict) -> tuple[str, str]:
    """The row's postcode and country as stored (already checked by ``_check_row``)."""
    try:
        return address_clean(
            postcode=first.get("postcode", ""), country=first.get("country") or "FR", postcode_required=False
        )
    except ValidationError:  # pragma: no cover - refused by _check_row before
        return first.get("postcode", ""), (first.get("country") or "FR").upper()


def _order_input(group: Group) -> OrderInput:
    first = group.rows[0].values
    mode = (first.get("delivery_mode") or DeliveryMode.HOME).lower()
    postcode, country = _normalised(first)
    address = {
        "name": first.get("ship_name")
        or " ".join(p for p in (first.get("first_name"), first.get("last_name")) if p),
        "company": first.get("company", ""),
        "line1": first.get("line1", ""),
        "line2": first.get("line2", ""),
        "postcode": postcode,
        "city": first.get("city", ""),
        "country": country,
        "phone": first.get("phone", ""),
    }
    if mode == DeliveryMode.STORE:
        delivery = {"mode": mode, "store": first.get("store")}
    elif mode == DeliveryMode.RELAY:
        delivery = {
            "mode": mode,
            "relay_point": {**address, "carrier": first.get("relay_carrier"), "id": first.get("relay_id")},
        }
    else:
        delivery = {"mode": mode, "address": address}
    return OrderInput(
        external_id=group.external_id,
        customer={
            "email": first.get("email", ""),
            "first_name": first.get("first_name", "")[:100],
            "last_name": first.get("last_name", "")[:100],
            "phone": first.get("phone", "")[:32],
        },
        delivery=delivery,
        lines=[
            LineInput(
                sku=row.values["sku"],
                quantity=int(row.values["quantity"]),
                unit_price=(
                    Decimal(row.values["unit_price"].replace(",", ".").replace("€", "").strip()).quantize(
                        Decimal("0.01")
                    )
                    if row.values.get("unit_price")
                    else None
                ),
            )
            for row in group.rows
        ],
        note=first.get("note", "")[:2000],
    )


def _progress_key(job_id: int) -> str:
    return f"channels:import:{job_id}"


def progress_get(*, job: ImportJob) -> tuple[int, int]:
    """Rows processed and total of a running import. The import runs in one transaction, so its progress
    lives in the cache; without the cache the page shows the job running without a count."""
    if job.status == ImportJob.Status.RUNNING:
        value = _progress_read(_progress_key(job.pk))
        if value:
            return value
    return job.processed_rows, job.total_rows


def import_run(*, job_id: int) -> ImportJob:
    """Check or import a file (the job's ``dry_run``). Runs once: the job is claimed first (common/jobs.py),
    so a redelivered message finds it done or held and does nothing. The file is imported in one
    transaction: an import whose worker died left nothing behind, and the beat sweep starts it again once
    its lease expires."""
    from .jobs import IMPORT

    with jobs.claim(IMPORT, job_id) as claim:
        if claim is None:
            return ImportJob.objects.get(pk=job_id)
        ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.RUNNING)
        return _import(job_id=job_id)


def _import(*, job_id: int) -> ImportJob:
    job = ImportJob.objects.select_related("channel", "created_by").get(pk=job_id)
    try:
        with job.file.open("rb") as handle:
            content = handle.read()
        rows = rows_from(content=content, filename=job.filename, mapping=job.mapping)
    except (ImportFileError, OSError) as exc:
        job.status = ImportJob.Status.FAILED
        job.message = str(exc)
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at"])
        return job
    problems, created, skipped = _run(job=job, rows=rows)
    job.total_rows = job.processed_rows = len(rows)
    job.errors = [p.as_dict() for p in sorted(problems, key=lambda p: (p.line, p.code))]
    job.orders_created = created
    job.orders_skipped = skipped
    job.finished_at = timezone.now()
    if problems and not job.dry_run:
        job.status = ImportJob.Status.FAILED
        job.message = str(_("Nothing was imported: %(count)s row(s) have problems.")) % {
            "count": len({p.line for p in problems})
        }
    else:
        job.status = ImportJob.Status.DONE
        job.message = ""
    job.save()
    _progress_clear(_progress_key(job.pk))
    return job


def _run(*, job: ImportJob, rows: list[Row]) -> tuple[list[Problem], int, int]:
    channel = job.channel
    problems: list[Problem] = []
    bad_lines: set[int] = set()
    for row in rows:
        found = _check_row(row)
        problems.extend(found)
        if found:
            bad_lines.add(row.line)
    groups: OrderedDict[str, Group] = OrderedDict()
    for row in rows:
        external_id = row.values.get("external_id", "")
        if not external_id:
            continue
        group = groups.setdefault(external_id, Group(external_id))
        if (
            group.rows
            and row.values.get("email")
            and row.values["email"].lower() != group.rows[0].values.get("email", "").lower()
        ):
            problems.append(
                Problem(
                    row.line,
                    "inconsistent_order",
                    str(_("Order %(id)s has another email on line %(first)s."))
                    % {"id": external_id, "first": group.rows[0].line},
                )
            )
            bad_lines.add(row.line)
        group.rows.append(row)
    skus = {row.values.get("sku") for row in rows if row.values.get("sku")}
    known = set(Product.objects.filter(sku__in=skus, active=True).values_list("sku", flat=True))
    for row in rows:
        sku = row.values.get("sku")
        if sku and sku not in known:
            problems.append(
                Problem(row.line, "unknown_sku", str(_("Unknown or inactive SKU %(sku)s.")) % {"sku": sku})
            )
            bad_lines.add(row.line)
    existing = set(
        Order.objects.filter(channel=channel, external_id__in=list(groups)).values_list(
            "external_id", flat=True
        )
    )
    total = len(rows)
    processed = 0
    created = skipped = 0
    _progress_write(_progress_key(job.pk), processed=0, total=total)
    with transaction.atomic():
        # Lock the stock rows the file may reserve, in one fixed order, before the first order: the file's
        # reservations then cannot deadlock with concurrent orders (they wait for the file to commit).
        list(
            StockLevel.objects.filter(
                product__sku__in=known, location_id__in=channel_location_ids(channel=channel)
            )
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        for group in groups.values():
            processed += len(group.rows)
            if group.external_id in existing:
                skipped += 1
            elif not any(row.line in bad_lines for row in group.rows):
                try:
                    with transaction.atomic():
                        order_create(
                            channel=channel,
                            data=_order_input(group),
                            actor=job.created_by,
                            source="import",
                            durable=False,
                        )
                    created += 1
                except DomainError as exc:
                    lines = ", ".join(str(r.line) for r in group.rows)
                    for row in group.rows:
                        problems.append(
                            Problem(
                                row.line,
                                exc.code,
                                str(_("Order %(id)s (lines %(lines)s): %(message)s"))
                                % {"id": group.external_id, "lines": lines, "message": exc.message},
                            )
                        )
            if processed % 25 == 0 or processed == total:
                _progress_write(_progress_key(job.pk), processed=processed, total=total)
        if job.dry_run or problems:
            transaction.set_rollback(True)
    return problems, created, skipped
