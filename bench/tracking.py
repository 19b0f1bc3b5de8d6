"""Tracking poll benchmark: one whole poll cycle over 100,000 parcels in transit.

    .venv/bin/python bench/tracking.py [--parcels 100000] [--workers 2] [--laposte-share 0.5]
                                       [--latency-ms 60] [--quota 100] [--redis-db 10]

Uses a fresh PostgreSQL database (``oms_bench21_tracking`` on BENCH_PG_URL's server) with production
settings. Loads ``--parcels`` parcels handed over or in transit, all due for a check, shared between
Colissimo (tracked through La Poste's Suivi v2, 10 ids a call) and the sandbox carrier (100 a call, answered
from our own database). La Poste is a local HTTP server started here that answers Suivi v2's documented
shapes after ``--latency-ms`` and enforces the ``--quota`` of calls a second (429 beyond); the adapters'
limiter keeps under it. Then, as beat does, ``shipping.tracking_poll`` claims the due parcels and queues
their batches on the ``tracking`` queue (Redis db ``--redis-db``), and ``--workers`` Celery worker processes
(prefork, one process each) apply them. Printed: the poll's own time (claim + publish), the whole cycle's
wall time until the last batch is applied, parcels per second in all and per worker, the workers' and
Postgres's CPU, La Poste calls and 429s, and the statements of one batch (measured in process on a sample).

Then what the cycle set off downstream (``--no-downstream`` skips it): the tracking workers stop, and one
``default`` and one ``notifications`` worker process (prefork, one process each) run the event log's
consumers on the status changes — orders moved (a delivered parcel's order is delivered), customers
notified (each message rendered and sent through Django's in-memory email backend), webhooks and the rest —
with beat's sweeps published on their production schedule. Printed: how long until nothing is left waiting
and every message is sent, the orders moved and messages sent per second, and those workers' and
PostgreSQL's CPU per parcel moved. In production these queues have their own worker services (the
``docker-compose.yml``), so this runs after the cycle, not beside it, and the cycle's figure stays the
tracking workers' own.

Checks (exit status 1 when one fails): every claimed parcel was applied (none left under the lease), no
parcel moved backwards, each Colissimo parcel is at the status La Poste reported, no tracking event stored
twice, one ``shipment.status_changed`` per parcel that moved; downstream: nothing left waiting in the event
log and nothing parked, every delivered parcel's order delivered, every message sent (each once: their
deduplication key is unique).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from multiprocessing import Process, Value
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

DB = "oms_bench21_tracking"
SUIVI_PATH = "/suivi/v2/idships/"
# Suivi v2's steps, as the local server plays them: a parcel's stage is chosen by its number's hash.
STAGES = [
    [("PC1", "Votre colis a été déposé dans un point postal.")],
    [
        ("PC1", "Votre colis a été déposé dans un point postal."),
        ("ET1", "Votre colis est en cours d'acheminement."),
    ],
    [
        ("PC1", "Votre colis a été déposé dans un point postal."),
        ("ET1", "Votre colis est en cours d'acheminement."),
        ("MD2", "Votre colis est en cours de livraison."),
    ],
    [
        ("PC1", "Votre colis a été déposé dans un point postal."),
        ("ET1", "Votre colis est en cours d'acheminement."),
        ("MD2", "Votre colis est en cours de livraison."),
        ("DI1", "Votre colis est livré."),
    ],
]
STAGE_STATUS = ["handed_over", "in_transit", "out_for_delivery", "delivered"]


def stage_of(number: str) -> int:
    return hashlib.sha256(number.encode()).digest()[0] % len(STAGES)


# --- The local La Poste -----------------------------------------------------------------------------------


def suivi_answer(number: str) -> dict:
    return suivi_answer_for_stage(number, stage_of(number))


def _answer_templates() -> list[bytes]:
    """Suivi v2's answer for one number at each stage, as bytes with ``@@ID@@`` where the number goes."""
    return [json.dumps(suivi_answer_for_stage("@@ID@@", stage)).encode() for stage in range(len(STAGES))]


def suivi_answer_for_stage(number: str, stage: int) -> dict:
    events = [
        {"code": code, "label": label, "date": f"2026-12-0{1 + i}T09:{10 + i:02d}:00+01:00"}
        for i, (code, label) in enumerate(STAGES[stage])
    ]
    return {
        "lang": "fr_FR",
        "scope": "open",
        "returnCode": 200,
        "shipment": {
            "idShip": number,
            "product": "colissimo",
            "isFinal": stage == len(STAGES) - 1,
            "event": list(reversed(events)),  # newest first, as La Poste sends them
        },
    }


