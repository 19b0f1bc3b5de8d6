"""Order intake benchmark: ``POST /api/v1/orders/`` against gunicorn, beside pgbench on the same server.

    .venv/bin/python bench/intake.py                 # 8 clients, 20 s, then pgbench for 20 s
    .venv/bin/python bench/intake.py --scarce        # 10 units of one SKU, everyone buys it
    .venv/bin/python bench/intake.py --batch 100     # POST /api/v1/orders/batch/, 100 orders per call
    .venv/bin/python bench/intake.py --floor         # the same stack and body, one tiny INSERT: the floor
    .venv/bin/python bench/intake.py --help

What it does, in one run (so that the ratio compares figures taken under the same conditions):

1. drops and re-creates the database ``oms_bench_intake`` on the local Postgres, migrates it, seeds a
   channel with 5 locations, 200 products with plenty of stock (through the inventory services, so the
   ledger is real) and an API key;
2. starts gunicorn (4 sync workers, ``oms.settings.production``, no DEBUG) on 127.0.0.1;
3. sends orders (the DESIGN.md body, 1-3 lines of random SKUs, a unique external_id, half of them with
   an ``Idempotency-Key``) from N client threads for a fixed time, and prints orders/s, p50/p95/p99
   latency, the answers by status and error code, and how the 2 cores were shared;
4. runs pgbench (TPC-B like, scale 10, same clients, same seconds) on a separate database and prints its
   TPS and the ratio orders/s / pgbench TPS (target: >= 0.05, issue 14; long-term >= 0.10);
5. checks: no stock level with reserved > on_hand, ``manage.py stock_audit`` passes, orders in the
   database = 201 answers (scarce: exactly as many orders as units);
6. profiles N more orders in process (Django test client): SQL statements per order (all of them are
   sent by the request: the event log's consumers run in Celery), and for 2-line orders against their
   budget of 15, time per layer.

Exit status: 0 when every check passes (the throughput target is reported, not enforced), 1 when a check
fails, 3 when the run exceeded its time budget. All traffic goes to 127.0.0.1.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support as support  # noqa: E402

TARGET_RATIO = 0.05  # issue 14's target for orders/s / pgbench TPS
LONG_TERM_RATIO = 0.10  # DESIGN.md's long-term target
STATEMENT_BUDGET = 15  # SQL statements of a 2-line order in the request (BEGIN / COMMIT aside)
SCARCE_SKU = "SCARCE-1"
FIRST_NAMES = ["Ana", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Arthur", "Inès", "Nathan"]
LAST_NAMES = ["Roux", "Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Simon", "Michel"]
CITIES = [
    ("69003", "Lyon"),
    ("75011", "Paris"),
    ("13002", "Marseille"),
    ("33000", "Bordeaux"),
    ("59000", "Lille"),
]


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument(
        "--seconds", type=float, default=20, help="measured load time, and pgbench's -T (default 20)"
    )
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured load before (default 3 s)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--port", type=int, default=8030, help="gunicorn port on 127.0.0.1 (default 8030)")
    parser.add_argument("--db", default="oms_bench_intake", help="database, dropped and re-created")
    parser.add_argument("--pgbench-db", default="oms_bench_pgbench", help="pgbench's database (re-created)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i -s (default 10)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench (no ratio)")
    parser.add_argument("--scarce", action="store_true", help="10 units of one SKU, every order buys one")
    parser.add_argument("--units", type=int, default=10, help="units of the scarce SKU (default 10)")
    parser.add_argument(
        "--profile",
        type=int,
        default=200,
        metavar="N",
        help="orders profiled in process after the run (0: none)",
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="also print the top functions (cProfile) of the profiled orders",
    )
    parser.add_argument(
        "--redis-db", type=int, default=5, help="Redis db for the server's cache and broker (-1: no Redis)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        nargs="?",
        const=100,
        default=0,
        metavar="SIZE",
        help="POST /api/v1/orders/batch/ with SIZE orders per call (default 100); target ratio 0.5",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="POST the same bodies to a bench-only endpoint (bench/floor_urls.py): same gunicorn,\n"
        "middleware, "
        "API-key auth and JSON parser, one INSERT of a tiny row, a small answer. What is left of an\n"
        "order's CPU above it is ours",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed")
    parser.add_argument(
        "--budget", type=float, default=900, help="hard limit on the whole run, seconds (default 900)"
    )
    return parser.parse_args()


# --- set-up --------------------------------------------------------------------------------------------


def seed(*, scarce_units: int) -> tuple[str, list[str]]:
    """Channel, 5 locations, 200 products with stock, an API key. Returns (raw key, SKUs)."""
    from django.db import transaction

    from inventory import services as inventory_services
    from inventory.models import Location, Product
    from orders.models import Channel, ChannelLocation
    from orders.services.api_keys import api_key_create

    with transaction.atomic():
        channel = Channel.objects.create(code="bench", name="Bench shop", kind=Channel.Kind.WEB)
        locations = []
        for priority, (code, name, kind, line1, postcode, city, lat, lng) in enumerate(support.LOCATIONS):
            location = Location.objects.create(
                code=code,
                name=name,
                kind=kind,
                address_line1=line1,
                postcode=postcode,
                city=city,
                latitude=Decimal(lat),
                longitude=Decimal(lng),
                is_pickup_point=kind == "store",
            )
            ChannelLocation.objects.create(channel=channel, location=location, priority=priority)
            locations.append(location)
        rates = [Decimal("20.0")] * 6 + [Decimal("10.0"), Decimal("5.5")]
        products = [
            inventory_services.product_create(
                data={
                    "sku": f"BENCH-{i:04d}",
                    "name": f"Article de test {i}",
                    "weight_g": 100 + i,
                    "price": Decimal(f"{5 + i % 90}.90"),
                    "vat_rate": rates[i % len(rates)],
                }
            )
            for i in range(1, 201)
        ]
        # Plenty of stock, through the service (each receipt writes its ledger movement).
        for product in products:
            for location in locations:
                inventory_services.stock_receive(
                    product=product, location=location, quantity=1_000_000, reference="bench"
                )
        scarce = inventory_services.product_create(
            data={
                "sku": SCARCE_SKU,
                "name": "Édition limitée",
                "price": Decimal("99.00"),
                "vat_rate": Decimal("20.0"),
            }
        )
        inventory_services.stock_receive(
            product=scarce, location=locations[0], quantity=scarce_units, reference="bench"
        )
        _, raw_key = api_key_create(channel=channel, scopes=["orders"], name="bench")
    return raw_key, [p.sku for p in Product.objects.filter(sku__startswith="BENCH-").order_by("sku")]


# --- load ----------------------------------------------------------------------------------------------


class Payloads:
    def __init__(self, *, skus: list[str], scarce: bool, rng: random.Random, prefix: str):
        self.skus = skus
        self.scarce = scarce
        self.rng = rng
        self.prefix = prefix
        self.count = 0

    def next(self) -> tuple[str, dict | None]:
        rng = self.rng
        self.count += 1
        if self.scarce:
            lines = [{"sku": SCARCE_SKU, "quantity": 1, "unit_price": "99.00"}]
        else:
            lines = [
                {"sku": sku, "quantity": rng.randint(1, 3), "unit_price": f"{rng.randint(5, 95)}.90"}
                for sku in rng.sample(self.skus, rng.randint(1, 3))
            ]
        n = rng.randrange(20_000)  # a pool of customers: some come back, most are new at first
        postcode, city = rng.choice(CITIES)
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
        body = {
            "external_id": f"{self.prefix}-{self.count}",
            "customer": {
                "email": f"client{n}@example.fr",
                "first_name": first,
                "last_name": last,
                "phone": "+33612345678",
            },
            "delivery": {
                "mode": "home",
                "address": {
                    "line1": f"{n % 150 + 1} rue de la République",
                    "postcode": postcode,
                    "city": city,
                    "country": "FR",
                },
            },
            "lines": lines,
            "allow_preorder": True,
        }
        headers = {"Content-Type": "application/json"}
        if self.count % 2:
            headers["Idempotency-Key"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return json.dumps(body), headers


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []  # seconds, of every answer
        self.created_latencies: list[float] = []
        self.statuses: Counter = Counter()  # "201", "409 out_of_stock", "exc ConnectError"
        self.created = 0

    def add(self, *, latency: float, key: str, created: bool) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.statuses[key] += 1
            if created:
                self.created += 1
                self.created_latencies.append(latency)


def _post(connection, target, url: str, body: bytes, headers: dict, *, timeout: float):
    """One POST on a client's kept HTTP connection (opened when None): ``(connection, status, content)``, the
    connection None once the server said it closes it. On an error the connection is closed and the error
    raised: the caller counts it and opens a new one."""
    import http.client

    try:
        if connection is None:
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=timeout)
        connection.request("POST", url, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        if response.will_close:
            connection.close()
            connection = None
        return connection, response.status, content
    except (OSError, http.client.HTTPException):
        if connection is not None:
            connection.close()
        raise


def run_load(
    *,
    base_url: str,
    raw_key: str,
    skus: list[str],
    clients: int,
    seconds: float,
    scarce: bool,
    seed_value: int,
    phase: str,
    url: str = "/api/v1/orders/",
    on_start=None,
) -> tuple[Results, float]:
    """``clients`` threads, each a loop of POSTs until the deadline. Returns the results and the wall time
    from the start to the last answer.

    The client runs on the same 2 cores as the server, so it is kept lean: one persistent ``http.client``
    connection per thread (not httpx, ~1.3 ms of CPU per order at 16 clients), and each thread's requests
    (body bytes and headers) prepared before the clock starts (more are made on the fly if a fast server
    uses them up). ``on_start()`` is called once they are ready, right before the clock starts (the caller's
    CPU snapshot)."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(base_url)
    per_client = int(seconds * 40) + 50  # ~40 orders/s per client, then made on the fly

    def prepared(payloads: Payloads) -> tuple[bytes, dict]:
        body, headers = payloads.next()
        data = body.encode()
        return data, {
            **headers,
            "Authorization": f"Bearer {raw_key}",
            "Content-Length": str(len(data)),
        }

    queues = []
    for index in range(clients):
        payloads = Payloads(
            skus=skus, scarce=scarce, rng=random.Random(seed_value * 1000 + index), prefix=f"{phase}-{index}"
        )
        queues.append((payloads, [prepared(payloads) for _ in range(per_client)]))

    results = Results()
    if on_start is not None:
        on_start()
    start = time.perf_counter()
    deadline = start + seconds

    def client(index: int) -> None:
        payloads, ready = queues[index]
        ready.reverse()
        connection = None
        while time.perf_counter() < deadline:
            data, headers = ready.pop() if ready else prepared(payloads)
            t0 = time.perf_counter()
            try:
                connection, status, content = _post(connection, target, url, data, headers, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                connection = None
                results.add(latency=time.perf_counter() - t0, key=f"exc {type(exc).__name__}", created=False)
                continue
            latency = time.perf_counter() - t0
            if status == 201:
                results.add(latency=latency, key="201", created=True)
            else:
                try:
                    code = json.loads(content)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "?"
                results.add(latency=latency, key=f"{status} {code}", created=False)
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    return results, time.perf_counter() - start


# --- pgbench -------------------------------------------------------------------------------------------


def run_pgbench(*, db: str, scale: int, clients: int, seconds: float) -> tuple[float, dict]:
    """TPC-B like pgbench; returns (TPS, cores used while it ran)."""
    env = support.pg_env()
    support.recreate_database(db)
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", str(scale), db], env=env, check=True, capture_output=True, timeout=300
    )
    proc = subprocess.Popen(
        ["pgbench", "-c", str(clients), "-j", "2", "-T", str(int(seconds)), db],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1)
    before = support.CpuSnapshot(None)
    time.sleep(max(0.5, seconds - 2))
    after = support.CpuSnapshot(None)
    out, _ = proc.communicate(timeout=seconds + 60)
    match = re.search(
        r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)", out
    )
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed:\n{out}")
    return float(match.group(1)), support.cpu_report(before, after)


