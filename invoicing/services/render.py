"""Rendering a document: the CII XML (checked against the Factur-X EN16931 XSD before anything is kept), the
HTML template through WeasyPrint as PDF/A-3b, then factur-x embeds the XML as ``factur-x.xml`` with its XMP
metadata. Idempotent: a document already rendered is left alone."""

import atexit
import logging
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import facturx
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common import jobs
from common.templatetags.oms_tags import money

from ..models import DocumentStatus, Invoice, Payment
from . import mentions
from .cii import build_cii
from .ubl import build_ubl
from .validation import check_schematron, check_xsd

logger = logging.getLogger(__name__)

FACTURX_LEVEL = "en16931"
FONT_FILES = {"regular": "fonts/Lato-Regular.ttf", "bold": "fonts/Lato-Bold.ttf"}


def _file_uri(path) -> str:
    return Path(path).resolve().as_uri()


def _fonts() -> dict:
    found = {}
    for name, relative in FONT_FILES.items():
        path = finders.find(relative)
        if path is None:
            raise FileNotFoundError(f"font {relative} not found in the static files")
        found[name] = _file_uri(path)
    return found


_per_process = threading.local()
atexit.register(lambda: _per_process.__dict__.clear())  # its font configuration, before WeasyPrint's C side


def _html_parser_regexes() -> None:
    """Fill the regex cache of WeasyPrint's HTML parser (tinyhtml5 2.x) for the character sets its tokenizer
    reads text and attribute values up to. Its ``chars_until`` stores each regex under the compiled regex
    instead of the characters asked for (a chained assignment), so the cache never hits and every text run
    and attribute value of every document built its pattern again (~1.4 ms of CPU per invoice). The
    patterns are the ones it builds itself: a character class of the characters, negated unless
    ``opposite``. Harmless if a later tinyhtml5 fixes it or reads other sets (a miss builds the pattern, as
    before)."""
    import re

    try:
        from tinyhtml5 import inputstream
        from tinyhtml5.constants import ascii_letters, space_characters
    except ImportError:  # another parser: nothing to fill
        return
    cache = getattr(inputstream, "characters_until_regex", None)
    if not isinstance(cache, dict):
        return
    keys = [
        (space_characters, True),
        (ascii_letters, True),
        (("&", "<", "\u0000"), False),
        (("<", "\u0000"), False),
        (("<", "-", "\u0000"), False),
        (('"', "&", "\u0000"), False),
        (("'", "&", "\u0000"), False),
    ]
    for characters, opposite in keys:
        pattern = "".join(f"\\x{ord(character):02x}" for character in characters)
        cache.setdefault((characters, opposite), re.compile(f"[{'' if opposite else '^'}{pattern}]+"))


def _stylesheet():
    """The documents' stylesheet parsed once per process (per thread), with the font configuration its
    ``@font-face`` rules were registered in: parsing it and loading the fonts for every PDF cost a worker
    ~10 ms of CPU each time (bench/README.md, "Invoice PDFs"). It depends on nothing but the fonts' files;
    what a document adds (the margin boxes' text) is its own ``<style>``."""
    cached = getattr(_per_process, "stylesheet", None)
    if cached is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        font_config = FontConfiguration()
        css = render_to_string("invoicing/pdf/document.css", {"fonts": _fonts()})
        cached = (CSS(string=css, base_url=str(settings.BASE_DIR), font_config=font_config), font_config)
        _per_process.stylesheet = cached
        _html_parser_regexes()
    return cached


def preload() -> None:
    """What every rendering needs and may be shared by forked processes, loaded ahead: WeasyPrint's and
    factur-x's modules (~1.5 s of CPU to import), the Factur-X schema compiled, the templates compiled and
    the catalogues of the documents' languages. A worker of the ``documents`` queue calls it before its
    pool forks (``invoicing/tasks.py``), so its processes share these instead of each paying for them with
    its first PDF, again after every restart of a pool process. Nothing here opens a connection, a file
    left open or a thread."""
    import weasyprint  # noqa: F401
    import weasyprint.text.fonts  # noqa: F401
    from django.template.loader import get_template

    from .validation import _schema

    _schema("cii")
    get_template("invoicing/pdf/document.html")
    get_template("invoicing/pdf/document.css")
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            _("Page")


