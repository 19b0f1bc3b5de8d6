"""The catalogue and the locations: products created, edited, archived or imported; locations saved."""

from django.db import transaction

from common.audit import audit_saved, audit_snapshot

from ..models import Location, Product


@transaction.atomic
def location_save(*, location: Location, data: dict) -> Location:
    """Create or update a location from validated form data."""
    before = audit_snapshot(location)
    for field, value in data.items():
        setattr(location, field, value)
    location.full_clean()
    location.save()
    audit_saved(instance=location, before=before)
    return location


@transaction.atomic
def product_create(*, data: dict) -> Product:
    product = Product(**data)
    product.full_clean()
    product.save()
    return product


# The fields the catalogue page edits (the SKU is fixed once a product exists: orders and the ledger name
# it); the customs code and origin are printed on the customs declarations of non-EU parcels.
PRODUCT_FIELDS = (
    "name",
    "ean",
    "price",
    "vat_rate",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "image",
    "customs_code",
    "origin_country",
)


@transaction.atomic
def product_save(*, product: Product, data: dict) -> Product:
    """Create (``product`` unsaved, ``data`` with its ``sku``) or change a product of the catalogue. The
    fields are checked by the model (EAN-13 check digit, French VAT rates, unique SKU and EAN)."""
    if product.pk is None and "sku" in data:
        product.sku = data["sku"]
    for field in PRODUCT_FIELDS:
        if field in data:
            setattr(product, field, data[field])
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_set_active(*, product: Product, active: bool) -> Product:
    """Archive a product (it can no longer be ordered; its stock, orders and ledger stay) or bring it back."""
    Product.objects.filter(pk=product.pk).update(active=active)
    product.active = active
    return product


@transaction.atomic
def catalogue_import_start(*, file, dry_run: bool, user):
    """Keep the uploaded file and queue its check or import after commit (inventory/imports.py). The row is
    the job (common/jobs.py): if the message is lost or the worker dies, the beat sweep runs it again."""
    from common import jobs

    from ..models import ProductImport
    from ..tasks import catalogue_import as catalogue_import_task

    job = ProductImport.objects.create(
        file=file, filename=file.name[:255], dry_run=dry_run, created_by=user, job_due_at=jobs.due()
    )
    jobs.enqueue_on_commit(catalogue_import_task, job.pk)
    return job