# --- checks --------------------------------------------------------------------------------------------


def verify(*, db: str, created: int, scarce: bool, units: int, statuses: Counter) -> list[str]:
    """The invariants after the run. Returns the failures (empty: all good)."""
    from django.db.models import F

    from inventory.models import StockLevel
    from orders.models import Order

    failures = []
    if not created and not scarce:
        failures.append("no order was created: the load failed (see the clients' errors above)")
    over = StockLevel.objects.filter(reserved__gt=F("on_hand")).count()
    print(f"  stock levels with reserved > on_hand: {over}")
    if over:
        failures.append(f"{over} stock level(s) with reserved > on_hand")
    orders = Order.objects.count()
    print(f"  orders in the database: {orders}; 201 answers: {created}")
    if orders != created:
        failures.append(f"{orders} orders in the database but {created} answers 201")
    audit = support.manage("stock_audit", env=support.server_env(db))
    said = audit.stdout.strip().splitlines()[-1] if audit.stdout.strip() else audit.stderr.strip()[-300:]
    print(f"  manage.py stock_audit: exit {audit.returncode}: {said}")
    if audit.returncode != 0:
        failures.append("stock_audit found differences:\n" + audit.stdout[-2000:] + audit.stderr[-2000:])
    unexpected = {
        k: v for k, v in statuses.items() if k != "201" and not (scarce and k == "409 out_of_stock")
    }
    if unexpected:
        failures.append(f"unexpected answers: {dict(unexpected)}")
    if scarce:
        level = StockLevel.objects.get(product__sku=SCARCE_SKU, reserved__gt=0) if created else None
        print(
            f"  scarce SKU: {created} orders for {units} units; reserved {level.reserved if level else 0} of "
            f"{level.on_hand if level else units}; "
            f"{statuses.get('409 out_of_stock', 0)} answers 409 out_of_stock"
        )
        if created != units:
            failures.append(f"scarce: {created} orders for {units} units")
    return failures


