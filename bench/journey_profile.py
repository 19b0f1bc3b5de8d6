"""The journey's stages in one process: CPU, statements and PostgreSQL CPU per order, and where the CPU goes.

    .venv/bin/python bench/journey_profile.py --orders 10 [--db oms_bench21_profile] [--redis-db 12]
        [--profile "picking scans:web"] [--top 35]

``journey.py`` measures the journey in real processes; this one finds *why* a stage costs what it costs.
Production settings (no DEBUG), the floor pages through Django's test client (the whole middleware stack,
a signed-in staff session, ``HX-Request`` like the scanners), the API with its key. Each stage has two
parts, measured apart:

- **web**: the requests, with Celery not eager: the event log's consumers are queued in Redis db
  ``--redis-db`` (flushed; nothing consumes them) exactly as gunicorn queues them;
- **workers**: then ``eventlog.consume_all()`` in this process with tasks eager, i.e. what the workers of
  every queue do for that stage (labels, invoices and their PDFs, messages built and "sent" in memory).

Per part: this process's CPU (``time.process_time``), the SQL statements it sent, and the CPU of its
PostgreSQL backend (``/proc/<pg_backend_pid>/schedstat``: the server is local), per order. ``--profile
"stage:part"`` (repeatable) runs that part under cProfile on CPU time and prints the top functions.
"""

import argparse
import collections
import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--db", default="oms_bench21_profile", help="database, re-created (template kept)")
    parser.add_argument("--redis-db", type=int, default=12, help="Redis db for the queued messages (flushed)")
    parser.add_argument("--profile", action="append", default=[], help='e.g. "picking scans:web"')
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="append", default=[], help='print the statements of "stage:part"')
    parser.add_argument(
        "--summary", action="store_true", help="per part, the statements counted by kind and table, per order"
    )
    parser.add_argument(
        "--by-consumer",
        action="store_true",
        help="per workers part, statements per order by consumer and event code (the rest: bookkeeping)",
    )
    parser.add_argument("--fresh", action="store_true", help="migrate again instead of copying the template")
    parser.add_argument(
        "--plans",
        action="store_true",
        help="the generic and custom plans of this connection's prepared statements (pg_prepared_statements)",
    )
    parser.add_argument(
        "--worker-gc",
        action="store_true",
        help="tune the garbage collector as a Celery worker process does (oms/celery.py, WORKER_GC_GEN0)",
    )
    parser.add_argument(
        "--carrier",
        choices=("colissimo", "sandbox"),
        default="colissimo",
        help="as journey.py: Colissimo from a local server in this process (default), or the sandbox carrier",
    )
    return parser.parse_args()


class Counter:
    """Statements sent on the default connection (an execute wrapper: no DEBUG needed)."""

    def __init__(self):
        self.count = 0
        self.log: list[str] | None = None
        self.kinds: collections.Counter | None = None
        self.consumers: collections.Counter | None = None
        self.current = "bookkeeping"  # the consumer (and event code) running, with --by-consumer

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        if self.consumers is not None:
            self.consumers[self.current] += 1
        if self.log is not None:
            self.log.append(sql if self.consumers is None else f"[{self.current}] {sql}")
        if self.kinds is not None:
            self.kinds[statement_kind(sql)] += 1
        return execute(sql, params, many, context)


def statement_kind(sql: str) -> str:
    """``SELECT orders_order``, ``UPDATE inventory_stocklevel``, ``SAVEPOINT``: the verb and first table."""
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([a-z_0-9]+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table and verb not in ("SAVEPOINT", "RELEASE") else verb


def backend_cpu() -> float:
    from django.db import connection

    connection.ensure_connection()
    return support.backend_cpu_seconds(connection.connection.info.backend_pid)


class Part:
    def __init__(
        self, name: str, counter: Counter, profiles: set[str], top: int, sql: set[str] = frozenset()
    ):
        self.name, self.counter, self.profiles, self.top = name, counter, profiles, top
        self.profiler = None
        self.sql = name in sql
        self.kinds: collections.Counter = collections.Counter()
        self.consumers: collections.Counter = collections.Counter()

    def __enter__(self):
        if self.counter.kinds is not None:
            self.counter.kinds = self.kinds
        if self.counter.consumers is not None:
            self.counter.consumers = self.consumers
        if self.sql:
            self.counter.log = []
        self.pg0, self.n0 = backend_cpu(), self.counter.count
        if self.name in self.profiles:
            self.profiler = cProfile.Profile(time.process_time)
            self.profiler.enable()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *exc):
        self.cpu = time.process_time() - self.cpu0
        if self.profiler:
            self.profiler.disable()
        self.statements = self.counter.count - self.n0
        self.pg = backend_cpu() - self.pg0
        if self.sql:
            print(f"\n--- statements of {self.name} ---")
            for sql in self.counter.log[:2000]:
                print("  " + sql[:300])
            self.counter.log = None
        if self.profiler:
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(self.profiler, stream=out).sort_stats(order).print_stats(self.top)
                print(f"\n--- cProfile {self.name} by {order} ---\n" + out.getvalue()[-12000:])
        return False


