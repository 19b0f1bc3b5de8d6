"""The catalogue import: a CSV or XLSX file of products, one row per SKU. Each row creates the product of
its SKU or changes the columns the file has (an empty cell leaves the field as it is). Every row is checked
first and every problem reported with its line number; the file is then applied in one transaction, all or
nothing. A dry run does the same and rolls back. The file reading and the progress bar are the ones of the
order files (common/tabular.py)."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import jobs
from common.addresses import country_valid
from common.tabular import ImportFileError, Problem, progress_clear, progress_get, progress_set, read_table

from .models import Product, ProductImport, validate_ean13

MAX_ROWS = 20_000
MAX_PRICE = Decimal("99999999.99")
MAX_WHOLE = 10_000_000

# Our column -> the headers accepted for it (case-insensitive, French or English).
COLUMNS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "référence", "reference", "ref"),
    "name": ("name", "nom", "désignation", "designation", "libellé", "libelle"),
    "ean": ("ean", "ean13", "ean-13", "gtin"),
    "price": ("price", "prix", "prix ttc", "price incl. vat"),
    "vat_rate": ("vat_rate", "vat", "tva", "taux tva", "taux de tva"),
    "weight_g": ("weight_g", "weight", "poids", "poids_g", "poids (g)", "weight (g)"),
    "length_mm": ("length_mm", "length", "longueur", "longueur_mm", "longueur (mm)"),
    "width_mm": ("width_mm", "width", "largeur", "largeur_mm", "largeur (mm)"),
    "height_mm": ("height_mm", "height", "hauteur", "hauteur_mm", "hauteur (mm)"),
    "active": ("active", "actif", "status", "statut"),
    # The customs declaration of non-EU parcels (CN23): tariff code and country of origin.
    "customs_code": ("customs_code", "hs", "hs code", "code sh", "code douanier", "nomenclature"),
    "origin_country": ("origin_country", "origin", "origine", "pays d'origine", "country of origin"),
}
INTEGER_COLUMNS = ("weight_g", "length_mm", "width_mm", "height_mm")
REQUIRED_FOR_NEW = ("name", "price", "vat_rate")
VAT_RATES = {Decimal(value) for value in Product.VatRate.values}
TRUE = {"1", "yes", "y", "true", "oui", "o", "vrai", "active", "actif"}
FALSE = {"0", "no", "n", "false", "non", "faux", "inactive", "inactif", "archived", "archivé"}


@dataclass
class Row:
    line: int
    values: dict  # our column -> the cell's text, for the columns the file has


def template_rows() -> list[list[str]]:
    """The sample file offered on the import page."""
    return [
        ["sku", "name", "ean", "price", "vat_rate", "weight_g"]
        + ["length_mm", "width_mm", "height_mm", "active"],
        ["TSHIRT-M", "T-shirt coton bio M", "3760000000017", "24.90", "20", "180", "300", "220", "20", "yes"],
        ["CAFE-BRESIL", "Café en grains 1 kg Brésil", "", "18,90", "5,5", "1020", "", "", "", ""],
    ]


def rows_from(*, content: bytes, filename: str) -> list[Row]:
    headers, table = read_table(content=content, filename=filename, max_rows=MAX_ROWS)
    index: dict[str, int] = {}
    for position, header in enumerate(headers):
        key = header.strip().lower()
        for column, names in COLUMNS.items():
            if key in names and column not in index:
                index[column] = position
    if "sku" not in index:
        raise ImportFileError(
            str(_("The file needs a “sku” column (found: %(headers)s).")) % {"headers": ", ".join(headers)}
        )
    return [
        Row(line=n, values={col: (cells[i] if i < len(cells) else "") for col, i in index.items()})
        for n, cells in table
    ]


def _decimal(text: str) -> Decimal:
    cleaned = text.replace("€", "").replace("%", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    value = Decimal(cleaned)
    if not value.is_finite():
        raise InvalidOperation
    return value


def parse_vat_rate(text: str) -> Decimal | None:
    """20, "20 %", "5,5", "0.055" -> one of the French rates, or None."""
    try:
        value = _decimal(text)
    except InvalidOperation:
        return None
    if value < 1:
        value *= 100
    value = value.quantize(Decimal("0.1"))
    return value if value in VAT_RATES else None


def _check_row(row: Row, existing: Product | None) -> tuple[dict, list[Problem]]:
    """The row's new values (only the non-empty cells) and its problems."""
    values, problems = {}, []

    def bad(code, message, **params):
        problems.append(Problem(row.line, code, str(message) % params if params else str(message)))

    v = row.values
    sku = v.get("sku", "")
    if not sku:
        bad("required", _("The SKU is empty."))
    elif len(sku) > 64 or any(c.isspace() for c in sku):
        bad("invalid_sku", _("SKU %(value)r must be at most 64 characters, without spaces."), value=sku)
    if v.get("name"):
        if len(v["name"]) > 200:
            bad("invalid_name", _("The name is longer than 200 characters."))
        values["name"] = v["name"]
    if v.get("ean"):
        ean = v["ean"].zfill(13) if v["ean"].isdigit() and len(v["ean"]) == 12 else v["ean"]
        try:
            validate_ean13(ean)
        except ValidationError as exc:
            bad("invalid_ean", _("EAN %(value)r: %(error)s"), value=v["ean"], error=" ".join(exc.messages))
        else:
            values["ean"] = ean
    if v.get("price"):
        try:
            price = _decimal(v["price"])
            if price < 0 or price > MAX_PRICE:
                raise InvalidOperation
        except InvalidOperation:
            bad("invalid_price", _("Price %(value)r is not an amount in euros."), value=v["price"])
        else:
            values["price"] = price.quantize(Decimal("0.01"))
    if v.get("vat_rate"):
        rate = parse_vat_rate(v["vat_rate"])
        if rate is None:
            bad("invalid_vat_rate", _("VAT rate %(value)r is not 20, 10, 5.5 or 2.1."), value=v["vat_rate"])
        else:
            values["vat_rate"] = rate
    for column in INTEGER_COLUMNS:
        if v.get(column):
            try:
                number = _decimal(v[column])
                if number != number.to_integral_value() or not 0 <= number <= MAX_WHOLE:
                    raise InvalidOperation
            except InvalidOperation:
                bad(
                    "invalid_number",
                    _("%(column)s %(value)r is not a whole number from 0 to %(max)s."),
                    column=column,
                    value=v[column],
                    max=MAX_WHOLE,
                )
            else:
                values[column] = int(number)
    if v.get("customs_code"):
        code = "".join(v["customs_code"].split()).replace(".", "")
        if not code.isdigit() or not 6 <= len(code) <= 10:
            bad(
                "invalid_customs_code",
                _("Customs code %(value)r is not 6 to 10 digits (e.g. 610910)."),
                value=v["customs_code"],
            )
        else:
            values["customs_code"] = code
    if v.get("origin_country"):
        country = v["origin_country"].strip().upper()
        if not country_valid(country):
            bad(
                "invalid_origin_country",
                _("Country of origin %(value)r is not a two-letter code (e.g. FR)."),
                value=v["origin_country"],
            )
        else:
            values["origin_country"] = country
    if v.get("active"):
        flag = v["active"].strip().lower()
        if flag in TRUE:
            values["active"] = True
        elif flag in FALSE:
            values["active"] = False
        else:
            bad("invalid_active", _("Active %(value)r is not yes or no."), value=v["active"])
    if existing is None and sku:
        missing = [column for column in REQUIRED_FOR_NEW if not v.get(column)]
        if missing:
            bad(
                "incomplete_product",
                _("New product %(sku)s needs: %(columns)s."),
                sku=sku,
                columns=", ".join(missing),
            )
    return values, problems