def serve_laposte(port: int, latency: float, quota: int, calls, refused) -> None:
    """A cheap La Poste: one asyncio loop, HTTP/1.1 keep-alive, answers built from precomputed bytes (the
    first version, a thread per connection and ``json.dumps`` per answer, took ~0.6 of a core from the
    workers it measured)."""
    import asyncio

    templates = _answer_templates()
    unauthorized = json.dumps({"code": "UNAUTHORIZED", "message": "Invalid key"}).encode()
    too_many = json.dumps({"code": "TOO_MANY_REQUESTS", "message": "Quota exceeded"}).encode()
    reasons = {200: b"OK", 207: b"Multi-Status", 401: b"Unauthorized", 429: b"Too Many Requests"}
    window = [0, 0]  # second, calls in it

    def response(status: int, body: bytes) -> bytes:
        return (
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, reasons[status], len(body))
        ) + body

    async def handle(reader, writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, headers = head.partition(b"\r\n")
                path = request_line.split(b" ")[1].split(b"?", 1)[0]
                key = b"x-okapi-key: bench-okapi" in headers.lower()
                if not path.startswith(SUIVI_PATH.encode()) or not key:
                    writer.write(response(401, unauthorized))
                    continue
                second = int(time.time())
                if window[0] != second:
                    window[0], window[1] = second, 0
                window[1] += 1
                if window[1] > quota:
                    refused.value += 1
                    writer.write(response(429, too_many))
                    continue
                calls.value += 1
                await asyncio.sleep(latency)
                ids = path[len(SUIVI_PATH) :].split(b",")
                parts = [templates[stage_of(n.decode())].replace(b"@@ID@@", n) for n in ids]
                body = parts[0] if len(ids) == 1 else b"[" + b", ".join(parts) + b"]"
                writer.write(response(200 if len(ids) == 1 else 207, body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- Data ---------------------------------------------------------------------------------------------------


def load(parcels: int, laposte_share: float) -> dict:
    """Carriers, one template order and shipment, then ``parcels`` orders and parcels by INSERT … SELECT."""
    from datetime import time as dt_time
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from common import eventlog
    from customers.models import Customer
    from inventory.models import Location
    from orders.models import Channel, Order
    from shipping.models import Carrier, CarrierService, Shipment

    code, name, kind, line1, postcode, city, lat, lon = support.LOCATIONS[0]
    location = Location.objects.create(
        code=code, name=name, kind=kind, address_line1=line1, postcode=postcode, city=city,
        latitude=Decimal(lat), longitude=Decimal(lon),
    )  # fmt: skip
    channel = Channel.objects.create(code="bench", name="Bench")
    customer = Customer.objects.create(email="bench@example.fr", first_name="Ana", last_name="Roux")
    colissimo = Carrier.objects.create(code="colissimo", name="Colissimo", adapter="colissimo")
    sandbox = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    services = {
        c.pk: CarrierService.objects.create(
            carrier=c, code="home", name="Domicile", delivery_mode="home", cutoff_time=dt_time(16)
        )
        for c in (colissimo, sandbox)
    }
    template = Order.objects.create(
        channel=channel, customer=customer, external_id="TEMPLATE", status=Order.Status.SHIPPED,
        delivery_mode="home", ship_name="Ana Roux", ship_line1="3 rue X", ship_postcode="69003",
        ship_city="Lyon", total_incl_vat=Decimal("39.80"),
    )  # fmt: skip
    Shipment.objects.create(
        number="TEMPLATE", order=template, location=location, service=services[sandbox.pk],
        status="handed_over", weight_g=800,
    )  # fmt: skip
    now = timezone.now()
    due = now - timedelta(minutes=1)
    started = time.perf_counter()
    with connection.cursor() as cursor:

        def columns(table: str) -> list[str]:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
                [table],
            )
            return [row[0] for row in cursor.fetchall()]

        order_cols = columns("orders_order")
        overrides = {
            "number": "'B' || lpad(g::text, 8, '0')",
            "external_id": "'BENCH-' || g",
            "tracking_token": "md5('bench' || g)",
        }
        select = ", ".join(overrides.get(c, f"t.{c}") for c in order_cols)
        cursor.execute(
            f"INSERT INTO orders_order ({', '.join(order_cols)}) SELECT {select} "  # noqa: S608
            "FROM orders_order t, generate_series(1, %s) g WHERE t.id = %s",
            [parcels, template.pk],
        )
        ship_cols = columns("shipping_shipment")
        # Colissimo for the first share of each hundred, the sandbox for the rest; ages spread over 4 days.
        laposte = f"mod(g, 100) < {round(laposte_share * 100)}"
        overrides = {
            "number": "'P' || lpad(g::text, 8, '0')",
            "order_id": "o.id",
            "service_id": f"CASE WHEN {laposte} THEN {services[colissimo.pk].pk} "
            f"ELSE {services[sandbox.pk].pk} END",
            "tracking_number": f"CASE WHEN {laposte} THEN '6A' || lpad(g::text, 11, '0') "
            "ELSE 'SB' || lpad(g::text, 11, '0') || 'FR' END",
            "status": "CASE WHEN mod(g, 3) = 0 THEN 'in_transit' ELSE 'handed_over' END",
            "shipped_at": "%(now)s - make_interval(hours => mod(g, 96))",
            "created_at": "%(now)s - make_interval(hours => mod(g, 96) + 1)",
            "next_check_at": "%(due)s",
        }
        select = ", ".join(overrides.get(c, f"t.{c}") for c in ship_cols)
        cursor.execute(
            f"INSERT INTO shipping_shipment ({', '.join(ship_cols)}) SELECT {select} "  # noqa: S608
            "FROM shipping_shipment t, generate_series(1, %(n)s) g "
            "JOIN orders_order o ON o.external_id = 'BENCH-' || g "
            "WHERE t.number = 'TEMPLATE'",
            {"n": parcels, "now": now, "due": due},
        )
        cursor.execute("DELETE FROM shipping_shipment WHERE number = 'TEMPLATE'")
        cursor.execute("ANALYZE shipping_shipment")
        cursor.execute("ANALYZE orders_order")
    eventlog.progress_skip_to_now()
    return {"seconds": time.perf_counter() - started, "colissimo": colissimo.pk, "sandbox": sandbox.pk}


# --- Workers ------------------------------------------------------------------------------------------------


def start_worker(env: dict, log: Path, name: str, *, pool: str, concurrency: int) -> subprocess.Popen:
    return support.celery_worker(
        env,
        log,
        f"{name}-{uuid.uuid4().hex[:6]}",
        queues="tracking",
        pool=pool,
        concurrency=concurrency,
        prefetch=4,
    )


# --- Measures -----------------------------------------------------------------------------------------------


def statements_per_batch(carrier_id: int, sample: int = 5) -> list[tuple[int, int, int]]:
    """Run ``sample`` batches of one carrier in this process, counting their statements: (parcels, statements,
    transactions). Parcels already applied are made due again under a new lease (the events are already
    stored, so the inserts write nothing: the same statements)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from shipping import carriers, tracking
    from shipping.models import Carrier, Shipment

    adapter_size = tracking.task_size(carriers.get_adapter(Carrier.objects.get(pk=carrier_id)))
    now = timezone.now()
    until = now + timedelta(seconds=tracking.lease_seconds())
    ids = list(
        Shipment.objects.filter(service__carrier_id=carrier_id, next_check_at__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[: adapter_size * sample]
    )
    Shipment.objects.filter(pk__in=ids).update(next_check_at=until)
    out = []
    for start in range(0, len(ids), adapter_size):
        counted = {"statements": 0, "transactions": 0}

        def count(execute, sql, params, many, context, counted=counted):
            verb = sql.lstrip().split(" ", 1)[0].upper()
            if verb in ("SAVEPOINT", "BEGIN"):
                counted["transactions"] += 1
            elif verb not in ("RELEASE", "COMMIT", "ROLLBACK"):
                counted["statements"] += 1
            return execute(sql, params, many, context)

        batch = ids[start : start + adapter_size]
        with connection.execute_wrapper(count):
            tracking.tracking_batch(carrier_id=carrier_id, shipment_ids=batch, lease_until=until.isoformat())
        out.append((len(batch), counted["statements"], max(1, counted["transactions"])))
    return out


def _backend_ns(pid: int) -> int:
    """CPU time a PostgreSQL backend has used so far, in nanoseconds (the scheduler's own count)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _statement_meter(totals: dict):
    """An execute wrapper adding each statement's backend CPU and wall time to ``totals`` (by first words)."""
    from django.db import connection

    def meter(execute, sql, params, many, context):
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        cpu, wall = _backend_ns(pid), time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:70]
            entry = totals.setdefault(key, [0, 0, 0.0])
            entry[0] += 1
            entry[1] += _backend_ns(pid) - cpu
            entry[2] += time.perf_counter() - wall

    return meter


def profile_batches(batches: int, *, cprofile: bool, pg_statements: bool = False) -> None:
    """Claim the due parcels as beat does, then apply ``batches`` batches of each carrier in this process
    (the worker's work, without Celery), printing CPU per parcel per carrier and, with ``cprofile``, where
    it goes. The parcels claimed and not applied stay under the lease."""
    import cProfile
    import pstats
    from contextlib import nullcontext
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from shipping import carriers, tracking
    from shipping.models import Carrier

    now = timezone.now()
    until = now + timedelta(seconds=tracking.lease_seconds())
    per_carrier: dict[int, list[int]] = {}
    for pk, carrier_id in tracking._claim(now=now, until=until, limit=10**7):
        per_carrier.setdefault(carrier_id, []).append(pk)
    for carrier_id, ids in sorted(per_carrier.items()):
        carrier = Carrier.objects.get(pk=carrier_id)
        size = tracking.task_size(carriers.get_adapter(carrier))
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)][:batches]
        profiler = cProfile.Profile(time.process_time) if cprofile else None  # CPU, not waits
        cpu, wall, parcels = time.process_time(), time.perf_counter(), 0
        statements: dict[str, list] = {}
        meter = connection.execute_wrapper(_statement_meter(statements)) if pg_statements else nullcontext()
        if profiler:
            profiler.enable()
        with meter:
            for chunk in chunks:
                tracking.tracking_batch(
                    carrier_id=carrier_id, shipment_ids=chunk, lease_until=until.isoformat()
                )
                parcels += len(chunk)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{carrier.code}: {len(chunks)} batches, {parcels:,} parcels in this process: "
            f"**{cpu / parcels * 1000:.3f} ms of CPU per parcel**, "
            f"wall {wall / parcels * 1000:.2f} ms per parcel",
            flush=True,
        )
        for key, (count, ns, wall) in sorted(statements.items(), key=lambda kv: -kv[1][1]):
            print(
                f"  postgres {ns / 1e6 / parcels:.3f} ms CPU per parcel, {wall * 1000 / count:.1f} ms wall "
                f"per statement ({count}×): {key}",
                flush=True,
            )
        if profiler:
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)


