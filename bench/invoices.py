"""Invoice rendering benchmark: Factur-X PDFs per second per worker process.

    .venv/bin/python bench/invoices.py [--documents 60] [--lines 4] [--processes 1 2] [--formats facturx ubl]
    .venv/bin/python bench/invoices.py --warm 30 [--lines 2] [--profile] [--pages var/pages]

``--warm N`` renders one document N times in one warm process (``render.render_pdf``: the HTML template,
WeasyPrint, the Factur-X embedding; nothing saved) and prints the CPU of each part (median of N), the
file's size, optionally a cProfile (``--profile``) and the PDF itself (``--pages``, to compare with pdftoppm).

Uses a fresh PostgreSQL database (``--db``, default ``oms_bench_invoices`` on BENCH_PG_URL's server, default
postgres://postgres@127.0.0.1:5432). Issues ``--documents`` invoices (numbering, snapshots, amounts;
rendering not scheduled), then renders them with the real ``invoicing.services.render.document_render`` (CII
XML, XSD check, HTML template, WeasyPrint PDF/A-3b, factur-x embedding, files written) in 1 and then N
worker processes (each a separate Python process, as Celery's prefork workers are), after a warm-up. Prints
PDFs per second per process and in total, p50/p95 per PDF, and where the time of one PDF goes. Each
e-invoice format is measured apart: "facturx" (the Factur-X PDF with its CII) and "ubl" (the same PDF plus
the UBL 2.1 XML, built and checked against the UBL XSD), business invoices with the 2026 mentions.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import database_exists, database_url, percentile, recreate_database, watchdog  # noqa: E402

DB = "oms_bench_invoices"


def _setup_django(media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url(DB)
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "oms.settings.test"
    os.environ["MEDIA_ROOT"] = media_root
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import logging

    for name in ("fontTools", "weasyprint", "factur-x"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _prepare(documents: int, lines: int, fmt: str = "facturx", offset: int = 0) -> list[int]:
    from decimal import Decimal

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from inventory.models import Location, Product
    from invoicing.models import LegalEntity
    from invoicing.services import issue
    from orders.models import Channel

    issue._schedule_render = lambda document_id: None  # rendered below, on purpose
    if LegalEntity.objects.exists():
        LegalEntity.objects.update(einvoice_format=fmt)
        return _issue_more(documents, lines, offset)
    LegalEntity.objects.create(
        einvoice_format=fmt,
        name="Maison Bench",
        legal_form="SAS",
        share_capital=Decimal("50000"),
        address_line1="12 rue de la République",
        postcode="69002",
        city="Lyon",
        siren="732829320",
        siret="73282932000074",
        rcs_city="Lyon",
        vat_number="FR44732829320",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPPXXX",
        is_default=True,
        email_documents=False,
    )
    Channel.objects.create(code="web", name="Web")
    Location.objects.create(
        code="lyon",
        name="Lyon",
        address_line1="1 rue",
        postcode="69001",
        city="Lyon",
        latitude=Decimal("45.76"),
        longitude=Decimal("4.85"),
    )
    rates = [Decimal("20.0"), Decimal("5.5"), Decimal("10.0"), Decimal("2.1")]
    [
        Product.objects.create(
            sku=f"BENCH-{i:03d}",
            name=f"Article de démonstration n°{i}",
            ean=f"{3760000000000 + i}",
            weight_g=300,
            price=Decimal("9.90") + i,
            vat_rate=rates[i % len(rates)],
        )
        for i in range(20)
    ]
    return _issue_more(documents, lines, offset)


def _issue_more(documents: int, lines: int, offset: int) -> list[int]:
    from customers.models import Customer
    from inventory.models import Allocation, Location, Product
    from invoicing.services import issue
    from orders.models import Channel, Order, OrderLine

    channel = Channel.objects.get(code="web")
    location = Location.objects.get(code="lyon")
    products = list(Product.objects.order_by("sku"))
    ids = []
    for n in range(offset, offset + documents):
        # Business customers (SIREN, VAT number): the documents carry every 2026 mention.
        customer = Customer.objects.create(
            email=f"client{n}@example.fr",
            first_name="Ana",
            last_name=f"Roux {n}",
            company=f"Société {n}",
            siren="552100554",
            vat_number="FR40552100554",
        )
        order = Order.objects.create(
            number=f"CMD-B-{n:06d}",
            channel=channel,
            external_id=f"B-{n}",
            customer=customer,
            status="in_preparation",
            delivery_mode="home",
            ship_name="Ana Roux",
            ship_line1=f"{n} rue de la Paix",
            ship_postcode="75002",
            ship_city="Paris",
        )
        for line_no in range(1, lines + 1):
            product = products[(n + line_no) % len(products)]
            line = OrderLine.objects.create(
                order=order,
                line_no=line_no,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=1 + line_no % 3,
                unit_price=product.price,
                vat_rate=product.vat_rate,
            )
            Allocation.objects.create(
                order=order, line=line, product=product, location=location, quantity=line.quantity
            )
        ids.append(issue.invoice_issue_for_order(order=order, scope="all").pk)
    return ids


def _render_batch(ids: list[int], media_root: str, queue) -> None:
    """One worker process: render its documents, report (wall seconds, per-document seconds)."""
    _setup_django(media_root)
    from django.db import connection

    from invoicing.services.render import document_render

    per_doc = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for document_id in ids:
        t0 = time.perf_counter()
        document = document_render(document_id=document_id)
        per_doc.append(time.perf_counter() - t0)
        assert document.status == "issued", document.render_error
    queue.put((time.perf_counter() - started, per_doc, time.process_time() - cpu_started))
    connection.close()


def _breakdown(document_id: int) -> dict[str, float]:
    """The parts of one document's rendering, each as ``render.render_pdf`` does it: the HTML without the
    stylesheet (parsed once per process), WeasyPrint with the kept stylesheet and fonts, factur-x rewriting
    the PDF's file with the XML (already checked against the schema)."""
    import tempfile

    import facturx
    from weasyprint import HTML

    from invoicing.models import Invoice
    from invoicing.services import render
    from invoicing.services.cii import build_cii
    from invoicing.services.ubl import build_ubl
    from invoicing.services.validation import check_xsd

    document = Invoice.objects.get(pk=document_id)
    stylesheet, font_config = render._stylesheet()  # loaded once per process, as preload_process does
    times = {}
    t0 = time.perf_counter()
    xml = build_cii(document)
    check_xsd(xml, "cii")
    times["CII + XSD check"] = time.perf_counter() - t0
    if document.einvoice_format == "ubl":
        t0 = time.perf_counter()
        check_xsd(build_ubl(document), "ubl-invoice")
        times["UBL + XSD check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = render.render_html(document, inline_css=False)
    times["HTML template"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pdf = HTML(string=html, base_url=str(ROOT)).write_pdf(
        stylesheets=[stylesheet], pdf_variant="pdf/a-3b", font_config=font_config, uncompressed_pdf=False
    )
    times["WeasyPrint PDF/A-3b"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile(prefix="facturx-", suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        facturx.generate_from_file(
            handle.name, xml, flavor="factur-x", level=render.FACTURX_LEVEL, check_xsd=False
        )
    times["factur-x embedding"] = time.perf_counter() - t0
    return times


def main() -> int:
    global DB
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=60, help="invoices rendered per run (default 60)")
    parser.add_argument("--lines", type=int, default=4, help="lines per invoice (default 4)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="worker processes to try")
    parser.add_argument("--formats", nargs="+", default=["facturx", "ubl"], choices=["facturx", "ubl"])
    parser.add_argument("--budget", type=float, default=1800, help="seconds before the watchdog stops")
    parser.add_argument("--db", default=DB, help=f"database, re-created (default {DB})")
    parser.add_argument("--warm", type=int, default=0, help="render one document N times in this process")
    parser.add_argument("--profile", action="store_true", help="with --warm: cProfile the renders")
    parser.add_argument("--pages", help="with --warm: write the PDF to this file")
    args = parser.parse_args()
    watchdog(args.budget, lambda: None)

    DB = args.db
    if not (args.warm and database_exists(DB)):  # --warm adds its document to the kept database
        recreate_database(DB)
    media_root = tempfile.mkdtemp(prefix="oms-bench-invoices-")
    _setup_django(media_root)
    if args.warm:
        return _warm(args)
    ok = True
    offset = 0
    for fmt in args.formats:
        count = args.documents * len(args.processes) + 3
        ok = _run_format(args, fmt, offset, count, media_root) and ok
        offset += count
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"machine: {os.cpu_count()} cores, load average {load}; HarfBuzz subsetting: {_harfbuzz_subset()}")
    return 0 if ok else 1


def _run_format(args, fmt: str, offset: int, count: int, media_root: str) -> bool:
    t0 = time.perf_counter()
    ids = _prepare(count, args.lines, fmt, offset)
    elapsed = time.perf_counter() - t0
    print(f"[{fmt}] set-up: {len(ids)} invoices issued in {elapsed:.1f} s ({args.lines} lines each)")

    from django.db import connection

    from invoicing.services.render import document_render

    for document_id in ids[:3]:  # warm-up: fonts, templates, XSD
        document_render(document_id=document_id)
    breakdown = _breakdown(ids[0])
    connection.close()
    ids = ids[3:]

    context = multiprocessing.get_context("fork")
    ok = True
    for processes in args.processes:
        batch, ids = ids[: args.documents], ids[args.documents :]
        queue = context.Queue()
        workers = [
            context.Process(target=_render_batch, args=(batch[i::processes], media_root, queue))
            for i in range(processes)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        results = [queue.get(timeout=args.budget) for _ in workers]
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - started
        ok = ok and all(worker.exitcode == 0 for worker in workers)
        per_doc = sorted(t for _wall, docs, _cpu in results for t in docs)
        per_process = [len(docs) / w for w, docs, _cpu in results]
        cpu_per_pdf = sum(cpu for _wall, _docs, cpu in results) / len(per_doc)
        p50, p95 = percentile(per_doc, 50) * 1000, percentile(per_doc, 95) * 1000
        print(
            f"[{fmt}] {processes} process(es): {len(per_doc)} PDFs in {wall:.1f} s = "
            f"{len(per_doc) / wall:.2f} PDFs/s in all, "
            f"{statistics.mean(per_process):.2f} PDFs/s per process; "
            f"per PDF p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms; {cpu_per_pdf * 1000:.0f} ms of CPU per PDF, i.e. at most "
            f"{1 / cpu_per_pdf:.2f} PDFs/s per process on a free core (processes start cold)"
        )
    total = sum(breakdown.values())
    print(
        f"[{fmt}] one document, warm: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in breakdown.items())
        + f" ({total * 1000:.0f} ms)"
    )
    return ok


def _warm(args) -> int:
    """One document rendered ``args.warm`` times in this (warm) process: CPU per part, median."""
    import cProfile
    import io
    import pstats

    from invoicing.models import Invoice
    from invoicing.services import render
    from invoicing.services.cii import build_cii
    from invoicing.services.validation import check_xsd

    document_id = _prepare(1, args.lines, args.formats[0], offset=Invoice.objects.count())[0]
    document = Invoice.objects.select_related("corrects", "legal_entity").get(pk=document_id)
    parts: dict[str, list[float]] = {"CII + XSD": [], "HTML template": [], "render_pdf (all)": []}
    pdf = b""
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    for i in range(args.warm + 2):  # two warm-up renders: imports, fonts, templates, schema
        if profiler and i == 2:
            profiler.enable()
        t0 = time.process_time()
        xml = build_cii(document)
        check_xsd(xml, "cii")
        t1 = time.process_time()
        render.render_html(document, inline_css=False)
        t2 = time.process_time()
        pdf = render.render_pdf(document, xml)
        t3 = time.process_time()
        if i >= 2:
            parts["CII + XSD"].append(t1 - t0)
            parts["HTML template"].append(t2 - t1)
            parts["render_pdf (all)"].append(t3 - t2)
    if profiler:
        profiler.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(40)
            print(f"--- cProfile by {order} ---\n" + out.getvalue()[-10000:])
    if args.pages:
        Path(args.pages).write_bytes(pdf)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"one document ({args.lines} lines), {args.warm} renders, CPU median: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in parts.items())
        + f"; min render_pdf {min(parts['render_pdf (all)']) * 1000:.1f} ms; PDF {len(pdf):,} bytes; "
        f"load average {load}"
    )
    return 0


def _harfbuzz_subset() -> str:
    import ctypes.util

    return "yes" if ctypes.util.find_library("harfbuzz-subset") else "no (fontTools, slower)"


if __name__ == "__main__":
    sys.exit(main())
