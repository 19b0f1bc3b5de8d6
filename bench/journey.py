"""The whole journey of an order, stage by stage, in real processes: CPU per order in web, workers, Postgres.

    .venv/bin/python bench/journey.py --orders 30 [--db oms_bench21_journey] [--redis-db 12] [--port 8021]

Processes, as docker-compose.yml runs them (on 127.0.0.1, ``oms.settings.production``):

- **web**: gunicorn (2 sync workers, ``bench/intake.py``'s ``Server``) answers the API intake and the floor's
  pages, driven over HTTP as the scanners drive them: a staff user signs in (``/accounts/login/``, CSRF token
  and session cookie), releases waves (``/picking/release/``), scans bin then EAN on the wave's
  page, looks the order up at the pack station, scans its units, closes the parcel and hands the parcels
  over (``/shipping/handover/``), each form with its CSRF token and ``HX-Request`` like the htmx pages;
- **workers**, one per queue through Redis db ``--redis-db`` (flushed first): ``default`` (prefork),
  ``documents`` (prefork), ``notifications`` (prefork), ``tracking`` (``--pool threads``);
- **beat**: this process publishes what beat would, on production's schedule (``common.events_sweep``
  every 30 s, ``common.jobs_sweep`` and ``customers.dispatch_due_notifications`` every 60 s;
  ``shipping.tracking_poll`` in the tracking stage) to the workers' queues.

The carrier (``--carrier colissimo``, the default) is Colissimo through its adapter, answered by a local
server in this process (``LocalColissimo``): SLS labels as ``multipart/related`` with a PDF, Suivi v2 tracking
within its quota, as production gets them from Colissimo's servers, whose CPU is not ours. With ``--carrier
sandbox`` the sandbox carrier makes the labels in our workers (WeasyPrint, ~65 ms of CPU each) and answers
tracking from the hand-over time. The stages run one after the other for all the orders, each until its
work is done and every process is quiet again:

1. intake: ``POST /api/v1/orders/`` (2-line orders), then the consumers (preparations, messages queued);
2. waves: one wave released per order (``size=1``);
3. picking scans: bin then EAN for each line, on the wave's page;
4. packing + labels: pack station look-up, a scan per line, parcel closed, the label asked of the carrier;
5. hand-over: the manifest; the orders ship, the invoices are issued (gapless numbers);
6. invoices with PDFs: the ``documents`` queue, paused during the hand-over, renders each invoice;
7. tracking to delivered: the parcels' hand-over moved three days back (the sandbox carrier answers from
   it; Colissimo's server answers "delivered"), then ``tracking_poll`` and its batches until every order is
   delivered;
8. notifications: the ``notifications`` queue, paused until now, sends every message (Django's in-memory
   email backend: each message rendered and built, not delivered) and the event log's notification consumers.

First ``--warmup`` orders (default 20) go through every stage unmeasured, as on servers that have been
running: each process has then imported what it uses and PostgreSQL has planned and cached each statement it
prepares (psycopg prepares a statement at its second run on a connection, and PostgreSQL plans its first
five prepared runs for their values before it keeps a generic plan: with two web workers, 20 orders take a
statement run once per order past those seven runs in each), which in a cold 30-order run was about 40 % of
PostgreSQL's CPU (60 ms per order cold, 31–32 warm). Their figures are
printed on one line; ``--warmup 0`` measures cold processes.

CPU is read from /proc before and after each stage: per process group the utime + stime of its live
processes (gunicorn and its workers; each Celery worker and its pool); for PostgreSQL the postmaster's
cutime + cstime (the backends that exited, reaped into it) plus every live postgres process, which is the
whole server's CPU: other databases' work on a shared machine counts too, so the column of this database's
live backends is printed beside it (a lower bound: a backend that ended within a stage is only in the
whole-server figure; the web and the workers keep their connections, oms/celery.py, and the run prints how
many sessions were opened on the database while it was measured). Printed: stage × {web, each queue,
postgres} in ms of CPU per order, totals, PostgreSQL's figure over this bench process's own (the machine's
speed that minute taken out), and the capacity that follows (orders per day per core). Checks
(exit status 1): every order delivered, invoiced exactly once with a PDF, no parcel's tracking moved
backwards, no domain or tracking event stored twice, every order's messages sent.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

STAGES = (
    "intake",
    "waves",
    "picking scans",
    "packing + labels",
    "hand-over",
    "invoices with PDFs",
    "tracking to delivered",
    "notifications",
)
QUEUES = ("default", "documents", "tracking", "notifications")
PASSWORD = "bench-journey-password"  # noqa: S105 (a throw-away user of a throw-away database)
PG_TARGET_MS = 30  # issue 21: PostgreSQL CPU per order over the whole journey
TOTAL_TARGET_MS = 500  # issue 21: every process's CPU per order
STATUS_RANK = {
    "handed_over": 1,
    "in_transit": 2,
    "out_for_delivery": 3,
    "available_for_pickup": 3,
    "delivered": 4,
}


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="orders taken through the whole journey first and not measured (default 20; 0: measure cold "
        "processes)",
    )
    parser.add_argument("--db", default="oms_bench21_journey", help="database, re-created (template kept)")
    parser.add_argument("--redis-db", type=int, default=12, help="Redis db of the broker (flushed first)")
    parser.add_argument("--port", type=int, default=8021, help="gunicorn port on 127.0.0.1")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--profile-queue",
        choices=QUEUES,
        help="run this queue's worker in one process under cProfile and print its top functions",
    )
    parser.add_argument(
        "--carrier",
        choices=("colissimo", "sandbox"),
        default="colissimo",
        help="colissimo (default): Colissimo's SLS labels and La Poste's Suivi v2 from a local server in "
        "this process, as production gets them from the carrier; sandbox: the sandbox carrier, whose "
        "labels are rendered by our workers (WeasyPrint)",
    )
    parser.add_argument("--fresh", action="store_true", help="migrate again instead of copying the template")
    parser.add_argument("--budget", type=float, default=1500, help="hard limit on the run, seconds")
    return parser.parse_args()


# --- set-up --------------------------------------------------------------------------------------------


def ean13(twelve: str) -> str:
    """The 12 digits with their EAN-13 check digit."""
    total = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(twelve))
    return twelve + str((10 - total % 10) % 10)


def seed(carrier_code: str) -> dict:
    """A warehouse with bins, 20 products with EANs and stock, the carrier with a home service and
    the rule that chooses it, a legal entity (invoices), a web channel and its API key, a staff user."""
    from datetime import time as dt_time
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from inventory import services as inventory_services
    from inventory.models import Location, StockLevel
    from invoicing.models import LegalEntity
    from orders.models import Channel, ChannelLocation
    from orders.services.api_keys import api_key_create
    from shipping.models import Carrier, CarrierService, ShippingRule

    code, name, kind, line1, postcode, city, lat, lng = support.LOCATIONS[0]
    location = Location.objects.create(
        code=code, name=name, kind=kind, address_line1=line1, postcode=postcode, city=city,
        latitude=Decimal(lat), longitude=Decimal(lng),
    )  # fmt: skip
    channel = Channel.objects.create(code="web", name="Web", kind=Channel.Kind.WEB)
    ChannelLocation.objects.create(channel=channel, location=location, priority=1)
    products = {}
    for i in range(1, 21):
        product = inventory_services.product_create(
            data={
                "sku": f"JRN-{i:03d}",
                "name": f"Article {i}",
                "ean": ean13(f"376000000{i:03d}"),
                "weight_g": 200 + i,
                "price": Decimal(f"{9 + i}.90"),
                "vat_rate": Decimal("20.0"),
            }
        )
        inventory_services.stock_receive(
            product=product, location=location, quantity=100_000, reference="bench"
        )
        StockLevel.objects.filter(product=product, location=location).update(bin_code=f"A-{i:02d}-1")
        products[product.sku] = (product.ean, f"A-{i:02d}-1")
    if carrier_code == "colissimo":
        carrier = Carrier.objects.create(code="colissimo", name="Colissimo", adapter="colissimo")
        service_code = "domicile"
    else:
        carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
        service_code = "home"
    service = CarrierService.objects.create(
        carrier=carrier, code=service_code, name="Domicile", delivery_mode="home", cutoff_time=dt_time(23, 59)
    )
    ShippingRule.objects.create(position=1, name="Home", delivery_mode="home", service=service)
    LegalEntity.objects.create(
        name="Maison Bench", legal_form="SAS", share_capital=Decimal("50000"),
        address_line1="12 rue de la République", postcode="69002", city="Lyon", siren="732829320",
        siret="73282932000074", rcs_city="Lyon", vat_number="FR44732829320",
        iban="FR7630006000011234567890189", bic="AGRIFRPPXXX", is_default=True, email_documents=False,
    )  # fmt: skip
    _, raw_key = api_key_create(channel=channel, scopes=["orders"], name="bench")
    # A picker as the floor has them: warehouse staff working at this location (not a superuser, whose
    # permissions Django never reads: the floor's permission and scope reads count as they do for staff).
    from django.contrib.auth.models import Group

    from inventory.models import StaffProfile
    from oms.roles import WAREHOUSE_STAFF

    floor = get_user_model().objects.create_user("bench-floor", "floor@example.fr", PASSWORD)
    floor.groups.add(Group.objects.get(name=WAREHOUSE_STAFF))
    StaffProfile.objects.create(user=floor).locations.add(location)
    return {"key": raw_key, "products": products, "location": code, "carrier": carrier.pk}


# --- the carrier, over HTTP ------------------------------------------------------------------------------

SLS_PATH = "/sls-ws/SlsServiceWSRest/2.0/generateLabel"
SUIVI_PATH = "/suivi/v2/idships/"
BOUNDARY = "uuid:bench-journey-sls"


class LocalColissimo:
    """Colissimo's SLS label service and La Poste's Suivi v2, answered by a thread of this process as the
    documents say (shipping/carriers/colissimo.py, laposte.py): a label is a ``multipart/related`` answer
    (JSON infos, then the PDF made once at start-up), every parcel asked about is delivered (taken in charge
    two days ago, in transit, out for delivery, delivered an hour ago). Its CPU is the carrier's, not ours:
    no process the benchmark measures."""

    def __init__(self):
        import json
        import socket
        from datetime import UTC, datetime, timedelta
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from weasyprint import HTML

        pdf = HTML(string="<h1>Colissimo</h1><p>Benchmark label</p>").write_pdf()
        now = datetime.now(UTC)
        events = [
            {"code": code, "label": label, "date": (now - ago).isoformat(timespec="seconds")}
            for code, label, ago in (
                ("DI1", "Votre colis est livré.", timedelta(hours=1)),
                ("MD2", "Votre colis est en cours de livraison.", timedelta(hours=5)),
                ("ET1", "Votre colis est en cours d'acheminement.", timedelta(days=1)),
                ("PC1", "Votre colis a été déposé dans un point postal.", timedelta(days=2)),
            )
        ]
        numbers = iter(range(10_000_000_000, 99_999_999_999))
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] != SLS_PATH or "contractNumber" not in json.loads(body or b"{}"):
                    return self._send(404, "application/json", b"{}")
                with lock:
                    number = f"6A{next(numbers)}"
                infos = {
                    "messages": [{"id": "0", "type": "INFOS", "messageContent": "La requête a été traitée"}],
                    "labelV2Response": {"parcelNumber": number},
                }
                answer = (
                    (
                        f"--{BOUNDARY}\r\nContent-Type: application/json;charset=UTF-8\r\n"
                        "Content-Transfer-Encoding: binary\r\nContent-ID: <jsonInfos>\r\n\r\n"
                    ).encode()
                    + json.dumps(infos).encode()
                    + (
                        f"\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Transfer-Encoding: binary\r\nContent-ID: <label>\r\n\r\n"
                    ).encode()
                    + pdf
                    + f"\r\n--{BOUNDARY}--\r\n".encode()
                )
                self._send(
                    200,
                    f'multipart/related; type="application/json"; boundary="{BOUNDARY}"; start="<jsonInfos>"',
                    answer,
                )

            def do_GET(self):
                path = self.path.split("?")[0]
                if not path.startswith(SUIVI_PATH) or self.headers.get("X-Okapi-Key") != "bench-okapi":
                    return self._send(401, "application/json", b'{"code": "UNAUTHORIZED"}')
                ids = path[len(SUIVI_PATH) :].split(",")
                answers = [
                    {
                        "lang": "fr_FR",
                        "scope": "open",
                        "returnCode": 200,
                        "shipment": {"idShip": number, "holder": 4, "isFinal": True, "event": events},
                    }
                    for number in ids
                ]
                self._send(
                    200 if len(ids) == 1 else 207,
                    "application/json",
                    json.dumps(answers[0] if len(ids) == 1 else answers).encode(),
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "COLISSIMO_SLS_URL": base + SLS_PATH,
            "LAPOSTE_SUIVI_URL": base + SUIVI_PATH,
            "LAPOSTE_OKAPI_KEY": "bench-okapi",
            "COLISSIMO_CONTRACT_NUMBER": "800000",
            "COLISSIMO_PASSWORD": "bench-password",
        }


# --- the floor, over HTTP --------------------------------------------------------------------------------


class Staff:
    """A signed-in staff browser: the session and CSRF cookies kept by hand (production marks them Secure,
    and this plain-HTTP client would not send them back otherwise), each POST with its CSRF token."""

    def __init__(self, base_url: str):
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
        self.cookies: dict[str, str] = {}

    def _keep(self, response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def _headers(self, htmx: bool) -> dict:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def get(self, url: str):
        response = self.http.get(url, headers=self._headers(False))
        self._keep(response)
        return response

    def post(self, url: str, data: dict, *, htmx: bool = True, ok=(200, 204, 302)):
        headers = self._headers(htmx) | {"X-CSRFToken": self.cookies.get("csrftoken", "")}
        response = self.http.post(url, data=data, headers=headers)
        self._keep(response)
        if response.status_code not in ok:
            raise RuntimeError(f"POST {url} {data} answered {response.status_code}: {response.text[:400]!r}")
        return response

    def sign_in(self) -> None:
        page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            raise RuntimeError(f"no CSRF token on the login page ({page.status_code})")
        data = {"username": "bench-floor", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
        response = self.post("/accounts/login/", data, htmx=False, ok=(302,))
        if "sessionid" not in self.cookies:
            raise RuntimeError(f"sign-in failed: {response.status_code}")


# --- CPU per process group ---------------------------------------------------------------------------------


class Meter:
    """CPU seconds of each group at one moment."""

    def __init__(self, *, web_pid: int, workers: dict[str, int], db: str):
        self.web_pid, self.workers, self.db = web_pid, workers, db

    def read(self) -> dict[str, float]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.db]
            )
            backends = {row[0]: s[2] for row in cursor.fetchall() if (s := support._proc_stat(row[0]))}
        own = connection.connection.info.backend_pid  # this bench's backend: its polls and these readings
        values = {"web": support.tree_cpu(self.web_pid)}
        values |= {queue: support.tree_cpu(pid) for queue, pid in self.workers.items()}
        values |= {"postgres": support.postgres_cpu(), "bench": time.process_time()}
        return values | {"backends": backends, "own": (own, (support._proc_stat(own) or ("", 0, 0.0))[2])}


def sessions_opened(db: str) -> int:
    """Sessions PostgreSQL has counted on ``db`` since it was created (``pg_stat_database.sessions``,
    PostgreSQL 14+, counted when a session starts and reported within a second)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [db])
        return int(cursor.fetchone()[0] or 0)