def downstream(env: dict, log_dir: Path, workers: list, *, budget_end: float, profile: bool = False) -> dict:
    """The consumers of the cycle's events, in one ``default`` and one ``notifications`` worker process,
    with beat's sweeps: until nothing waits in the event log and every message is sent."""
    from django.db import connection

    from common import eventlog
    from customers.models import Notification

    waiting_before = eventlog.backlog()["waiting"]
    procs = [
        support.celery_worker(
            env,
            log_dir / f"bench-tracking-{queue}.log",
            f"down-{queue}-{uuid.uuid4().hex[:6]}",
            queues=queue,
            profile=log_dir / "bench-tracking-default.prof" if profile and queue == "default" else None,
        )
        for queue in ("default", "notifications")
    ]
    workers.extend(procs)  # stopped by the watchdog's clean-up too
    cpu_before = {p.pid: support.tree_cpu(p.pid) for p in procs}
    pg_before = support.postgres_cpu()
    t0 = time.perf_counter()
    beat = support.Beat()
    beat.start()
    print(f"downstream: {waiting_before:,} events waiting for their consumers; workers started", flush=True)

    def remaining() -> tuple[int, int, dict]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_notification WHERE status <> 'sent'")
            unsent = cursor.fetchone()[0]
        backlog = eventlog.backlog()
        return backlog["waiting"], unsent, backlog["consumers"]

    waiting, unsent, _consumers = remaining()
    last_print = t0
    while waiting or unsent:
        time.sleep(1)
        waiting, unsent, consumers = remaining()
        now = time.perf_counter()
        if now - last_print >= 10:
            most = sorted(consumers.items(), key=lambda kv: -kv[1]["waiting"])[:3]
            print(
                f"  {now - t0:.0f} s: {waiting:,} events waiting ("
                + ", ".join(f"{name} {c['waiting']:,}" for name, c in most if c["waiting"])
                + f"), {unsent:,} messages unsent",
                flush=True,
            )
            last_print = now
        if any(p.poll() is not None for p in procs):
            print("!! a downstream worker died", file=sys.stderr)
            break
        if now > budget_end:
            print("!! downstream not finished in time", file=sys.stderr)
            break
    seconds = time.perf_counter() - t0
    beat.stopped.set()
    cpu = {
        queue: support.tree_cpu(p.pid) - cpu_before[p.pid]
        for queue, p in zip(("default", "notifications"), procs, strict=True)
    }
    pg_cpu = support.postgres_cpu() - pg_before
    for proc in procs:
        support.stop(proc)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM shipping_shipment s JOIN orders_order o ON o.id = s.order_id "
            "WHERE s.status = 'delivered' AND o.status <> 'delivered'"
        )
        not_delivered = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orders_order WHERE status = 'delivered'")
        delivered = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM common_domainevent WHERE code = 'order.status_changed'")
        order_moves = cursor.fetchone()[0]
    sent = Notification.objects.filter(status=Notification.Status.SENT).count()
    parked = eventlog.backlog()["parked"]
    return {
        "seconds": seconds,
        "waiting_before": waiting_before,
        "cpu": cpu,
        "pg_cpu": pg_cpu,
        "delivered": delivered,
        "order_moves": order_moves,
        "sent": sent,
        "checks": {
            f"downstream: nothing left waiting in the event log ({waiting} events)": waiting == 0,
            f"downstream: nothing parked ({parked})": parked == 0,
            f"downstream: every delivered parcel's order delivered ({not_delivered} not)": not_delivered == 0,
            f"downstream: every message sent ({unsent} unsent)": unsent == 0,
        },
    }