def preload_process() -> None:
    """What a rendering process keeps for itself, loaded when it starts rather than with its first PDF:
    the parsed stylesheet and its font configuration (fontconfig's and Pango's state, temporary font
    files: not shared across a fork)."""
    _stylesheet()


def document_context(document: Invoice) -> dict:
    lines = list(document.lines.all())
    logo = document.seller.get("logo")
    logo_uri = ""
    if logo:
        path = Path(settings.MEDIA_ROOT) / logo
        if path.exists():
            logo_uri = _file_uri(path)
    seller = document.seller
    legal_line = _(
        "%(name)s, %(form)s with a share capital of %(capital)s · %(address)s · "
        "RCS %(rcs)s %(siren)s · SIRET %(siret)s · VAT %(vat)s"
    ) % {
        "name": seller["name"],
        "form": seller["legal_form"],
        "capital": money(Decimal(seller["share_capital"])),
        "address": f"{seller['address_line1']}, {seller['postcode']} {seller['city']}",
        "rcs": seller["rcs_city"],
        "siren": seller["siren"],
        "siret": seller["siret"],
        "vat": seller["vat_number"],
    }
    settled = mentions.settlement(document)
    return {
        "settled": settled,
        "legal_line": legal_line,
        "page_label": _("Page"),
        "doc": document,
        "seller": document.seller,
        "buyer": document.buyer,
        "lines": lines,
        "rates": document.vat_breakdown,
        "fonts": _fonts(),
        "logo_uri": logo_uri,
        "corrects": document.corrects,
    }


def render_html(document: Invoice, *, inline_css: bool = True) -> str:
    """The document as HTML, its stylesheet inline (or, ``inline_css=False``, only the document's own part:
    the PDF adds the stylesheet parsed once per process)."""
    with translation.override(document.language or "fr"):
        context = document_context(document) | {"inline_css": inline_css}
        return render_to_string("invoicing/pdf/document.html", context)