class Transactions:
    """The transactions PostgreSQL counted on ``db`` (``pg_stat_database``: committed and rolled back),
    without this bench's own (its polls, counted as they are sent: each statement outside a transaction
    block is one). A backend reports its counts at most once a second, an idle one within ten: ``read``
    waits eleven seconds first, so every backend has reported what it did before it."""

    def __init__(self, db: str):
        from django.db import connection

        self.db, self.own = db, 0

        def count(execute, sql, params, many, context):
            if not connection.in_atomic_block:
                self.own += 1
            return execute(sql, params, many, context)

        connection.execute_wrappers.append(count)

    def read(self) -> int:
        from django.db import connection

        time.sleep(11)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [self.db]
            )
            return int(cursor.fetchone()[0]) - self.own


def used_between(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds used by each group between two readings; for this database's backends, each live one's
    own difference: a lower bound, since a backend that ended within the stage is not seen. The backend of
    this bench's own connection (its polls of the stage's condition, these readings) is not the journey's:
    taken out of the whole server's figure and shown apart (``pg (bench)``)."""
    used = {k: after[k] - before[k] for k in after if k not in ("backends", "own")}
    (pid_before, own_before), (pid_after, own_after) = before["own"], after["own"]
    used["pg (bench)"] = own_after - own_before if pid_before == pid_after else 0.0
    used["postgres"] -= used["pg (bench)"]
    old = before["backends"]
    used["pg (this db)"] = sum(cpu - old.get(pid, 0.0) for pid, cpu in after["backends"].items())
    return used