def report_downstream(after: dict, moved: int) -> None:
    seconds, cpu, pg_cpu = after["seconds"], after["cpu"], after["pg_cpu"]
    per = 1000 / max(1, moved)
    rate = after["sent"] / max(seconds, 0.001)
    print(
        f"downstream: **every consumer done in {seconds:.1f} s** ({after['waiting_before']:,} events waited "
        f"for a consumer at the start, each counted once per consumer) by one default and one notifications "
        f"worker: {after['order_moves']:,} order moves "
        f"({after['delivered']:,} orders delivered), **{after['sent']:,} messages sent** ({rate:,.0f}/s); "
        f"{moved / max(seconds, 0.001):,.0f} moved parcels/s",
        flush=True,
    )
    print(
        f"downstream CPU per moved parcel: default worker {cpu['default'] * per:.2f} ms, "
        f"notifications worker {cpu['notifications'] * per:.2f} ms, "
        f"postgres {pg_cpu * per:.2f} ms (every postgres process)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="Celery worker processes (one pool process each)"
    )
    parser.add_argument(
        "--laposte-share", type=float, default=0.5, help="share of parcels tracked by La Poste"
    )
    parser.add_argument("--latency-ms", type=float, default=60.0, help="La Poste's answer time")
    parser.add_argument("--quota", type=int, default=100, help="La Poste's calls per second")
    parser.add_argument(
        "--pool", default="prefork", choices=["prefork", "threads"], help="each worker process's Celery pool"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="pool size per worker (prefork: processes, threads: threads)",
    )
    parser.add_argument("--fresh", action="store_true", help="migrate again instead of copying the template")
    parser.add_argument("--port", type=int, default=8721)
    parser.add_argument("--db", default=DB, help="the benchmark's database (its template: the same + _tpl)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="BATCHES",
        help="no workers: apply BATCHES batches of each carrier in this process and print CPU per parcel",
    )
    parser.add_argument("--cprofile", action="store_true", help="with --profile: where the CPU goes")
    parser.add_argument(
        "--pg-statements",
        action="store_true",
        help="with --profile: PostgreSQL's CPU per statement (the backend's schedstat around each)",
    )
    parser.add_argument(
        "--no-downstream",
        dest="downstream",
        action="store_false",
        help="stop after the cycle (do not run the consumers: orders moved, customers notified)",
    )
    parser.add_argument(
        "--profile-downstream",
        action="store_true",
        help="run the downstream default worker in one process under cProfile and print its top functions",
    )
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument(
        "--budget", type=float, default=3000, help="seconds before the watchdog stops the run"
    )
    args = parser.parse_args()

    print(
        f"tracking benchmark: database {args.db}, {args.parcels:,} parcels, {args.workers} workers "
        f"({args.pool} × {args.concurrency}), "
        f"La Poste share {args.laposte_share:.0%} ({args.latency_ms:.0f} ms, {args.quota} calls/s); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    calls, refused = Value("l", 0), Value("l", 0)
    server = Process(
        target=serve_laposte,
        args=(args.port, args.latency_ms / 1000, args.quota, calls, refused),
        daemon=True,
    )
    server.start()
    workers: list[subprocess.Popen] = []

    def clean_up():
        for proc in workers:
            support.stop(proc)
        server.terminate()

    support.watchdog(args.budget, clean_up)
    extra = {
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LAPOSTE_OKAPI_KEY": "bench-okapi",
        "LAPOSTE_SUIVI_URL": f"http://127.0.0.1:{args.port}{SUIVI_PATH}",
        "TRACKING_POLL_MAX": str(args.parcels + 1000),
        "EMAIL_URL": "memorymail://",  # Django's locmem backend: each message built and "sent" in the worker
    }
    env = support.server_env(args.db, **extra)
    started = time.perf_counter()
    support.fresh_schema(args.db, env, fresh=args.fresh)
    print(f"schema ready in {time.perf_counter() - started:.0f} s", flush=True)
    support.django_setup(args.db, **extra)
    from django.db import connection

    from oms.celery import app
    from shipping import tracking
    from shipping.models import Shipment, TrackingEvent

    with app.connection_for_write() as conn:  # leftovers of an earlier run
        for queue in ("tracking", "default", "notifications", "documents"):
            conn.default_channel.queue_purge(queue)
    loaded = load(args.parcels, args.laposte_share)
    print(f"loaded {args.parcels:,} orders and parcels in {loaded['seconds']:.0f} s", flush=True)
    if args.profile:
        profile_batches(args.profile, cprofile=args.cprofile, pg_statements=args.pg_statements)
        clean_up()
        return 0
    initial = dict(Shipment.objects.values_list("pk", "status"))

    log_dir = support.ROOT / "var"
    log_dir.mkdir(exist_ok=True)
    workers.extend(
        start_worker(
            env,
            log_dir / f"bench-tracking-worker-{i}.log",
            f"track{i}",
            pool=args.pool,
            concurrency=args.concurrency,
        )
        for i in range(args.workers)
    )
    time.sleep(6)  # workers ready
    idle_from = sum(support.tree_cpu(p.pid) for p in workers), time.perf_counter()
    time.sleep(5)
    idle_cores = (sum(support.tree_cpu(p.pid) for p in workers) - idle_from[0]) / (
        time.perf_counter() - idle_from[1]
    )
    cpu_before = {p.pid: support.tree_cpu(p.pid) for p in workers}
    pg_before = support.postgres_cpu()
    connection.ensure_connection()
    bench_pid = connection.connection.info.backend_pid
    pg_split = support.PostgresCpuByDatabase(own={bench_pid: "the bench's connection (poll, then watching)"})
    bench_pg = _backend_ns(bench_pid)
    machine_before = support._machine_busy()
    t0 = time.perf_counter()
    polled = tracking.tracking_poll()
    poll_seconds = time.perf_counter() - t0
    poll_pg = (_backend_ns(bench_pid) - bench_pg) / 1e9  # the claim's statements, beat's share of PostgreSQL
    print(
        f"poll: {polled['claimed']:,} parcels claimed, {polled['batches']:,} batches queued "
        f"in {poll_seconds:.1f} s",
        flush=True,
    )
    lease = polled["lease_until"]
    left = polled["claimed"]
    while left:
        time.sleep(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM shipping_shipment WHERE next_check_at = %s", [lease])
            left = cursor.fetchone()[0]
        if any(p.poll() is not None for p in workers):
            print("!! a worker died", file=sys.stderr)
            break
        if time.perf_counter() - t0 > args.budget - 300:
            print("!! cycle not finished in time", file=sys.stderr)
            break
    cycle = time.perf_counter() - t0
    cpu_after = {p.pid: support.tree_cpu(p.pid) for p in workers}
    pg_cpu = support.postgres_cpu() - pg_before
    pg_used = pg_split.stop()
    machine_after = support._machine_busy()
    worker_cpu = sum(cpu_after[pid] - cpu_before[pid] for pid in cpu_before)
    applied = polled["claimed"] - left
    other = max(0.0, (machine_after[0] - machine_before[0]) - worker_cpu - pg_cpu) / cycle

    # Checks.
    from shipping.tracking import RANK

    final = dict(Shipment.objects.values_list("pk", "status"))
    backwards = sum(1 for pk, status in final.items() if RANK[status] < RANK[initial[pk]])
    wrong = 0
    for pk, number, status in Shipment.objects.filter(service__carrier_id=loaded["colissimo"]).values_list(
        "pk", "tracking_number", "status"
    ):
        expected = STAGE_STATUS[stage_of(number)]
        if RANK[expected] > RANK[initial[pk]] and status != expected:
            wrong += 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM shipping_trackingevent GROUP BY shipment_id, code, at "
            "HAVING count(*) > 1) d"
        )
        twice = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM common_domainevent WHERE code = 'shipment.status_changed'")
        logged = cursor.fetchone()[0]
    moved = sum(1 for pk, status in final.items() if status != initial[pk])
    events = TrackingEvent.objects.count()

    laposte_calls, laposte_refused = calls.value, refused.value
    sample = statements_per_batch(loaded["colissimo"]) + statements_per_batch(loaded["sandbox"])
    for proc in workers:
        support.stop(proc)
    after = None
    if args.downstream and left == 0:
        after = downstream(
            env, log_dir, workers, budget_end=t0 + args.budget - 120, profile=args.profile_downstream
        )
    clean_up()
    rate = applied / cycle if cycle else 0
    print(
        f"\ncycle: **{applied:,} parcels applied in {cycle:.1f} s = {rate:,.0f} parcels/s** "
        f"with {args.workers} workers ({rate / max(1, args.workers):,.0f} per worker; "
        "target ≥ 2,000/s with 2); the poll itself "
        f"{poll_seconds:.1f} s for {polled['batches']:,} batches",
        flush=True,
    )
    print(
        f"CPU: workers {worker_cpu:.1f} s ({worker_cpu / max(1, applied) * 1000:.2f} ms per parcel, "
        f"{worker_cpu / cycle:.2f} cores; {idle_cores:.3f} cores idle before the poll), "
        f"postgres {pg_cpu:.1f} s ({pg_cpu / max(1, applied) * 1000:.2f} ms per parcel, "
        f"every postgres process of the machine), other processes {other:.2f} cores",
        flush=True,
    )
    this_db = sum(v for k, v in pg_used.items() if k.startswith(f"{args.db}:")) + poll_pg
    print(
        f"PostgreSQL by process: **this database's workers and poll {this_db:.1f} s "
        f"({this_db / max(1, applied) * 1000:.2f} ms per parcel; the poll's claim {poll_pg:.1f} s)**; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(pg_used.items(), key=lambda kv: -kv[1]) if v >= 0.05),
        flush=True,
    )
    print(f"La Poste: {laposte_calls:,} calls answered, {laposte_refused:,} refused (429)", flush=True)
    # The cycle cannot end before La Poste's share has gone through its quota (10 ids a call): the ceiling
    # of the whole cycle's rate, whatever our side does.
    laposte_parcels = round(applied * args.laposte_share)
    floor_s = laposte_parcels / (args.quota * 10) if laposte_parcels else 0
    if floor_s:
        ceiling = applied / floor_s
        print(
            f"La Poste's quota alone needs {floor_s:.1f} s for its {laposte_parcels:,} parcels "
            f"({args.quota} calls/s × 10 ids): the cycle's ceiling is {ceiling:,.0f} parcels/s; "
            f"reached {rate / ceiling:.1%} of it",
            flush=True,
        )
    print(
        "statements per batch (parcels, statements, transactions): "
        + ", ".join(f"({p}, {s}, {t})" for p, s, t in sample),
        flush=True,
    )
    print(f"{events:,} tracking events stored, {moved:,} parcels moved, {logged:,} status events in the log")
    checks = {
        "every claimed parcel applied": left == 0,
        "no parcel moved backwards": backwards == 0,
        "Colissimo parcels at La Poste's status": wrong == 0,
        "no tracking event stored twice": twice == 0,
        "one status event per moved parcel": logged == moved,
    }
    if after is not None:
        report_downstream(after, moved)
        checks.update(after["checks"])
        if args.profile_downstream:
            import pstats

            print("\ncProfile of the downstream default worker (one process):")
            stats = pstats.Stats(str(log_dir / "bench-tracking-default.prof"))
            stats.sort_stats("cumulative").print_stats(45)
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
