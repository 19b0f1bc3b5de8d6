"""PDF documents of the warehouse: pick lists (a wave's walk, with barcodes of bins, products and totes)
and packing slips (one page per parcel). Rendered by WeasyPrint with the system's DejaVu fonts."""

import io

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from common.barcodes import code128_data_uri
from shipping.branding import document_branding

from .models import Parcel, Wave
from .selectors import wave_pick_steps, wave_progress


def _pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported lazily: it loads pango, which pages never need

    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def pick_list_html(*, wave: Wave) -> str:
    steps = wave_pick_steps(wave=wave)
    rows = [
        {
            "step": step,
            "bin_barcode": code128_data_uri(step.bin_code) if step.bin_code else "",
            "ean_barcode": code128_data_uri(step.ean or step.sku),
        }
        for step in steps
    ]
    totes = [
        {"prep": prep, "barcode": code128_data_uri(prep.tote_code)}
        for prep in wave.preparations.exclude(status="cancelled").order_by("tote")
    ]
    return render_to_string(
        "fulfillment/pdf/pick_list.html",
        {
            "wave": wave,
            "rows": rows,
            "totes": totes,
            "progress": wave_progress(wave=wave),
            "wave_barcode": code128_data_uri(wave.code),
            "printed_at": timezone.localtime(),
            "brand": document_branding(),
        },
    )


def pick_lists_pdf(*, waves) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        return merge_pdfs([_pdf(pick_list_html(wave=w)) for w in waves])


def slip_rows(items) -> list[dict]:
    """The packing slip's rows: a plain product's units; a kit as its own row (the whole kits in the parcel)
    with its components below (``component``), so the customer sees the kit they bought and what is in it."""
    rows: list[dict] = []
    kits: dict[int, dict] = {}
    for item in items:
        line = item.line
        if not getattr(line, "kit_sku", ""):
            rows.append({"kind": "product", "sku": line.sku, "name": line.name, "quantity": item.quantity})
            continue
        kit = kits.get(line.order_line_id)
        if kit is None:
            kit = kits[line.order_line_id] = {
                "kind": "kit",
                "sku": line.kit_sku,
                "name": line.kit_name,
                "quantity": None,
                "components": [],
            }
            rows.append(kit)
        whole = item.quantity // line.per_kit if line.per_kit else 0
        kit["quantity"] = whole if kit["quantity"] is None else min(kit["quantity"], whole)
        kit["components"].append(
            {"kind": "component", "sku": line.sku, "name": line.name, "quantity": item.quantity}
        )
    flat = []
    for row in rows:
        flat.append(row)
        flat.extend(row.get("components", []))
    return flat


def packing_slips_html(*, parcels) -> str:
    pages = []
    for parcel in parcels:
        prep = parcel.preparation
        count = prep.parcels.filter(status=Parcel.Status.CLOSED).count()
        items = list(parcel.items.select_related("line").order_by("line__order_line_id", "pk"))
        pages.append(
            {
                "parcel": parcel,
                "prep": prep,
                "count": count,
                "items": items,
                "rows": slip_rows(items),
                "barcode": code128_data_uri(
                    parcel.shipment.number if parcel.shipment_id else prep.order_number
                ),
            }
        )
    brand = document_branding()
    return render_to_string(
        "fulfillment/pdf/packing_slip.html", {"pages": pages, "merchant": brand["merchant"], "brand": brand}
    )


def packing_slip_preview_pdf() -> bytes:
    """A sample packing slip with the current branding (the branding settings' preview)."""
    from types import SimpleNamespace

    line = SimpleNamespace(sku="TSHIRT-M", name="T-shirt coton bio, taille M")
    parcel = SimpleNamespace(
        seq=1,
        weight_g=640,
        box=SimpleNamespace(name="S"),
        closed_at=timezone.now(),
        shipment=SimpleNamespace(number="CMD-APERCU-1"),
    )
    page = {
        "parcel": parcel,
        "prep": SimpleNamespace(
            order_number="CMD-APERCU", ship_to="Camille Martin\n12 rue de la République\n69002 Lyon"
        ),
        "count": 1,
        "items": [SimpleNamespace(line=line, quantity=2)],
        "rows": slip_rows([SimpleNamespace(line=line, quantity=2)]),
        "barcode": code128_data_uri("CMD-APERCU-1"),
    }
    brand = document_branding()
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(
            "fulfillment/pdf/packing_slip.html",
            {"pages": [page], "merchant": brand["merchant"], "brand": brand},
        )
        return _pdf(html)


def pick_list_preview_pdf() -> bytes:
    """A sample pick list header with the current branding."""
    from types import SimpleNamespace

    wave = SimpleNamespace(
        code="W00000", location=SimpleNamespace(name="Entrepôt"), cutoff=None, preparations=None
    )
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(
            "fulfillment/pdf/pick_list.html",
            {
                "wave": wave,
                "rows": [],
                "totes": [],
                "progress": {"orders": 0, "units": 0},
                "wave_barcode": code128_data_uri("W00000"),
                "printed_at": timezone.localtime(),
                "brand": document_branding(),
            },
        )
        return _pdf(html)


def packing_slips_pdf(*, parcels) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        return _pdf(packing_slips_html(parcels=parcels))


def merge_pdfs(pdfs: list[bytes]) -> bytes:
    if len(pdfs) == 1:
        return pdfs[0]
    from pypdf import PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


A4 = (595.28, 841.89)  # points


def four_up_a4(pdfs: list[bytes]) -> bytes:
    """Labels (A6 or any size) four to an A4 page, each scaled to fit its quarter, for office printers."""
    from pypdf import PageObject, PdfReader, PdfWriter, Transformation

    pages = [page for pdf in pdfs for page in PdfReader(io.BytesIO(pdf)).pages]
    writer = PdfWriter()
    width, height = A4
    cell_w, cell_h = width / 2, height / 2
    for start in range(0, len(pages), 4):
        sheet = PageObject.create_blank_page(width=width, height=height)
        for slot, page in enumerate(pages[start : start + 4]):
            box = page.mediabox
            scale = min(cell_w / float(box.width), cell_h / float(box.height))
            x = (slot % 2) * cell_w + (cell_w - float(box.width) * scale) / 2
            y = height - (slot // 2 + 1) * cell_h + (cell_h - float(box.height) * scale) / 2
            sheet.merge_transformed_page(page, Transformation().scale(scale).translate(x, y))
        writer.add_page(sheet)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