def render_pdf(document: Invoice, xml: bytes) -> bytes:
    """The PDF/A-3b with ``xml`` embedded. ``xml`` must already have passed ``check_xsd(xml, "cii")``
    (``_render`` checks it first): factur-x is not asked to check it again, which compiled the same
    Factur-X EN16931 schema for every document (~2.5 ms) where ours is compiled once per process."""
    from weasyprint import HTML

    html = render_html(document, inline_css=False)
    stylesheet, font_config = _stylesheet()
    pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(
        stylesheets=[stylesheet], pdf_variant="pdf/a-3b", font_config=font_config, uncompressed_pdf=False
    )
    seller = document.seller
    with translation.override(document.language or "fr"):
        title = str(document.get_kind_display())
    metadata = {
        "author": seller["name"],
        "keywords": "Factur-X",
        "title": f"{seller['name']}: {title} {document.number}",
        "subject": f"{title} {document.number}",
    }
    # factur-x's generate_from_binary writes the PDF to a temporary file, has pypdf read it through the file
    # object and write the Factur-X PDF to that same object where the reading left it: after WeasyPrint's
    # PDF, which stayed in front of it (a file twice the size, its first header not the document's). Given
    # the file's path, factur-x rewrites the file from its start.
    with tempfile.NamedTemporaryFile(prefix="facturx-", suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        facturx.generate_from_file(
            handle.name,
            xml,
            flavor="factur-x",
            level=FACTURX_LEVEL,
            check_xsd=False,  # checked by the caller against the same schema (validation.XSD_FILES["cii"])
            pdf_metadata=metadata,
            lang=document.language or "fr",
        )
        with open(handle.name, "rb") as rewritten:
            return rewritten.read()


def document_render(*, document_id: int) -> Invoice:
    """Render the PDF and XML of a document once (the Celery task). The worker first claims the rendering
    job (common/jobs.py): a redelivered or duplicate message finds it done or held and does nothing, and
    the job of a worker killed mid-render is taken over by the beat sweep once its lease expires. A failure
    is recorded on the document (status failed, the error), nothing half-written is kept, and the error is
    raised again for the task's log; a passing one (``OSError``: storage) leaves it pending for a retry."""
    from ..jobs import RENDER

    with jobs.claim(RENDER, document_id) as job:
        if job is None:
            return Invoice.objects.get(pk=document_id)
        document, failure = _render(document_id=document_id, job=job)
        if isinstance(failure, OSError):
            raise failure  # still pending: Celery's retry (or the sweep) renders it again
    if failure is not None:
        raise failure
    return document


def document_render_again(*, document: Invoice) -> bool:
    """Staff ask for a document's PDF again (its rendering failed, or seems stuck): it is pending again and
    queued after commit. False when the document already has its PDF."""
    from ..tasks import render_document as render_document_task

    restarted = Invoice.objects.filter(
        pk=document.pk, status__in=[DocumentStatus.FAILED, DocumentStatus.PENDING], pdf=""
    ).update(status=DocumentStatus.PENDING, render_error="", **jobs.restart_fields())
    if restarted:
        jobs.enqueue_on_commit(render_document_task, document.pk)
    return bool(restarted)


def _render(*, document_id: int, job: jobs.Claim | None = None) -> tuple[Invoice, Exception | None]:
    with transaction.atomic():
        # what was paid, read with it once for the XML's and the PDF's mentions (nobody records a payment
        # while the document is locked: ``payment_record`` locks it too)
        payments = Payment.objects.filter(document_id=OuterRef("pk")).order_by().values("document_id")
        document = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("corrects", "legal_entity", "order")  # the PDF prints the order's number
            .prefetch_related("lines")  # read by the XML and by the PDF: once
            .annotate(
                paid_amount=Subquery(payments.annotate(n=Sum("amount")).values("n")),
                paid_on=Subquery(payments.annotate(d=Max("paid_on")).values("d")),
            )
            .get(pk=document_id)
        )
        if document.pdf and document.status != DocumentStatus.FAILED:
            return document, None
        document._settlement = mentions.settlement_of(
            document, amount=document.paid_amount, date=document.paid_on
        )
        try:
            xml = build_cii(document)
            check_xsd(xml, "cii")
            ubl = None
            if document.einvoice_format == "ubl":
                ubl = build_ubl(document)
                check_xsd(ubl, "ubl-creditnote" if document.is_credit_note else "ubl-invoice")
            if settings.EINVOICE_SCHEMATRON_CHECK:
                check_schematron(xml, "cii")
                if ubl is not None:
                    check_schematron(ubl, "ubl")
            pdf = render_pdf(document, xml)
        except OSError as exc:
            logger.exception("rendering %s failed; it will be tried again", document.number)
            document.render_error = f"{type(exc).__name__}: {exc}"[:2000]
            document.save(update_fields=["render_error"])
            return document, exc
        except Exception as exc:
            logger.exception("rendering %s failed", document.number)
            errors = getattr(exc, "errors", None)
            if errors:
                exc = type(exc)(f"{exc} {'; '.join(errors[:5])}")
            document.status = DocumentStatus.FAILED
            document.render_error = f"{type(exc).__name__}: {exc}"[:2000]
            document.save(update_fields=["status", "render_error"])
            return document, exc
        stem = f"{document.number}-{document.legal_entity_id}"
        document.pdf.save(f"{stem}.pdf", ContentFile(pdf), save=False)
        document.xml.save(f"{stem}.xml", ContentFile(xml), save=False)
        fields = ["pdf", "xml", "status", "rendered_at", "render_error"]
        if ubl is not None:
            document.ubl.save(f"{stem}-ubl.xml", ContentFile(ubl), save=False)
            fields.append("ubl")
        document.status = DocumentStatus.ISSUED
        document.rendered_at = timezone.now()
        document.render_error = ""
        if job is None:
            document.save(update_fields=fields)
        else:  # the job marked done by the same statement (the claim's end writes nothing more)
            Invoice.objects.filter(pk=document.pk).update(
                **{name: getattr(document, name) for name in fields}, **job.done_fields()
            )
        if document.legal_entity.email_documents and document.buyer_email:
            from .delivery import delivery_request

            delivery_request(document=document, email=document.buyer_email)
    return document, None