# --- the stages ------------------------------------------------------------------------------------------


def wait_for(what: str, condition, *, meter: Meter, timeout: float = 300) -> None:
    """Until ``condition()`` holds, then until the workers and the broker are quiet (no message waiting, no
    worker using CPU for a second): the stage's consumers are then done too."""
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)
    previous = None
    while time.monotonic() < deadline:
        cpu = meter.read()
        busy = sum(cpu[q] for q in QUEUES) + cpu["web"]
        waiting = sum(broker.llen(q) for q in QUEUES if q in active_queues)
        if previous is not None and busy - previous < 0.03 and waiting == 0:
            return
        previous = busy
        time.sleep(1.0)
    raise RuntimeError(f"timed out waiting for the workers after {what}")


active_queues = set(QUEUES)


def pause(queue: str, worker: str) -> None:
    from oms.celery import app

    app.control.cancel_consumer(queue, destination=[worker], reply=True, timeout=5)
    active_queues.discard(queue)


def resume(queue: str, worker: str) -> None:
    from oms.celery import app

    app.control.add_consumer(queue, destination=[worker], reply=True, timeout=5)
    active_queues.add(queue)


def order_body(n: int, skus: list[str], prefix: str = "J-") -> dict:
    return {
        "external_id": f"{prefix}{n}",
        "customer": {"email": f"client-{prefix}{n}@example.fr", "first_name": "Ana", "last_name": "Roux"},
        "delivery": {
            "mode": "home",
            "address": {"line1": f"{n} rue X", "postcode": "69003", "city": "Lyon", "country": "FR"},
        },
        "lines": [
            {"sku": skus[(n + k) % len(skus)], "quantity": 1 + k, "unit_price": "19.90"} for k in range(2)
        ],
    }


