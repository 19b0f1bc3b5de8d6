"""Webhooks benchmark, both directions, on a database of its own (``oms_bench_webhooks``):

1. **Inbound** (Shopify-style): 8 concurrent sender processes POST ``orders/create`` deliveries, each signed
   with a real ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body under the channel's secret,
   built and signed before the load, as a shop's servers elsewhere would: the server checks every one), to
   ``/webhooks/shopify/<code>/`` on gunicorn (4 sync workers, production settings). The endpoint checks the
   signature, stores the delivery and answers; a Celery worker (Redis broker) turns it into an order. Printed:
   deliveries accepted per second, answer p50/p95 (target p95 < 20 ms), and the time from the delivery's
   arrival to its order, allocated (p50/p95), measured from the rows.
2. **Outbound**: a local receiver (an HTTP/1.1 keep-alive server in a thread of this process); N deliveries
   queued; one Celery worker process (``--pool=solo``) sends them. Printed: deliveries per second per worker
   process (target ≥ 200), from the first to the last ``delivered_at``; and the same loop run in this
   process without the broker (the cost of a delivery itself: claim, sign, POST, log).

Usage: ``.venv/bin/python bench/webhooks.py [--seconds 20] [--deliveries 2000]``. Needs PostgreSQL and Redis
on 127.0.0.1 (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/4). On a shared machine give each run its
own ``--db``, ``--redis-db`` and ``--port``.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as support  # noqa: E402
from bench.intake import seed  # noqa: E402

DB = "oms_bench_webhooks"
SECRET = "bench-shopify-webhook-secret"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")


def shopify_payload(n: int, skus: list[str]) -> dict:
    sku = skus[n % len(skus)]
    return {
        "id": 820982911946154508 + n,
        "name": f"#B{n}",
        "email": f"buyer{n}@example.fr",
        "currency": "EUR",
        "financial_status": "paid",
        "taxes_included": True,
        "total_price": "24.80",
        "customer": {
            "id": 1000 + n,
            "email": f"buyer{n}@example.fr",
            "first_name": "Ana",
            "last_name": "Roux",
        },
        "line_items": [
            {
                "id": 9000 + n,
                "sku": sku,
                "title": "Article",
                "quantity": 1,
                "price": "19.90",
                "grams": 200,
                "requires_shipping": True,
                "tax_lines": [],
                "discount_allocations": [],
            }
        ],
        "shipping_address": {
            "first_name": "Ana",
            "last_name": "Roux",
            "name": "Ana Roux",
            "company": None,
            "address1": "3 rue de la République",
            "address2": "",
            "zip": "69002",
            "city": "Lyon",
            "country": "France",
            "country_code": "FR",
            "phone": "+33611223344",
        },
        "billing_address": None,
        "shipping_lines": [{"id": 1, "title": "Colissimo", "code": "colissimo", "price": "4.90"}],
    }


def worker(
    env: dict,
    log: Path,
    *,
    pool: str = "solo",
    queues: str = "default,notifications",
    nice: int | None = None,
) -> subprocess.Popen:
    """A Celery worker as compose runs one; ``nice`` overrides ``WORKER_NICE`` (its default 10)."""
    out = log.open("w")
    if nice is not None:
        env = {**env, "WORKER_NICE": str(nice)}
    proc = subprocess.Popen(
        [
            str(support.VENV_BIN / "celery"),
            "-A",
            "oms",
            "worker",
            f"--pool={pool}",
            "-Q",
            queues,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
            "-n",
            f"bench-{pool}-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=support.ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    time.sleep(4)  # a worker is ready in 2-4 s
    return proc


class Web(support.Server):
    """gunicorn as the image and compose run it: ``oms/gunicorn_conf.py``, with this run's worker class,
    processes and threads (the settings' own defaults unless given), on 127.0.0.1."""

    def __init__(self, *, port: int, env: dict, log: Path, workers: int, worker_class: str, threads: int):
        self.port = port
        self.log = log.open("w")
        env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_WORKER_CLASS": worker_class,
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_LOG_LEVEL": "warning",
        }
        self.proc = subprocess.Popen(
            [str(support.VENV_BIN / "gunicorn"), "-c", "python:oms.gunicorn_conf", "oms.wsgi:application"],
            cwd=support.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def signed_request(n: int, skus: list[str], *, port: int) -> bytes:
    """One Shopify delivery as the bytes a sender writes: an HTTP/1.1 POST of ``orders/create`` with its real
    ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the body under the channel's secret) and a fresh
    webhook id. The server computes and compares the HMAC on every delivery."""
    body = json.dumps(shopify_payload(n, skus)).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    head = (
        "POST /webhooks/shopify/bench/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Shopify-Hmac-Sha256: {digest}\r\n"
        "X-Shopify-Topic: orders/create\r\n"
        "X-Shopify-Shop-Domain: bench.myshopify.com\r\n"
        f"X-Shopify-Webhook-Id: {uuid.uuid4()}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _post(port: int, request: bytes) -> int | str:
    """Send one request on a new connection (gunicorn's sync workers close it after each answer) and read
    the answer to its end: the status code, or the error's name."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError as exc:  # counted (a timeout is an answer too slow), not fatal
        return type(exc).__name__
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return "BadAnswer"


def _sender(index: int, args, requests: list[bytes], deadline: float, out) -> None:
    """One sender process: posts its precomputed deliveries until the deadline (closed loop: again as soon
    as answered; with ``--rate``, on its share of a fixed schedule, each latency counted from the moment the
    delivery was due). Sends back (latencies in ms, statuses, its own CPU seconds) through ``out``."""
    interval = args.senders / args.rate if args.rate else 0.0
    latencies, statuses = [], {}
    next_at = time.perf_counter() + (interval * index / args.senders if interval else 0.0)
    cpu0 = time.process_time()
    for request in requests:
        if time.monotonic() >= deadline:
            break
        if interval:
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        started = next_at if interval else time.perf_counter()
        next_at += interval
        code = _post(args.port, request)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[code] = statuses.get(code, 0) + 1
    out.send((latencies, statuses, time.process_time() - cpu0))
    out.close()


def inbound(args, skus: list[str], env: dict, *, gunicorn_pid: int, worker_pid: int) -> dict:
    """8 sender processes (not threads: no GIL between them and no sender's own work in another's latency),
    each with its deliveries built and signed beforehand, as a shop's servers elsewhere would send them:
    the machine's cores go to the server, not to building the load."""
    import multiprocessing

    from django.db import connections
    from django.utils import timezone

    from channels.models import WebhookDelivery as ChannelDelivery

    # Enough for ~600 deliveries/s in all; a sender that runs out stops early (reported).
    per_sender = int(args.seconds * 600 / args.senders) + 50
    base = int(time.time() * 1000) % 10**9 * 1000
    requests = [
        [signed_request(base + i * per_sender + k, skus, port=args.port) for k in range(per_sender)]
        for i in range(args.senders)
    ]
    connections.close_all()  # the forked senders must not share this process's database connection
    context = multiprocessing.get_context("fork")
    latencies: list[float] = []
    statuses: dict = {}
    started_at = timezone.now()
    t0 = time.perf_counter()
    cpu0 = support.CpuSnapshot(gunicorn_pid)
    celery0 = support.tree_cpu(worker_pid)
    deadline = time.monotonic() + args.seconds
    pipes, procs = [], []
    for i in range(args.senders):
        receive, send = context.Pipe(duplex=False)
        proc = context.Process(target=_sender, args=(i, args, requests[i], deadline, send), daemon=True)
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    senders_cpu, exhausted = 0.0, 0
    for receive, proc in zip(pipes, procs, strict=True):
        got, codes, cpu_s = receive.recv()
        proc.join()
        latencies.extend(got)
        senders_cpu += cpu_s
        exhausted += len(got) == per_sender
        for code, count in codes.items():
            statuses[code] = statuses.get(code, 0) + count
    wall = time.perf_counter() - t0
    if exhausted:
        print(f"{exhausted} sender(s) ran out of precomputed deliveries before the end", flush=True)
    cpu1 = support.CpuSnapshot(gunicorn_pid)
    celery1 = support.tree_cpu(worker_pid)
    with connections["default"].cursor() as cursor:  # this database's backends (the web's and the worker's)
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ours = {pid for (pid,) in cursor.fetchall()}
    accepted = statuses.get(200, 0) + statuses.get(202, 0)
    # CPU per accepted delivery during the load: the web (gunicorn's workers), PostgreSQL (every backend of
    # the server: other sessions' too on a shared machine), the senders (this process) and the Celery worker.
    per = 1000 / max(accepted, 1)
    cpu = {
        "web": sum(c - cpu0.gunicorn.get(p, 0.0) for p, c in cpu1.gunicorn.items()) * per,
        "postgres": sum(c - cpu0.postgres.get(p, 0.0) for p, c in cpu1.postgres.items()) * per,
        "postgres_ours": sum(c - cpu0.postgres.get(p, 0.0) for p, c in cpu1.postgres.items() if p in ours)
        * per,
        "senders": senders_cpu * per,
        "celery": (celery1 - celery0) * per,
        "machine_busy": (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total) * 100,
    }
    ranked = sorted(latencies)
    print(  # before the drain, which may be long on a busy machine
        f"inbound load: {len(ranked)} sent, answers {statuses}, {accepted / wall:.0f} accepted/s, p50 "
        f"{support.percentile(ranked, 50):.1f} ms, p95 {support.percentile(ranked, 95):.1f} ms; CPU per "
        f"accepted delivery: web {cpu['web']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms (this database's "
        f"backends {cpu['postgres_ours']:.2f} ms), senders "
        f"{cpu['senders']:.2f} ms, Celery {cpu['celery']:.2f} ms; machine {cpu['machine_busy']:.0f} % busy, "
        f"load average "
        f"{os.getloadavg()[0]:.2f}; draining...",
        flush=True,
    )
    # The worker turns them into orders: wait until every delivery is processed (or --drain seconds). Nothing
    # may be lost: every accepted delivery must end processed, with its order.
    rows = ChannelDelivery.objects.filter(received_at__gte=started_at)
    drained = time.perf_counter()
    wait_until = time.monotonic() + args.drain
    while time.monotonic() < wait_until and rows.filter(processed_at__isnull=True).exists():
        time.sleep(1)
    drained = time.perf_counter() - drained
    to_order = sorted(
        (d.order.created_at - d.received_at).total_seconds() * 1000
        for d in rows.select_related("order").filter(order__isnull=False)
        if d.order.status in ("allocated", "awaiting_stock")
    )
    latencies.sort()
    return {
        "sent": len(latencies),
        "statuses": statuses,
        "accepted_per_s": accepted / wall,
        "p50": support.percentile(latencies, 50),
        "p95": support.percentile(latencies, 95),
        "orders": len(to_order),
        "stored": rows.count(),
        "unprocessed": rows.filter(processed_at__isnull=True).count(),
        "drained_s": drained,
        "cpu": cpu,
        "to_order_p50": support.percentile(to_order, 50),
        "to_order_p95": support.percentile(to_order, 95),
    }


def accept_profile(count: int, skus: list[str], top: int) -> dict:
    """The accept path in this process, through Django's whole handler and middleware (the test client, no
    network): CPU per delivery, and with ``top`` the functions where it goes (cProfile, by own time)."""
    import cProfile
    import io
    import pstats

    from django.test import Client

    client = Client()
    bodies = []
    for n in range(count + 20):
        body = json.dumps(shopify_payload(10**8 + n, skus)).encode()
        digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        bodies.append((body, digest))

    def post(body, digest):
        response = client.post(
            "/webhooks/shopify/bench/",
            data=body,
            content_type="application/json",
            headers={
                "X-Shopify-Hmac-Sha256": digest,
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": "bench.myshopify.com",
                "X-Shopify-Webhook-Id": f"inprocess-{uuid.uuid4()}",
            },
        )
        assert response.status_code == 200, response.content
        return response

    for body, digest in bodies[:20]:  # warm: imports, URL resolver, connections
        last = post(body, digest)
    cookies = sorted(last.cookies)
    # CPU time, not wall time, as the profiler's clock: on a shared machine the wall clock counts others.
    profiler = cProfile.Profile(time.process_time) if top else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for body, digest in bodies[20:]:
        post(body, digest)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    # These deliveries only measured the accept path: they are not left for the worker (the kick would
    # make them orders during the closed loop that follows, and count its CPU there).
    from channels.models import WebhookDelivery

    WebhookDelivery.objects.filter(delivery_id__startswith="inprocess-").delete()
    report = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        report = out.getvalue()
    return {
        "cpu_ms": cpu / count * 1000,
        "wall_ms": wall / count * 1000,
        "cookies": cookies,
        "report": report,
    }


class Receiver:
    def __init__(self):
        self.count = 0
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as any production HTTP server sets it. Without it the answer's body ("ok", a
            # second small write after the headers) waited for the client's delayed ACK: ~40 ms per
            # delivery on Linux loopback, which was most of the outbound figure before 2026-12-04 17:30.
            disable_nagle_algorithm = True

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def queue_deliveries(endpoint, count: int, tag: str) -> list[int]:
    from django.utils import timezone

    from integrations.models import WebhookDelivery
    from integrations.webhooks import catalogue
    from orders.models import Order

    order = Order.objects.order_by("pk").first()
    data = {"order": catalogue.order_snapshot(order.pk) if order else None, "change": {"bench": tag}}
    now = timezone.now()
    rows = []
    for _ in range(count):
        delivery_id = uuid.uuid4()
        rows.append(
            WebhookDelivery(
                uuid=delivery_id,
                endpoint=endpoint,
                event_type="order.status_changed",
                order_id=None,
                payload=catalogue.envelope(
                    delivery_id=str(delivery_id),
                    event_type="order.status_changed",
                    created_at=now,
                    event_id=None,
                    data=data,
                ),
                next_attempt_at=now,
                job_due_at=now + timedelta(hours=1),
                created_at=now,
            )
        )
    return [r.pk for r in WebhookDelivery.objects.bulk_create(rows, batch_size=500)]


def outbound(args, env: dict) -> dict:
    from django.db.models import Max, Min

    from integrations.models import WebhookDelivery
    from integrations.tasks import webhook_deliver
    from integrations.webhooks.sending import delivery_send
    from integrations.webhooks.services import endpoint_create

    receiver = Receiver()
    endpoint = endpoint_create(
        url=receiver.url, events=["order.status_changed"], secret="bench-secret-0123456789"
    )
    payload_bytes = None
    # In this process, without the broker: the cost of one delivery (claim, sign, POST, log).
    ids = queue_deliveries(endpoint, args.inprocess, "in-process")
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for pk in ids:
        delivery_send(pk)
    in_wall = time.perf_counter() - t0
    in_cpu = time.process_time() - cpu0
    payload_bytes = len(json.dumps(WebhookDelivery.objects.get(pk=ids[0]).payload))
    # One worker process through Redis.
    ids = queue_deliveries(endpoint, args.deliveries, "worker")
    proc = worker(env, support.ROOT / "var" / "bench-webhooks-worker.log", queues="notifications")
    try:
        for pk in ids:
            webhook_deliver.apply_async(args=[pk], queue="notifications")
        deadline = time.monotonic() + 300
        rows = WebhookDelivery.objects.filter(pk__in=ids)
        while time.monotonic() < deadline and rows.exclude(status="succeeded").exists():
            time.sleep(0.5)
    finally:
        stop(proc)
    span = rows.filter(status="succeeded").aggregate(first=Min("last_attempt_at"), last=Max("delivered_at"))
    done = rows.filter(status="succeeded").count()
    seconds = (span["last"] - span["first"]).total_seconds() if done else 0
    return {
        "in_process_per_s": len(ids) and args.inprocess / in_wall,
        "in_process_cpu_ms": in_cpu / args.inprocess * 1000,
        "worker_delivered": done,
        "worker_per_s": done / seconds if seconds else 0,
        "received": receiver.count,
        "payload_bytes": payload_bytes,
    }


def key_file_keys() -> str:
    """One Fernet key for the benchmark's database, kept in var/ so that ``--reuse`` can read its secrets."""
    from cryptography.fernet import Fernet

    path = support.ROOT / "var" / "bench-webhooks.key"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
    return path.read_text().strip()


def wait_answering(port: int, timeout: float = 180) -> None:
    """gunicorn answers /healthz (200, or 503 while the worker has not caught up yet)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="inbound load duration (default 20)")
    parser.add_argument("--senders", type=int, default=8, help="concurrent inbound senders (default 8)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="inbound deliveries a second, all senders together, on a fixed schedule (default 0: each sender "
        "posts again as soon as it is answered)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument(
        "--worker-class",
        default="sync",
        help="gunicorn worker class (default sync, as in oms/gunicorn_conf.py)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker (default 1)")
    parser.add_argument("--port", type=int, default=8024, help="gunicorn port on 127.0.0.1 (default 8024)")
    parser.add_argument("--deliveries", type=int, default=2000, help="outbound deliveries for the worker")
    parser.add_argument("--inprocess", type=int, default=500, help="outbound deliveries sent in this process")
    parser.add_argument("--db", default=DB, help=f"database to (re)create (default {DB})")
    parser.add_argument(
        "--redis-db",
        type=int,
        default=None,
        help="Redis db number on 127.0.0.1:6379 as broker (default: BENCH_REDIS_URL, else db 4)",
    )
    parser.add_argument("--skip-inbound", action="store_true")
    parser.add_argument("--skip-outbound", action="store_true")
    parser.add_argument(
        "--accept-inprocess",
        type=int,
        default=300,
        help="deliveries accepted in this process through the test client first: CPU per delivery (0: skip)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="with --accept-inprocess, print the N costliest functions"
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=None,
        help="niceness of the inbound Celery worker (default: the WORKER_NICE setting's, 10, as in compose)",
    )
    parser.add_argument(
        "--drain", type=float, default=600, help="seconds to wait for every delivery to become an order"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of a previous run (no set-up)"
    )
    args = parser.parse_args()

    db = args.db
    redis_url = REDIS_URL if args.redis_db is None else f"redis://127.0.0.1:6379/{args.redis_db}"
    print(
        f"webhooks benchmark: database {db}, broker {redis_url}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if not args.reuse:
        support.recreate_database(db)
    extra = {
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "OMS_ENCRYPTION_KEYS": key_file_keys(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # production settings refuse a placeholder
    }
    env = support.server_env(db, **extra)
    if not args.reuse:
        migrated = support.manage("migrate", "--noinput", env=env, timeout=900)
        if migrated.returncode:
            sys.exit(migrated.stdout + migrated.stderr)
    support.django_setup(db, **extra)
    from channels.models import ChannelConnection
    from common import eventlog
    from inventory.models import Product
    from orders.models import Channel

    if not args.reuse:
        seed(scarce_units=1)
    Channel.objects.filter(code="bench").update(kind=Channel.Kind.SHOPIFY)
    ChannelConnection.objects.filter(channel__code="bench").delete()  # its secret under this run's key
    ChannelConnection.objects.create(
        channel=Channel.objects.get(code="bench"),
        webhook_secret=SECRET,
        base_url="bench.myshopify.com",
        access_token="shpat_bench",
        delivery_modes={"Colissimo": "home"},
    )
    skus = list(
        Product.objects.filter(sku__startswith="BENCH-").order_by("sku").values_list("sku", flat=True)
    )
    eventlog.progress_skip_to_now()
    (support.ROOT / "var").mkdir(exist_ok=True)
    if args.accept_inprocess:
        result = accept_profile(args.accept_inprocess, skus, args.profile)
        print(
            f"accept path in this process (test client, whole middleware, Redis publish): "
            f"**{result['cpu_ms']:.2f} ms of CPU per delivery**, {result['wall_ms']:.2f} ms wall; "
            f"cookies set: {result['cookies'] or 'none'}",
            flush=True,
        )
        if result["report"]:
            print(result["report"], flush=True)
    if not args.skip_inbound:
        server = Web(
            port=args.port,
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            env=env,
            log=support.ROOT / "var" / "bench-webhooks-gunicorn.log",
        )
        celery = worker(
            env,
            support.ROOT / "var" / "bench-webhooks-inbound-worker.log",
            pool="prefork",
            nice=args.worker_nice,
        )
        try:
            wait_answering(args.port)
            result = inbound(args, skus, env, gunicorn_pid=server.proc.pid, worker_pid=celery.pid)
        finally:
            server.stop()
            stop(celery)
        pace = f" at {args.rate:g}/s" if args.rate else " (closed loop)"
        pace += f"; gunicorn {args.workers} × {args.worker_class}"
        pace += f" × {args.threads} threads" if args.worker_class == "gthread" else ""
        pace += f"; Celery worker nice {args.worker_nice if args.worker_nice is not None else 10}"
        print(
            f"inbound: {result['sent']} deliveries by {args.senders} senders{pace} in {args.seconds:.0f} s, "
            f"answers {result['statuses']}; **{result['accepted_per_s']:.0f} accepted/s, p50 "
            f"{result['p50']:.1f} ms, p95 {result['p95']:.1f} ms** (target p95 < 20 ms); "
            f"{result['orders']} orders; delivery → allocated order p50 {result['to_order_p50']:.0f} ms, "
            f"p95 {result['to_order_p95']:.0f} ms; {result['stored']} stored, "
            f"{result['unprocessed']} not processed after {result['drained_s']:.0f} s",
            flush=True,
        )
        cpu = result["cpu"]
        print(
            f"inbound CPU per accepted delivery during the load: web {cpu['web']:.2f} ms, PostgreSQL (all "
            f"databases) {cpu['postgres']:.2f} ms (this database's backends {cpu['postgres_ours']:.2f} ms), "
            f"senders {cpu['senders']:.2f} ms, Celery worker "
            f"{cpu['celery']:.2f} ms; machine {cpu['machine_busy']:.0f} % busy; load average "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )
    if args.skip_outbound:
        return
    result = outbound(args, env)
    print(
        f"outbound: in this process {result['in_process_per_s']:.0f} deliveries/s "
        f"({result['in_process_cpu_ms']:.2f} ms of CPU each, {result['payload_bytes']} B payload); "
        f"**one worker process through Redis: {result['worker_per_s']:.0f} deliveries/s** (target ≥ 200), "
        f"{result['worker_delivered']}/{args.deliveries} delivered, {result['received']} requests received",
        flush=True,
    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
