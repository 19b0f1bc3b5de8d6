"""Fault injection: a Redis of the tests' own (stopped and started at will), the web app served by gunicorn
and real Celery workers (killed with SIGKILL at will), all on the test database; database connections cut
with ``pg_terminate_backend``. The processes use tests/faults/settings.py: the production-like Redis cache
and broker of base.py with their timeouts, emails written to files, a media folder of the session.

Ports (free in CI, and the fault tests' own on shared machines): Redis 6391, gunicorn 8011 (override with
FAULTS_REDIS_PORT and FAULTS_WEB_PORT). Without ``redis-server`` the tests are skipped, except in CI where
they fail."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
# Under pytest-xdist each worker (gw0, gw1...) starts its own Redis and web server, on its own ports.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
REDIS_PORT = int(os.environ.get("FAULTS_REDIS_PORT", "6391")) + _WORKER
WEB_PORT = int(os.environ.get("FAULTS_WEB_PORT", "8011")) + 20 * _WORKER
LEASE_SECONDS = 5  # the workers' and the web's job lease: a killed worker's job is free again after it


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _redis_command(port: int, *words: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        sock.sendall(payload.encode())
        return sock.recv(64)


class RedisServer:
    """A redis-server process without persistence: stopping it loses everything, as a crash or a flush."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir = port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ping(self) -> bool:
        try:
            return _redis_command(self.port, "PING").startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        if self.running:
            return
        if self.ping():
            pytest.fail(f"port {self.port} is taken by another Redis: set FAULTS_REDIS_PORT")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, what="redis-server to answer")

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        wait_for(lambda: not self.ping(), timeout=5, what="redis-server to stop")

    def flush(self) -> None:
        _redis_command(self.port, "FLUSHALL")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if shutil.which("redis-server") is None:
        message = "the fault-injection tests need redis-server (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(REDIS_PORT, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis(redis_server):
    """The tests' Redis, running and empty at the start of each test (a test may stop it)."""
    redis_server.start()
    redis_server.flush()
    yield redis_server


@pytest.fixture(scope="session")
def fault_dirs(tmp_path_factory):
    return {"media": tmp_path_factory.mktemp("media"), "email": tmp_path_factory.mktemp("email")}