def run_stages(
    args,
    *,
    base_url: str,
    seeded: dict,
    meter: Meter,
    names: dict,
    used: dict,
    count: int,
    prefix: str = "J-",
) -> list:
    """Every stage for ``count`` orders whose external ids start with ``prefix``; fills ``used`` with the CPU
    seconds per stage and group and returns the order numbers."""
    from datetime import timedelta

    import httpx
    from django.utils import timezone

    from common.models import DomainEvent
    from customers.models import Notification
    from fulfillment.models import Preparation, Wave
    from invoicing.models import Invoice
    from oms.celery import app
    from orders.models import Order
    from shipping.models import Shipment

    skus = sorted(seeded["products"])
    staff = Staff(base_url)
    staff.sign_in()
    api = httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {seeded['key']}"})
    numbers: list[str] = []

    def stage(name: str, work, done, what: str):
        before = meter.read()
        started = time.perf_counter()
        work()
        wait_for(what, done, meter=meter)
        after = meter.read()
        used[name] = used_between(before, after) | {"wall": time.perf_counter() - started}
        print(f"  {name}: {used[name]['wall']:.1f} s", flush=True)

    ours = Order.objects.filter(external_id__startswith=prefix)
    waves_before = Wave.objects.count()

    def intake():
        for n in range(1, count + 1):
            response = api.post("/api/v1/orders/", json=order_body(n, skus, prefix))
            if response.status_code != 201:
                raise RuntimeError(f"intake answered {response.status_code}: {response.text[:300]}")
            numbers.append(response.json()["number"])

    stage(
        "intake", intake,
        lambda: Preparation.objects.filter(order__in=ours, kind="ship").count() == count,
        "the preparations",
    )  # fmt: skip

    def waves():
        for _ in range(count):
            staff.post("/picking/release/", {"location": seeded["location"], "size": "1"}, htmx=False)

    stage("waves", waves, lambda: Wave.objects.count() >= waves_before + count, "the waves")

    # What a picker reads on the wave's page, read beforehand so that the stage holds the scans only.
    plan = []
    for prep in Preparation.objects.filter(order__in=ours, kind="ship").prefetch_related("lines"):
        wave_id = prep.wave_id
        steps = sorted(
            (seeded["products"][line.sku][1], seeded["products"][line.sku][0], line.quantity, line.sku)
            for line in prep.lines.all()
        )
        plan.append((prep, wave_id, steps))

    def picking():
        for _prep, wave_id, steps in plan:
            for bin_code, ean, quantity, _sku in steps:
                url = f"/picking/waves/{wave_id}/"
                staff.post(url, {"code": bin_code})
                staff.post(url, {"code": ean, "quantity": str(quantity), "bin_ok": bin_code})

    stage(
        "picking scans", picking,
        lambda: Preparation.objects.filter(order__in=ours, status="to_pack").count() == count,
        "every unit picked",
    )  # fmt: skip

    def packing():
        for prep, _wave_id, steps in plan:
            staff.post("/packing/", {"code": prep.order_number})
            for _bin, ean, quantity, _sku in steps:
                staff.post(f"/packing/{prep.pk}/", {"code": ean, "quantity": str(quantity)})
            staff.post(f"/packing/{prep.pk}/close/", {"weight_g": ""})

    stage(
        "packing + labels", packing,
        lambda: Shipment.objects.filter(order__in=ours, status="labelled").count() == count,
        "the labels",
    )  # fmt: skip

    pause("documents", names["documents"])  # so the invoices' PDFs wait for their own stage

    def handover():
        staff.post(
            "/shipping/handover/", {"location": seeded["location"], "carrier": seeded["carrier"]}, htmx=False
        )

    stage(
        "hand-over", handover,
        lambda: Invoice.objects.filter(order__in=ours).values("order").distinct().count() == count,
        "the invoices issued",
    )  # fmt: skip
    stage(
        "invoices with PDFs", lambda: resume("documents", names["documents"]),
        lambda: Invoice.objects.filter(order__in=ours).exclude(pdf="").count() == count,
        "the invoices' PDFs",
    )  # fmt: skip

    Shipment.objects.filter(order__in=ours).update(
        shipped_at=timezone.now() - timedelta(days=3), next_check_at=timezone.now() - timedelta(minutes=1)
    )

    def tracking():
        app.send_task("shipping.tracking_poll", queue="tracking")

    stage(
        "tracking to delivered", tracking,
        lambda: ours.filter(status="delivered").count() == count,
        "every order delivered",
    )  # fmt: skip
    stage(
        "notifications", lambda: resume("notifications", names["notifications"]),
        lambda: not Notification.objects.filter(order_id__in=ours.values("pk"), sent_at=None).exists()
        and DomainEvent.objects.exists(),
        "every message sent",
    )  # fmt: skip
    return numbers