def verify_floor(*, created: int, statuses: Counter) -> list[str]:
    """``--floor``: one row per 201 answer, nothing else answered."""
    from django.db import connection
    from floor_urls import TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")  # noqa: S608 (the bench's own constant)
        rows = cursor.fetchone()[0]
    print(f"  floor rows in the database: {rows}; 201 answers: {created}")
    failures = [] if rows == created else [f"{rows} floor rows but {created} answers 201"]
    unexpected = {k: v for k, v in statuses.items() if k != "201"}
    if unexpected:
        failures.append(f"unexpected answers: {dict(unexpected)}")
    return failures


# --- in-process profile --------------------------------------------------------------------------------


class LayerProfiler:
    """Wall time and queries per layer: each patched function is a layer; time and queries are charged to the
    innermost layer running (self time), the rest of the request to "django + drf (rest)"."""

    def __init__(self):
        self.stack: list[str] = []
        self.self_time: dict[str, float] = defaultdict(float)
        self.db_time: dict[str, float] = defaultdict(float)
        self.queries: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self.sql: Counter = Counter()
        self._child = [0.0]

    def wrap(self, label: str, func):
        profiler = self

        def wrapper(*args, **kwargs):
            profiler.calls[label] += 1
            profiler.stack.append(label)
            profiler._child.append(0.0)
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                children = profiler._child.pop()
                profiler.stack.pop()
                profiler.self_time[label] += elapsed - children
                profiler._child[-1] += elapsed

        return wrapper

    def execute_wrapper(self, execute, sql, params, many, context):
        label = self.stack[-1] if self.stack else "django + drf (rest)"
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.db_time[label] += time.perf_counter() - t0
            self.queries[label] += 1
            self.sql[_sql_shape(sql)] += 1