@pytest.fixture(scope="session")
def fault_env(django_db_setup, redis_server, fault_dirs):
    """The environment of the processes the tests start: the test database, the tests' Redis, short job
    timings (a job is due a second after it is asked for; a lease lasts LEASE_SECONDS)."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"])
    database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_DEBUG": "false",
        "FAULTS_EMAIL_DIR": str(fault_dirs["email"]),
        "FAULTS_MEDIA_DIR": str(fault_dirs["media"]),
        "JOBS_FIRST_WAIT_SECONDS": "1",
        "JOBS_LEASE_SECONDS": str(LEASE_SECONDS),
        "REDIS_RETRY_AFTER_SECONDS": "1",
        "BROKER_RETRY_AFTER_SECONDS": "1",
        "ACCOUNT_SIGNIN_RATE": "4/15m",
        "PORTAL_LOOKUP_RATE_PER_ORDER": "3/15m",
        "LOG_LEVEL": "INFO",
        # Outbound webhooks to the tests' receiver on 127.0.0.1; a killed worker's delivery is free again
        # after the lease.
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        # The test process's keys: secrets it stores (a webhook's) are read by the workers.
        "OMS_ENCRYPTION_KEYS": ",".join(settings.OMS_ENCRYPTION_KEYS),
    }


class Web:
    def __init__(self, base_url: str, log: Path):
        self.base_url, self.log = base_url, log

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def mark(self) -> int:
        """Where the log is now: ``server_errors(mark)`` reads what came after."""
        return len(self.logs())

    def server_errors(self, mark: int) -> list[str]:
        """Requests answered 5xx since ``mark`` (gunicorn's access log), and Django's error reports."""
        lines = self.logs()[mark:].splitlines()
        return [line for line in lines if re.search(r'" 5\d\d ', line) or "Internal Server Error" in line]


@pytest.fixture(scope="session")
def web(fault_env, tmp_path_factory):
    """The web app under gunicorn (one sync worker: one request at a time, one database connection kept
    between requests as in production, CONN_MAX_AGE), on the test database and the tests' Redis."""
    log = tmp_path_factory.mktemp("web") / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "oms.wsgi:application",
                "--bind",
                f"127.0.0.1:{WEB_PORT}",
                "--workers",
                "1",
                "--timeout",
                "60",
                "--graceful-timeout",
                "2",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=fault_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Web(f"http://127.0.0.1:{WEB_PORT}", log)

    def answers():
        if process.poll() is not None:
            pytest.fail(f"gunicorn stopped:\n{server.logs()}")
        try:
            return httpx.get(f"{server.base_url}/healthz", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60, interval=0.3, what="gunicorn to answer")
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def start_worker(fault_env, tmp_path):
    """Start a Celery worker process (``--pool=solo``: tasks run in that process, so killing it kills the
    task) on the tests' Redis; returns it once it is ready. Every worker is killed at the end of the test."""
    started: list[subprocess.Popen] = []

    def start(name: str, *, slow_render: bool = False) -> subprocess.Popen:
        log = tmp_path / f"worker-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.faults.worker",
                    name,
                    *(["--slow-render"] if slow_render else []),
                ],
                cwd=ROOT,
                env={**fault_env, "FAULTS_MARK": str(tmp_path / "mark")},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        process.log = log

        def ready():
            if process.poll() is not None:
                pytest.fail(f"worker {name} stopped:\n{log.read_text(errors='replace')}")
            return " ready." in log.read_text(errors="replace")

        wait_for(ready, timeout=60, interval=0.2, what=f"worker {name} to be ready")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def broker(redis):
    """This test process publishes to the tests' Redis (tasks are not run eagerly here any more): what the
    test calls directly (a service that queues a task after commit, the beat sweep) reaches the workers."""
    from common import jobs
    from oms.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager

    def reset_pools():
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    app.conf.broker_url, app.conf.task_always_eager = redis.url, False
    reset_pools()
    jobs._broker_down_until = 0.0
    yield redis
    app.conf.broker_url, app.conf.task_always_eager = saved
    reset_pools()
    jobs._broker_down_until = 0.0


class Mailbox:
    """The emails the processes sent. Django's file backend writes one file per connection, each message
    followed by a line of 79 dashes: a connection that sends two messages leaves both in one file."""

    SEPARATOR = "\n" + "-" * 79 + "\n"

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self) -> list[str]:
        found = []
        for path in sorted(self.folder.glob("*.log")):
            found += [part for part in path.read_text(errors="replace").split(self.SEPARATOR) if part.strip()]
        return found

    def with_text(self, text: str) -> list[str]:
        return [message for message in self.messages() if text in message]


@pytest.fixture
def mailbox(fault_dirs) -> Mailbox:
    for path in Path(fault_dirs["email"]).glob("*"):
        path.unlink()
    return Mailbox(Path(fault_dirs["email"]))


@pytest.fixture
def store_front(db):
    """A web channel selling TSHIRT-M (10 at Lyon), invoiced by a legal entity when orders are placed (the
    invoice's PDF is rendered by a task, then emailed to the buyer by another), and its API key."""
    from invoicing.models import ChannelBilling
    from tests.api.factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock
    from tests.inventory.factories import LocationFactory
    from tests.invoicing.factories import LegalEntityFactory

    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Boutique web")
    channel_serves(channel, lyon)
    product = ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0")
    stock(product, lyon, 10)
    entity = LegalEntityFactory(email_documents=True)
    ChannelBilling.objects.create(channel=channel, issue_policy="placed", legal_entity=entity)
    return {"channel": channel, "lyon": lyon, "product": product, "key": api_key(channel, "all")}


def order_body(external_id: str, email: str = "ana.roux@example.fr") -> dict:
    return {
        "external_id": external_id,
        "customer": {"email": email, "first_name": "Ana", "last_name": "Roux", "language": "fr"},
        "delivery": {
            "mode": "home",
            "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"},
        },
        "lines": [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "19.90"}],
    }