def verify(numbers: list[str], expected: int) -> list[str]:
    from django.db import connection

    from customers.models import Notification
    from invoicing.models import Invoice
    from orders.models import Order
    from shipping.models import TrackingEvent

    failures = []
    ours = Order.objects.filter(number__in=numbers)
    delivered = ours.filter(status="delivered").count()
    invoices = Invoice.objects.filter(order__in=ours)
    per_order = {}
    for order_id in invoices.values_list("order_id", flat=True):
        per_order[order_id] = per_order.get(order_id, 0) + 1
    missing_pdf = invoices.filter(pdf="").count()
    backwards = 0
    last: dict[int, tuple] = {}
    for shipment_id, status, _at in (
        TrackingEvent.objects.filter(shipment__order__in=ours)
        .order_by("shipment_id", "at", "pk")
        .values_list("shipment_id", "status", "at")
    ):
        rank = STATUS_RANK.get(status, 0)
        if shipment_id in last and rank < last[shipment_id]:
            backwards += 1
        last[shipment_id] = max(rank, last.get(shipment_id, 0))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM common_domainevent WHERE order_id = ANY(%s)"
            " GROUP BY code, order_id, subject, payload::text HAVING count(*) > 1) d",
            [list(ours.values_list("pk", flat=True))],
        )
        twice = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM shipping_trackingevent e JOIN shipping_shipment s"
            " ON s.id = e.shipment_id WHERE s.order_id = ANY(%s) GROUP BY e.shipment_id, e.code"
            " HAVING count(*) > 1) d",
            [list(ours.values_list("pk", flat=True))],
        )
        tracked_twice = cursor.fetchone()[0]
    unsent = Notification.objects.filter(order_id__in=ours.values("pk"), sent_at=None).count()
    checks = {
        f"every order delivered ({delivered}/{expected})": delivered == expected,
        f"every order invoiced exactly once ({len(per_order)} orders, {invoices.count()} invoices)": (
            len(per_order) == expected and all(v == 1 for v in per_order.values())
        ),
        f"every invoice has its PDF ({missing_pdf} missing)": missing_pdf == 0,
        f"no parcel moved backwards ({backwards})": backwards == 0,
        f"no domain event stored twice ({twice})": twice == 0,
        f"no tracking event stored twice ({tracked_twice})": tracked_twice == 0,
        f"every message sent ({unsent} unsent)": unsent == 0,
    }
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
        if not ok:
            failures.append(name)
    return failures