def _sql_shape(sql: str) -> str:
    sql = " ".join(sql.split())
    verb = sql.split(" ", 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    return f"{verb} {table.group(1) if table else ''}".strip()


@contextmanager
def patched(profiler: LayerProfiler):
    """Patch the layers of the intake path with timing wrappers (this process only)."""
    from common import eventlog
    from customers import services as customer_services
    from inventory import services as inventory_services
    from orders import api, api_auth
    from orders.services import intake

    patches = [
        (api_auth.ApiKeyAuthentication, "authenticate", "api key authentication"),
        (api, "order_input_fast", "input validation (fast path)"),
        (api.OrderCreateInput, "is_valid", "input serializer"),
        (api, "idempotency_claim", "idempotency claim"),
        (api, "order_create", "intake service (rest)"),
        (intake, "_validate", "intake: validate (products)"),
        (intake, "decide", "intake: sourcing decision"),
        (customer_services, "customer_get_or_create", "intake: customer (upsert)"),
        (inventory_services, "allocations_reserve", "intake: reserve (one statement)"),
        (intake, "_events", "intake: events (build)"),
        (intake, "events_write", "intake: events (insert)"),
        (intake, "_fill_caches", "intake: answer caches"),
        (api, "idempotency_complete", "idempotency store"),
        (api, "_created_body", "answer (serialise)"),
        (eventlog, "kick", "after commit: queue consumers"),
    ]
    originals = []
    for owner, name, label in patches:
        if not hasattr(owner, name):  # the intake changed shape: profile what is there
            print(f"  (profile: no {getattr(owner, '__name__', owner)}.{name} any more: {label!r} skipped)")
            continue
        own = name in vars(owner)  # else inherited: delete the patch afterwards
        original = getattr(owner, name)
        originals.append((owner, name, original, own))
        setattr(owner, name, profiler.wrap(label, original))
    try:
        yield
    finally:
        for owner, name, original, own in originals:
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


def profile_orders(*, raw_key: str, skus: list[str], count: int, use_cprofile: bool, seed_value: int) -> dict:
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    payloads = Payloads(skus=skus, scarce=False, rng=random.Random(seed_value), prefix="profile")
    for _ in range(20):  # warm the process (imports, caches) before measuring
        body, headers = payloads.next()
        client.post(
            "/api/v1/orders/",
            data=body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
    profiler = LayerProfiler()
    total = 0.0
    statuses = Counter()
    prof = None
    if use_cprofile:
        import cProfile

        prof = cProfile.Profile()
    per_lines: dict[tuple[int, bool], list[int]] = defaultdict(list)
    with patched(profiler), connection.execute_wrapper(profiler.execute_wrapper):
        for _ in range(count):
            body, headers = payloads.next()
            before = sum(profiler.queries.values())
            t0 = time.perf_counter()
            if prof:
                prof.enable()
            response = client.post(
                "/api/v1/orders/",
                data=body,
                content_type="application/json",
                headers={k: v for k, v in headers.items() if k != "Content-Type"},
            )
            if prof:
                prof.disable()
            total += time.perf_counter() - t0
            statuses[response.status_code] += 1
            key = (len(json.loads(body)["lines"]), "Idempotency-Key" in headers)
            per_lines[key].append(sum(profiler.queries.values()) - before)
    layers = dict(profiler.self_time)
    layers["django + drf (rest)"] = total - sum(layers.values())
    return {
        "count": count,
        "total": total,
        "statuses": statuses,
        "profiler": profiler,
        "layers": layers,
        "cprofile": prof,
        "per_lines": dict(per_lines),
    }


def print_profile(result: dict) -> None:
    n = result["count"]
    profiler: LayerProfiler = result["profiler"]
    queries = sum(profiler.queries.values())
    db = sum(profiler.db_time.values())
    print(
        f"\nProfile of {n} orders in process (Django test client, one at a time, no concurrency): "
        f"{result['total'] / n * 1000:.2f} ms per order, {queries / n:.1f} queries per order, "
        f"{db / n * 1000:.2f} ms of it waiting for the database; answers {dict(result['statuses'])}"
    )
    print("  SQL statements per order in the request, by lines and Idempotency-Key (min-max, mean):")
    for (lines, keyed), counts in sorted(result["per_lines"].items()):
        print(
            f"    {lines} line(s), {'with' if keyed else 'no  '} key: {min(counts)}-{max(counts)}, "
            f"mean {sum(counts) / len(counts):.1f} ({len(counts)} orders)"
        )
    print(f"  {'layer':36} {'ms/order':>9} {'of it DB':>9} {'queries':>8}")
    order = sorted(result["layers"], key=lambda k: -result["layers"][k])
    for label in order:
        print(
            f"  {label:36} {result['layers'][label] / n * 1000:9.3f} "
            f"{profiler.db_time.get(label, 0) / n * 1000:9.3f} "
            f"{profiler.queries.get(label, 0) / n:8.2f}"
        )
    print("  queries per order by statement:")
    for shape, count in profiler.sql.most_common():
        print(f"    {count / n:6.2f}  {shape}")
    if result["cprofile"] is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(result["cprofile"], stream=out).sort_stats(
            os.environ.get("BENCH_SORT", "tottime")
        ).print_stats(int(os.environ.get("BENCH_TOP", "25")))
        print("\n  cProfile, top functions by own time:")
        print(
            "\n".join(
                "    " + line
                for line in out.getvalue().splitlines()[: int(os.environ.get("BENCH_TOP", "25")) + 10]
            )
        )


# --- main ----------------------------------------------------------------------------------------------


def summarize(results: Results, elapsed: float) -> dict:
    lat = sorted(results.latencies)
    return {
        "orders_per_s": results.created / elapsed,
        "answers_per_s": len(lat) / elapsed,
        "p50": support.percentile(lat, 50) * 1000,
        "p95": support.percentile(lat, 95) * 1000,
        "p99": support.percentile(lat, 99) * 1000,
        "max": (lat[-1] if lat else 0) * 1000,
    }


def main() -> int:
    args = parse_args()
    server: support.Server | None = None

    def cleanup():
        if server is not None:
            server.stop()

    support.watchdog(args.budget, cleanup)
    redis_url = ""
    if args.redis_db >= 0:
        redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    extra = (
        {"REDIS_URL": redis_url, "SITE_URL": f"http://127.0.0.1:{args.port}"}
        if redis_url
        else {"SITE_URL": f"http://127.0.0.1:{args.port}"}
    )

    t0 = time.perf_counter()
    print(
        f"== intake benchmark{' (scarce stock)' if args.scarce else ''}: {args.clients} clients, "
        f"{args.seconds:.0f} s, "
        f"gunicorn {args.workers} workers, database {args.db}; load average {os.getloadavg()[0]:.2f}"
    )
    support.recreate_database(args.db)
    support.django_setup(args.db, **extra)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    raw_key, skus = seed(scarce_units=args.units)
    if args.floor:
        from floor_urls import CREATE_TABLE

        with connection.cursor() as cursor:
            cursor.execute(CREATE_TABLE)
    connection.close()
    print(
        f"set-up: database migrated and seeded in {time.perf_counter() - t0:.1f} s "
        f"({len(skus)} products x 5 locations, channel 'bench', API key)"
    )

    log = support.ROOT / "var" / "bench-intake-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    failures: list[str] = []
    try:
        env = support.server_env(args.db, **extra)
        if args.floor:  # the floor endpoint is mounted by the bench's settings only
            env["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"
        server = support.Server(port=args.port, workers=args.workers, env=env, log=log)
        server.wait_ready()
        base_url = f"http://127.0.0.1:{args.port}"
        url = "/api/v1/floor/" if args.floor else "/api/v1/orders/"
        warm = None
        if args.warmup > 0 and not args.scarce:
            warm, _ = run_load(
                base_url=base_url,
                raw_key=raw_key,
                skus=skus,
                clients=args.clients,
                seconds=args.warmup,
                scarce=False,
                seed_value=args.seed + 1,
                phase="warmup",
                url=url,
            )
            print(f"warm-up: {args.warmup:.0f} s, {warm.created} orders, answers {dict(warm.statuses)}")
        snapshots = []
        results, elapsed = run_load(
            base_url=base_url,
            raw_key=raw_key,
            skus=skus,
            clients=args.clients,
            seconds=args.seconds,
            scarce=args.scarce,
            seed_value=args.seed,
            phase="run",
            url=url,
            on_start=lambda: snapshots.append(support.CpuSnapshot(server.proc.pid)),
        )
        before = snapshots[0]
        after = support.CpuSnapshot(server.proc.pid)
    finally:
        cleanup()
        server = None
    cpu = support.cpu_report(before, after)
    figures = summarize(results, elapsed)
    print(
        f"\nPOST {url}: {results.created} {'requests' if args.floor else 'orders'} in {elapsed:.1f} s = "
        f"{figures['orders_per_s']:.1f} orders/s "
        f"({figures['answers_per_s']:.1f} answers/s)"
    )
    print(
        f"  latency of every answer: p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, "
        f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms"
    )
    print(f"  answers: {dict(sorted(results.statuses.items()))}")
    print(f"  cores used during the load (of 2): {support.format_cpu(cpu)}")
    if results.latencies:
        what, count = ("answer", len(results.latencies)) if args.scarce else ("order", results.created)
        per_order = elapsed / count * 1000
        print(
            f"  CPU per {what}: gunicorn {cpu['server'] * per_order:.1f} ms, "
            f"postgres {cpu['postgres'] * per_order:.1f} ms, "
            f"client {cpu['client'] * per_order:.1f} ms"
        )
    if cpu["other"] > 0.2:
        print(
            f"  WARNING: other processes used {cpu['other']:.2f} cores meanwhile: the figures are not clean"
        )

    tps = None
    if not args.no_pgbench:
        tps, pg_cpu = run_pgbench(
            db=args.pgbench_db, scale=args.scale, clients=args.clients, seconds=args.seconds
        )
        print(
            f"\npgbench TPC-B (scale {args.scale}, -c {args.clients} -j 2 -T {args.seconds:.0f}): "
            f"{tps:.0f} TPS"
        )
        print(f"  cores used during pgbench (of 2): {support.format_cpu(pg_cpu)}")
        if pg_cpu["other"] > 0.2:
            print(f"  WARNING: other processes used {pg_cpu['other']:.2f} cores meanwhile: figures not clean")

    print("\nChecks:")
    created_total = results.created + (warm.created if warm else 0)
    statuses = results.statuses + (warm.statuses if warm else Counter())
    if args.floor:
        failures += verify_floor(created=created_total, statuses=statuses)
    else:
        failures += verify(
            db=args.db, created=created_total, scarce=args.scarce, units=args.units, statuses=statuses
        )

    statements = None
    if args.profile and not args.scarce and not args.floor:
        result = profile_orders(
            raw_key=raw_key,
            skus=skus,
            count=args.profile,
            use_cprofile=args.cprofile,
            seed_value=args.seed + 2,
        )
        print_profile(result)
        two_lines = [c for (lines, _), counts in result["per_lines"].items() if lines == 2 for c in counts]
        statements = max(two_lines) if two_lines else None
        if set(result["statuses"]) != {201}:
            failures.append(f"profiled orders answered {dict(result['statuses'])}")

    print("\nSummary:")
    print(
        f"  orders/s {figures['orders_per_s']:.1f}, p50 {figures['p50']:.1f} ms, "
        f"p95 {figures['p95']:.1f} ms, "
        f"answers other than 201: {sum(v for k, v in results.statuses.items() if k != '201')}"
    )
    if statements is not None:
        print(
            f"  SQL statements per 2-line order: at most {statements} "
            f"(budget {STATEMENT_BUDGET}: {'MET' if statements <= STATEMENT_BUDGET else 'NOT MET'})"
        )
    if tps and not args.scarce:
        ratio = figures["orders_per_s"] / tps
        clean = not failures and (args.scarce or set(results.statuses) == {"201"})
        if args.floor:
            print(
                f"  FLOOR: pgbench {tps:.0f} TPS; ratio requests/s / pgbench TPS = {ratio:.3f} (the most an "
                f"order could reach through this stack; single-order target {TARGET_RATIO:.2f})"
            )
        else:
            print(
                f"  pgbench {tps:.0f} TPS; ratio orders/s / pgbench TPS = {ratio:.3f} "
                f"(target >= {TARGET_RATIO:.2f}: {'MET' if clean and ratio >= TARGET_RATIO else 'NOT MET'}; "
                f"long-term >= {LONG_TERM_RATIO:.2f}: "
                f"{'MET' if clean and ratio >= LONG_TERM_RATIO else 'NOT MET'})"
            )
    if failures:
        print("  FAILED checks:\n    " + "\n    ".join(failures))
        return 1
    print(f"  all checks passed (run took {time.perf_counter() - t0:.0f} s)")
    return 0


# --- batch intake (--batch) ------------------------------------------------------------------------------

BATCH_TARGET_RATIO = 0.5


def run_batch_load(
    *,
    base_url: str,
    raw_key: str,
    skus: list[str],
    clients: int,
    seconds: float,
    size: int,
    seed_value: int,
    phase: str,
    on_start=None,
) -> tuple[Results, float, int]:
    """``clients`` threads, each a loop of batch POSTs of ``size`` orders until the deadline. Every order's
    result is counted like a single answer; returns the results, the wall time and the calls made.

    Lean, as ``run_load``: one persistent ``http.client`` connection per thread (was httpx), the bodies
    prepared before the clock and before ``on_start()`` (the caller's CPU snapshot), and an answer whose
    results are all 201 counted from its ``"status":201`` members (the only integer ``status`` of the
    answer: an order's and its payment's are strings) without decoding it; any other answer is decoded."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(base_url)
    results = Results()
    calls = [0]
    # The bodies are prepared before the clock (JSON text of each call, its Idempotency-Key), enough for
    # ~400 orders/s per client; a client that uses them up makes more as it goes.
    bodies: list[list[tuple[bytes, str]]] = []
    for index in range(clients):
        payloads = Payloads(
            skus=skus, scarce=False, rng=random.Random(seed_value * 1000 + index), prefix=f"{phase}-{index}"
        )
        bodies.append([_batch_body(payloads, size) for _ in range(max(2, int(seconds * 400 / size) + 1))])
    headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    statuses = re.compile(rb'"status":\s*(\d+)')
    if on_start is not None:
        on_start()
    start = time.perf_counter()
    deadline = start + seconds

    def client(index: int) -> None:
        payloads = Payloads(
            skus=skus,
            scarce=False,
            rng=random.Random(seed_value * 1000 + index),
            prefix=f"{phase}-{index}-more",
        )
        ready = iter(bodies[index])
        connection = None
        while time.perf_counter() < deadline:
            content, key = next(ready, None) or _batch_body(payloads, size)
            t0 = time.perf_counter()
            try:
                connection, status, answer = _post(
                    connection,
                    target,
                    "/api/v1/orders/batch/",
                    content,
                    {**headers, "Idempotency-Key": key, "Content-Length": str(len(content))},
                    timeout=120,
                )
            except (OSError, http.client.HTTPException) as exc:
                connection = None
                results.add(latency=time.perf_counter() - t0, key=f"exc {type(exc).__name__}", created=False)
                continue
            latency = time.perf_counter() - t0
            with results.lock:
                calls[0] += 1
            if status != 200:
                results.add(latency=latency, key=f"batch {status}", created=False)
                continue
            found = statuses.findall(answer)
            if len(found) == size and all(x == b"201" for x in found):
                with results.lock:
                    results.latencies.extend([latency] * size)
                    results.created_latencies.extend([latency] * size)
                    results.statuses["201"] += size
                    results.created += size
                continue
            for result in json.loads(answer)["results"]:
                if result["status"] == 201:
                    results.add(latency=latency, key="201", created=True)
                else:
                    results.add(
                        latency=latency,
                        key=f"{result['status']} {result['error']['code']}",
                        created=False,
                    )
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 180)
    return results, time.perf_counter() - start, calls[0]


def _batch_body(payloads, size: int) -> tuple[bytes, str]:
    """One call's body (``size`` orders) as JSON bytes, and its Idempotency-Key."""
    orders = [json.loads(payloads.next()[0]) for _ in range(size)]
    key = str(uuid.UUID(int=payloads.rng.getrandbits(128), version=4))
    return json.dumps({"orders": orders}).encode(), key


def profile_batch(*, raw_key: str, skus: list[str], size: int, calls: int, seed_value: int) -> dict:
    """Batches sent in process (Django test client): statements and wall time per order, by statement."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    payloads = Payloads(skus=skus, scarce=False, rng=random.Random(seed_value), prefix="profile-batch")

    def send():
        orders = [json.loads(payloads.next()[0]) for _ in range(size)]
        return client.post("/api/v1/orders/batch/", data={"orders": orders}, content_type="application/json")

    send()  # warm the process
    profiler = LayerProfiler()
    statuses: Counter = Counter()
    t0 = time.perf_counter()
    with connection.execute_wrapper(profiler.execute_wrapper):
        for _ in range(calls):
            response = send()
            for result in response.json()["results"]:
                statuses[result["status"]] += 1
    total = time.perf_counter() - t0
    return {"orders": calls * size, "total": total, "profiler": profiler, "statuses": statuses}


def batch_main(args) -> int:
    """``--batch``: the same set-up, load and checks, through ``POST /api/v1/orders/batch/``."""
    server: support.Server | None = None

    def cleanup():
        if server is not None:
            server.stop()

    support.watchdog(args.budget, cleanup)
    extra = {"SITE_URL": f"http://127.0.0.1:{args.port}"}
    if args.redis_db >= 0:
        extra["REDIS_URL"] = f"redis://127.0.0.1:6379/{args.redis_db}"
    t0 = time.perf_counter()
    print(
        f"== batch intake benchmark: {args.clients} clients, batches of {args.batch}, {args.seconds:.0f} s, "
        f"gunicorn {args.workers} workers, database {args.db}; load average {os.getloadavg()[0]:.2f}"
    )
    support.recreate_database(args.db)
    support.django_setup(args.db, **extra)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    raw_key, skus = seed(scarce_units=args.units)
    connection.close()
    print(f"set-up: database migrated and seeded in {time.perf_counter() - t0:.1f} s")
    log = support.ROOT / "var" / "bench-intake-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    failures: list[str] = []
    warm = None
    try:
        server = support.Server(
            port=args.port, workers=args.workers, env=support.server_env(args.db, **extra), log=log
        )
        server.wait_ready(timeout=180)  # a loaded machine starts 4 workers slowly
        base_url = f"http://127.0.0.1:{args.port}"
        common = {"base_url": base_url, "raw_key": raw_key, "skus": skus, "clients": args.clients}
        if args.warmup > 0:
            warm, _, _ = run_batch_load(
                **common, seconds=args.warmup, size=args.batch, seed_value=args.seed + 1, phase="warmup"
            )
            print(f"warm-up: {args.warmup:.0f} s, {warm.created} orders")
        snapshots = {}

        def on_start():  # once the bodies are prepared: the client's CPU counts its load only
            snapshots["before"] = support.CpuSnapshot(server.proc.pid)
            snapshots["own"] = support.database_backends_cpu(args.db)

        with support.WaitSampler(args.db) as waits:
            results, elapsed, calls = run_batch_load(
                **common,
                seconds=args.seconds,
                size=args.batch,
                seed_value=args.seed,
                phase="run",
                on_start=on_start,
            )
        before, own_before = snapshots["before"], snapshots["own"]
        own_after = support.database_backends_cpu(args.db)
        after = support.CpuSnapshot(server.proc.pid)
    finally:
        cleanup()
        server = None
    cpu = support.cpu_report(before, after)
    figures = summarize(results, elapsed)
    print(
        f"\nPOST /api/v1/orders/batch/: {calls} calls, {results.created} orders in {elapsed:.1f} s = "
        f"{figures['orders_per_s']:.1f} orders/s"
    )
    print(f"  latency of a call: p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms")
    print(f"  results: {dict(sorted(results.statuses.items()))}")
    print(f"  cores used during the load (of 2): {support.format_cpu(cpu)}")
    print(f"  the database's backends (pg_stat_activity): {waits.report()}")
    if results.created:
        per_order = elapsed / results.created * 1000
        print(
            f"  CPU per order: gunicorn {cpu['server'] * per_order:.2f} ms, "
            f"postgres {cpu['postgres'] * per_order:.2f} ms, client {cpu['client'] * per_order:.2f} ms"
        )
        # The backends of this database only (connected before and after the load: gunicorn's workers keep
        # theirs), without the other databases' work on a shared machine.
        own = sum(cpu - own_before.get(pid, 0.0) for pid, cpu in own_after.items() if pid in own_before)
        print(
            f"  PostgreSQL CPU of this database's backends: {own / results.created * 1000:.2f} ms per order "
            f"({len(set(own_before) & set(own_after))} backends)"
        )
    if cpu["other"] > 0.2:
        print(
            f"  WARNING: other processes used {cpu['other']:.2f} cores meanwhile: the figures are not clean"
        )
    tps = None
    if not args.no_pgbench:
        tps, pg_cpu = run_pgbench(
            db=args.pgbench_db, scale=args.scale, clients=args.clients, seconds=args.seconds
        )
        print(
            f"\npgbench TPC-B (scale {args.scale}, -c {args.clients} -j 2 -T {args.seconds:.0f}): "
            f"{tps:.0f} TPS"
        )
        print(f"  cores used during pgbench (of 2): {support.format_cpu(pg_cpu)}")

    print("\nChecks:")
    created_total = results.created + (warm.created if warm else 0)
    statuses = results.statuses + (warm.statuses if warm else Counter())
    failures += verify(db=args.db, created=created_total, scarce=False, units=args.units, statuses=statuses)

    per_order_statements = None
    if args.profile:
        calls_profiled = max(1, args.profile // args.batch)
        result = profile_batch(
            raw_key=raw_key, skus=skus, size=args.batch, calls=calls_profiled, seed_value=args.seed + 2
        )
        profiler = result["profiler"]
        n = result["orders"]
        queries = sum(profiler.queries.values())
        per_order_statements = queries / n
        print(
            f"\nIn-process profile: {calls_profiled} batch(es) of {args.batch}: "
            f"{result['total'] / n * 1000:.2f} ms per order, {per_order_statements:.2f} statements per order "
            f"({queries} for {n} orders; DB {sum(profiler.db_time.values()) / n * 1000:.2f} ms per order)"
        )
        for shape, count in profiler.sql.most_common(12):
            print(f"    {count:6d}  {shape}")
        if set(result["statuses"]) != {201}:
            failures.append(f"profiled orders answered {dict(result['statuses'])}")

    print("\nSummary:")
    print(
        f"  batch intake {figures['orders_per_s']:.1f} orders/s"
        + (f", {per_order_statements:.2f} statements per order" if per_order_statements else "")
    )
    if tps:
        ratio = figures["orders_per_s"] / tps
        met = ratio >= BATCH_TARGET_RATIO and not failures
        print(
            f"  pgbench {tps:.0f} TPS; ratio orders/s / pgbench TPS = {ratio:.3f} "
            f"(target >= {BATCH_TARGET_RATIO:.2f}: {'MET' if met else 'NOT MET'})"
        )
    if failures:
        print("  FAILED checks:\n    " + "\n    ".join(failures))
        return 1
    print(f"  all checks passed (run took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    _args = parse_args()
    sys.exit(batch_main(_args) if _args.batch else main())