def by_consumer(counter: Counter) -> None:
    """Wrap every registered consumer's handler so that the statements it sends are counted under its name
    and the event's code, and eager tasks under theirs (the event log's own bookkeeping under
    "bookkeeping")."""
    import dataclasses

    from common import eventlog

    def wrap(c):
        def handler(event):
            before, counter.current = counter.current, f"{c.name} {event.code}"
            try:
                return c.handler(event)
            finally:
                counter.current = before

        return dataclasses.replace(c, handler=handler)

    for name, c in eventlog.consumers().items():
        eventlog._registry[name] = wrap(c)

    from celery.app.task import Task

    apply = Task.apply

    def task_apply(self, *args, **kwargs):  # an eager task (a job, an email sent): under its own name
        before = counter.current
        if not before.startswith("task "):
            counter.current = f"task {self.name.rsplit('.', 1)[-1]}"
        try:
            return apply(self, *args, **kwargs)
        finally:
            counter.current = before

    Task.apply = task_apply


def eager(on: bool) -> None:
    from django.conf import settings

    from oms.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = on
    app.conf.task_always_eager = on


def main() -> int:
    args = parse_args()
    media = tempfile.mkdtemp(prefix="oms-journey-profile-")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    extra = {
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": media,
        "EMAIL_URL": "memorymail://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # One connection, hence one backend, for the whole run: with production's 60 s Django would open a
        # new one between two requests every minute, and a part's backend CPU would be read on two processes.
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "3600"),
    }
    from bench import journey

    if args.carrier == "colissimo":  # journey.py's carrier: Colissimo's labels, not ours
        extra.update(journey.LocalColissimo().env())
    env = support.server_env(args.db, **extra)
    support.fresh_schema(args.db, env, fresh=args.fresh)
    support.django_setup(args.db, **extra)
    import logging

    import redis

    for name in ("fontTools", "weasyprint", "factur-x", "celery"):
        logging.getLogger(name).setLevel(logging.ERROR)
    redis.Redis.from_url(redis_url).flushdb()  # this bench's own db only

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from common import eventlog
    from fulfillment.models import Preparation
    from invoicing.models import Invoice
    from orders.models import Order
    from shipping.models import Shipment

    if args.worker_gc:
        from oms.celery import _tune_gc

        _tune_gc()
    connection.ensure_connection()
    first_backend = connection.connection.info.backend_pid
    eager(True)
    seeded = journey.seed(args.carrier)
    eventlog.progress_skip_to_now()
    eager(False)

    staff = Client(HTTP_HX_REQUEST="true")
    staff.force_login(get_user_model().objects.get(username="bench-floor"))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {seeded['key']}")
    skus = sorted(seeded["products"])
    n = args.orders
    counter = Counter()
    if args.summary:
        counter.kinds = collections.Counter()
    if args.by_consumer:
        counter.consumers = collections.Counter()
        by_consumer(counter)
    results: list[tuple[str, str, Part]] = []
    profiles = set(args.profile)
    broker = redis.Redis.from_url(redis_url)

    def check(response, ok=(200, 201, 204, 302)):
        if response.status_code not in ok:
            raise RuntimeError(f"{response.status_code}: {response.content[:400]!r}")
        return response

    def stage(name: str, web, workers_names=None):
        with connection.execute_wrapper(counter):
            with Part(f"{name}:web", counter, profiles, args.top, set(args.sql)) as part:
                web()
            results.append((name, "web", part))
            broker.flushdb()
            eager(True)
            try:
                with Part(f"{name}:workers", counter, profiles, args.top, set(args.sql)) as part:
                    eventlog.consume_all(names=workers_names)
                results.append((name, "workers", part))
            finally:
                eager(False)

    numbers = []

    def intake():
        for i in range(1, n + 1):
            response = check(
                api.post("/api/v1/orders/", journey.order_body(i, skus), content_type="application/json")
            )
            numbers.append(response.json()["number"])

    stage("intake", intake)

    def waves():
        for _ in range(n):
            check(
                staff.post(
                    "/picking/release/", {"location": seeded["location"], "size": "1"}, HTTP_HX_REQUEST=""
                )
            )

    stage("waves", waves)
    ours = Order.objects.filter(number__in=numbers)
    plan = []
    for prep in Preparation.objects.filter(order__in=ours, kind="ship").prefetch_related("lines"):
        steps = sorted(
            (seeded["products"][line.sku][1], seeded["products"][line.sku][0], line.quantity)
            for line in prep.lines.all()
        )
        plan.append((prep, prep.wave_id, steps))
    scans = {"picking": 0, "packing": 0}

    def picking():
        for _prep, wave_id, steps in plan:
            url = f"/picking/waves/{wave_id}/"
            for bin_code, ean, quantity in steps:
                check(staff.post(url, {"code": bin_code}))
                check(staff.post(url, {"code": ean, "quantity": str(quantity), "bin_ok": bin_code}))
                scans["picking"] += 2

    stage("picking scans", picking)

    def packing():
        for prep, _wave_id, steps in plan:
            check(staff.post("/packing/", {"code": prep.order_number}))
            for _bin, ean, quantity in steps:
                check(staff.post(f"/packing/{prep.pk}/", {"code": ean, "quantity": str(quantity)}))
                scans["packing"] += 1
            check(staff.post(f"/packing/{prep.pk}/close/", {"weight_g": ""}))

    stage("packing + labels", packing)
    labelled = Shipment.objects.filter(order__in=ours, status="labelled").count()

    documents = [c.name for c in eventlog.consumers().values() if c.queue == "documents"]
    others = [c.name for c in eventlog.consumers().values() if c.queue != "documents"]

    def handover():
        check(
            staff.post(
                "/shipping/handover/",
                {"location": seeded["location"], "carrier": seeded["carrier"]},
                HTTP_HX_REQUEST="",
            )
        )

    stage("hand-over", handover, workers_names=others)
    stage("invoices with PDFs", lambda: None, workers_names=documents)
    pdfs = Invoice.objects.filter(order__in=ours).exclude(pdf="").count()

    print(
        f"\n{n} orders ({scans['picking']} picking scans, {scans['packing']} packing scans), "
        f"{labelled} labelled, {pdfs} invoice PDFs; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{timezone.now():%Y-%m-%d %H:%M} UTC"
    )
    print("\n| stage | part | CPU ms/order | statements/order | PG backend ms/order |")
    print("| --- | --- | ---: | ---: | ---: |")
    totals = [0.0, 0.0, 0.0]
    for name, part_name, part in results:
        row = (part.cpu * 1000 / n, part.statements / n, part.pg * 1000 / n)
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"| {name} | {part_name} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.1f} |")
    print(f"| **total** | | {totals[0]:.1f} | {totals[1]:.1f} | {totals[2]:.1f} |")
    if args.summary:
        for name, part_name, part in results:
            if part.statements:
                top = ", ".join(f"{k} {v / n:.1f}" for k, v in part.kinds.most_common(12))
                print(f"- {name} ({part_name}, {part.statements / n:.1f} per order): {top}")
    if args.by_consumer:
        for name, part_name, part in results:
            if part_name == "workers" and part.statements:
                top = ", ".join(f"{k} {v / n:.1f}" for k, v in part.consumers.most_common(30))
                print(f"- {name} (workers, by consumer and event): {top}")
    if connection.connection.info.backend_pid != first_backend:
        print("!! the connection was replaced during the run: the PG backend column is not reliable")
    options = connection.settings_dict["OPTIONS"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        prepared = cursor.fetchone()[0]
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " ORDER BY custom_plans DESC"
        )
        plans = cursor.fetchall()
    if args.plans:
        generic, custom = sum(p[1] for p in plans), sum(p[2] for p in plans)
        print(
            f"plans of the prepared statements: {generic} generic, {custom} "
            "custom (PostgreSQL plans a prepared statement's first five runs for their values); most custom:"
        )
        for statement, generic, custom in plans[:15]:
            print(f"  {generic:5d} generic {custom:5d} custom  {statement[:160]}")
    print(
        f"server-side binding {bool(options.get('server_side_binding'))}, prepare threshold "
        f"{options.get('prepare_threshold')}, {prepared} statements prepared on this connection"
    )
    pick_web = next(p for s, w, p in results if s == "picking scans" and w == "web")
    pack_web = next(p for s, w, p in results if s == "packing + labels" and w == "web")
    print(
        f"picking: {pick_web.cpu * 1000 / max(scans['picking'], 1):.1f} ms of web CPU and "
        f"{pick_web.statements / max(scans['picking'], 1):.1f} statements per scan; packing (look-up, "
        f"scans, close): {pack_web.cpu * 1000 / n:.1f} ms and {pack_web.statements / n:.1f} statements "
        "per order"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