def report(used: dict, orders: int) -> dict:
    columns = ["web", *QUEUES, "workers", "postgres", "all"]
    rows = {}
    for name in [s for s in STAGES if s in used]:
        cpu = used[name]
        row = {
            k: cpu.get(k, 0.0) * 1000 / orders
            for k in ("web", *QUEUES, "postgres", "pg (this db)", "bench", "pg (bench)")
        }
        row["workers"] = sum(row[q] for q in QUEUES)
        row["all"] = row["web"] + row["workers"] + row["postgres"]
        rows[name] = row
    total = {k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values()), {})}
    print(
        "\nCPU per order (ms), by stage and process group "
        "(postgres: the whole server; this db: its live backends)"
    )
    print("| stage | " + " | ".join(columns) + " | pg (this db) | wall s |")
    print("| --- |" + " ---: |" * (len(columns) + 2))
    for name, row in [*rows.items(), ("**total**", total)]:
        wall = used[name]["wall"] if name in used else sum(u["wall"] for u in used.values())
        cells = " | ".join(f"{row[c]:.1f}" for c in columns)
        print(f"| {name} | {cells} | {row['pg (this db)']:.1f} | {wall:.1f} |")
    print(
        f"(this bench process itself: {total['bench']:.1f} ms per order, and its PostgreSQL backend "
        f"{total['pg (bench)']:.1f} ms, not counted above)"
    )
    if total["bench"]:
        # The bench process does the same client work in every run: its CPU per order says how fast the
        # machine ran that minute (a VM's speed moves ±20 % within the hour): two runs compare by this ratio.
        print(
            f"PostgreSQL per order ÷ this bench process's own: {total['postgres'] / total['bench']:.2f} "
            "(the machine's speed taken out: compare runs of one machine by it)"
        )
    return total