def _progress_key(job_id: int) -> str:
    return f"inventory:catalogue-import:{job_id}"


def import_progress(*, job: ProductImport) -> tuple[int, int]:
    if job.status == ProductImport.Status.RUNNING:
        value = progress_get(_progress_key(job.pk))
        if value:
            return value
    return job.processed_rows, job.total_rows


def catalogue_import_run(*, job_id: int) -> ProductImport:
    """Check or apply a file (the job's ``dry_run``). Runs once: the job is claimed first (common/jobs.py),
    so a redelivered message finds it done or held and does nothing. The file is applied in one
    transaction: an import whose worker died left nothing behind, and the beat sweep starts it again once
    its lease expires."""
    from .jobs import CATALOGUE_IMPORT

    with jobs.claim(CATALOGUE_IMPORT, job_id) as claim:
        if claim is None:
            return ProductImport.objects.get(pk=job_id)
        ProductImport.objects.filter(pk=job_id).update(status=ProductImport.Status.RUNNING)
        return _catalogue_import(job_id=job_id)


def _catalogue_import(*, job_id: int) -> ProductImport:
    job = ProductImport.objects.get(pk=job_id)
    try:
        with job.file.open("rb") as handle:
            content = handle.read()
        rows = rows_from(content=content, filename=job.filename)
    except (ImportFileError, OSError) as exc:
        job.status = ProductImport.Status.FAILED
        job.message = str(exc)
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at"])
        return job
    problems, counts = _apply(job=job, rows=rows)
    job.total_rows = job.processed_rows = len(rows)
    job.errors = [p.as_dict() for p in sorted(problems, key=lambda p: (p.line, p.code))]
    job.created_count, job.updated_count, job.unchanged_count = counts
    job.finished_at = timezone.now()
    if problems and not job.dry_run:
        job.status = ProductImport.Status.FAILED
        job.message = str(_("Nothing was imported: %(count)s row(s) have problems.")) % {
            "count": len({p.line for p in problems})
        }
    else:
        job.status = ProductImport.Status.DONE
        job.message = ""
    job.save()
    progress_clear(_progress_key(job.pk))
    return job


def _apply(*, job: ProductImport, rows: list[Row]) -> tuple[list[Problem], tuple[int, int, int]]:
    problems: list[Problem] = []
    skus = [row.values.get("sku", "") for row in rows]
    existing = {p.sku: p for p in Product.objects.filter(sku__in=[s for s in skus if s])}
    first_line: dict[str, int] = {}
    checked: list[tuple[Row, dict]] = []
    for row in rows:
        sku = row.values.get("sku", "")
        if sku in first_line:
            problems.append(
                Problem(
                    row.line,
                    "duplicate_sku",
                    str(_("SKU %(sku)s is already on line %(line)s."))
                    % {"sku": sku, "line": first_line[sku]},
                )
            )
            continue
        if sku:
            first_line[sku] = row.line
        values, found = _check_row(row, existing.get(sku))
        problems.extend(found)
        if not found:
            checked.append((row, values))
    # EANs must stay unique: against the file's other rows and the other products of the catalogue.
    eans = {values["ean"]: row for row, values in checked if values.get("ean")}
    seen_ean: dict[str, int] = {}
    for row, values in checked:
        ean = values.get("ean")
        if not ean:
            continue
        if ean in seen_ean:
            problems.append(
                Problem(
                    row.line,
                    "duplicate_ean",
                    str(_("EAN %(ean)s is already on line %(line)s.")) % {"ean": ean, "line": seen_ean[ean]},
                )
            )
        seen_ean.setdefault(ean, row.line)
    # An EAN held by another product stays refused even if the file gives that product another EAN: swap
    # EANs in two files (the database checks each row as it is written).
    taken = dict(Product.objects.filter(ean__in=list(eans)).values_list("ean", "sku"))
    for row, values in checked:
        ean = values.get("ean")
        if ean and taken.get(ean, row.values["sku"]) != row.values["sku"]:
            problems.append(
                Problem(
                    row.line,
                    "ean_taken",
                    str(_("EAN %(ean)s belongs to product %(sku)s.")) % {"ean": ean, "sku": taken[ean]},
                )
            )
    total = len(rows)
    created = updated = unchanged = 0
    key = _progress_key(job.pk)
    progress_set(key, processed=0, total=total)
    bad_lines = {p.line for p in problems}
    with transaction.atomic():
        for processed, (row, values) in enumerate(checked, start=1):
            if row.line in bad_lines:
                continue
            product = existing.get(row.values["sku"])
            if product is None:
                product = Product(sku=row.values["sku"], **values)
                created += 1
            else:
                changed = {f: v for f, v in values.items() if getattr(product, f) != v}
                if not changed:
                    unchanged += 1
                    continue
                for field, value in changed.items():
                    setattr(product, field, value)
                updated += 1
            try:
                product.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                problems.append(Problem(row.line, "invalid_product", "; ".join(f"{m}" for m in exc.messages)))
                continue
            product.save()
            if processed % 50 == 0:
                progress_set(key, processed=processed, total=total)
        if job.dry_run or problems:
            transaction.set_rollback(True)
    progress_set(key, processed=total, total=total)
    return problems, (created, updated, unchanged)