def main() -> int:
    args = parse_args()
    procs: list = []

    def cleanup():
        for proc in procs:
            proc.stop() if isinstance(proc, support.Server) else support.stop(proc)

    support.watchdog(args.budget, cleanup)
    media = tempfile.mkdtemp(prefix="oms-bench-journey-")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    extra = {
        "REDIS_URL": redis_url,
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "MEDIA_ROOT": media,
        "DB_CONN_MAX_AGE": 3600,  # gunicorn and the Celery workers keep their connections (oms/celery.py)
        "EMAIL_URL": "memorymail://",  # Django's locmem backend: each message built and "sent" in the worker
    }
    if args.carrier == "colissimo":
        extra.update(LocalColissimo().env())
    env = support.server_env(args.db, **extra)
    print(
        f"== journey benchmark: {args.orders} orders, database {args.db}, Redis db {args.redis_db}; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    t0 = time.perf_counter()
    support.fresh_schema(args.db, env, fresh=args.fresh)
    support.django_setup(args.db, **extra)
    import logging

    import redis

    for name in ("fontTools", "weasyprint", "factur-x", "httpx", "celery"):
        logging.getLogger(name).setLevel(logging.ERROR)
    redis.Redis.from_url(redis_url).flushdb()  # this bench's own db only
    from common import eventlog

    seeded = seed(args.carrier)
    eventlog.progress_skip_to_now()
    print(f"set-up: schema and seed in {time.perf_counter() - t0:.0f} s", flush=True)

    logs = support.ROOT / "var"
    logs.mkdir(exist_ok=True)
    failures: list[str] = []
    used: dict[str, dict[str, float]] = {}
    numbers: list[str] = []
    try:
        server = support.Server(
            port=args.port,
            workers=args.web_workers,
            env=env,
            log=logs / "bench-journey-gunicorn.log",
            timeout=120,  # a worker booting on a loaded machine (the bench's PDFs take seconds there too)
        )
        procs.append(server)
        server.wait_ready(timeout=300)
        names, workers = {}, {}
        for queue in QUEUES:
            pool, concurrency = ("threads", 8) if queue == "tracking" else ("prefork", 1)
            names[queue] = f"journey-{queue}-{os.getpid()}@{os.uname().nodename}"
            # the notifications worker starts on an idle queue: its stage resumes the real one
            listen = f"journey-idle-{os.getpid()}" if queue == "notifications" else queue
            proc = support.celery_worker(
                env, logs / f"bench-journey-{queue}.log", names[queue].split("@")[0],
                queues=listen, pool=pool, concurrency=concurrency,
                profile=logs / f"bench-journey-{queue}.prof" if queue == args.profile_queue else None,
            )  # fmt: skip
            procs.append(proc)
            workers[queue] = proc.pid
        active_queues.discard("notifications")
        from oms.celery import app

        deadline = time.monotonic() + 180
        while len(app.control.ping(destination=list(names.values()), timeout=1.0)) < len(names):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not answer in time")
        meter = Meter(web_pid=server.proc.pid, workers=workers, db=args.db)
        print(f"processes up in {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.2f}")
        beat = support.Beat()
        beat.start()
        try:
            common = dict(base_url=f"http://127.0.0.1:{args.port}", seeded=seeded, meter=meter, names=names)
            if args.warmup:
                print(f"warm-up: {args.warmup} orders through every stage, not measured", flush=True)
                warm_used: dict[str, dict[str, float]] = {}
                numbers = run_stages(args, **common, used=warm_used, count=args.warmup, prefix="W-")
                pause("notifications", names["notifications"])  # paused again until its measured stage
                warm_pg = sum(u["postgres"] for u in warm_used.values()) * 1000 / args.warmup
                warm_db = sum(u["pg (this db)"] for u in warm_used.values()) * 1000 / args.warmup
                warm_all = (
                    sum(u[k] for u in warm_used.values() for k in ("web", *QUEUES, "postgres"))
                    * 1000
                    / args.warmup
                )
                print(
                    f"warm-up done: PostgreSQL {warm_pg:.1f} ms (this db {warm_db:.1f}), all processes "
                    f"{warm_all:.0f} ms per order (cold: plans, caches, imports); the measured run:",
                    flush=True,
                )
            transactions = Transactions(args.db)
            xacts = transactions.read()
            opened = sessions_opened(args.db)
            numbers += run_stages(args, **common, used=used, count=args.orders)
            opened = sessions_opened(args.db) - opened
            print(f"PostgreSQL sessions opened on {args.db} while measured: {opened}", flush=True)
            xacts = transactions.read() - xacts
            print(
                f"PostgreSQL transactions while measured: {xacts / args.orders:.1f} per order "
                "(committed and rolled back, a statement outside a transaction block counting as one; "
                "this bench's own left out, beat's sweeps counted)",
                flush=True,
            )
        except RuntimeError as exc:  # what was measured is still printed
            failures.append(str(exc))
            print(f"!! {exc}", flush=True)
        beat.stopped.set()
    finally:
        cleanup()
    if args.profile_queue:
        import pstats

        print(f"\ncProfile of the {args.profile_queue} worker (one process, the whole run):")
        stats = pstats.Stats(str(logs / f"bench-journey-{args.profile_queue}.prof"))
        stats.sort_stats("cumulative").print_stats(40)
    if failures:
        report(used, args.orders)
        return 1
    total = report(used, args.orders)
    workers_ms, pg_ms, all_ms = total["workers"], total["postgres"], total["all"]
    dominant = max(STAGES, key=lambda s: sum(used[s][k] for k in ("web", *QUEUES, "postgres")))
    print(
        f"\ncapacity: {86_400_000 / (total['web'] + workers_ms):,.0f} orders/day per web + worker core, "
        f"{86_400_000 / pg_ms:,.0f} orders/day per PostgreSQL core; largest stage: {dominant}"
    )
    print(
        f"targets: PostgreSQL {pg_ms:.1f} ms per order (≤ {PG_TARGET_MS}: "
        f"{'met' if pg_ms <= PG_TARGET_MS else 'NOT MET'}); all processes {all_ms:.0f} ms "
        f"(≤ {TOTAL_TARGET_MS}: {'met' if all_ms <= TOTAL_TARGET_MS else 'NOT MET'}); "
        f"load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("\nChecks:")
    failures += verify(numbers, args.warmup + args.orders)
    shutil.rmtree(media, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
