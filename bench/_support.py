"""Helpers shared by the benchmark scripts (not a test module, not part of the application).

Everything here talks to 127.0.0.1 only: the Postgres URL is checked to be a loopback address.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# Where the Postgres server is (no database name): the benchmarks create their own databases there.
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# The benchmarks' locations (those of seed_demo, kept here so that a change there does not break them):
# code, name, kind, address, postcode, city, latitude, longitude.
LOCATIONS = [
    (
        "lyon",
        "Entrepôt Lyon Saint-Priest",
        "warehouse",
        "12 rue du Dauphiné",
        "69800",
        "Saint-Priest",
        "45.696000",
        "4.944000",
    ),
    (
        "lille",
        "Entrepôt Lille Lesquin",
        "warehouse",
        "5 rue de la Haie Plouvier",
        "59810",
        "Lesquin",
        "50.589000",
        "3.111000",
    ),
    (
        "bordeaux",
        "Entrepôt Bordeaux Mérignac",
        "warehouse",
        "30 avenue Ariane",
        "33700",
        "Mérignac",
        "44.838000",
        "-0.656000",
    ),
    (
        "paris-marais",
        "Magasin Paris Marais",
        "store",
        "24 rue des Francs-Bourgeois",
        "75004",
        "Paris",
        "48.857600",
        "2.360200",
    ),
    (
        "marseille",
        "Magasin Marseille Vieux-Port",
        "store",
        "8 quai du Port",
        "13002",
        "Marseille",
        "43.296500",
        "5.369800",
    ),
]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK and not host.startswith("127."):
        sys.exit(f"refusing to benchmark {host!r}: benchmarks only talk to 127.0.0.1")


def database_url(name: str) -> str:
    check_loopback(PG_URL)
    return f"{PG_URL}/{name}"


def pg_env() -> dict:
    """libpq environment (psql, pgbench) for the server of PG_URL."""
    parts = urlsplit(PG_URL)
    env = dict(os.environ)
    env.update(
        PGHOST=parts.hostname or "127.0.0.1", PGPORT=str(parts.port or 5432), PGUSER=parts.username or ""
    )
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return env


def recreate_database(name: str) -> None:
    """Drop (closing its connections) and create an empty database."""
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def server_env(db_name: str, **extra) -> dict:
    """Environment of a production-like Django process (no DEBUG) on the benchmark database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="oms.settings.production",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-for-production-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database_url(db_name),
        SITE_URL="http://127.0.0.1:8030",
        LOG_LEVEL="WARNING",
    )
    env.pop("DJANGO_DEBUG", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def django_setup(db_name: str, **extra) -> None:
    """Configure this process as a production-like Django process on ``db_name``."""
    os.environ.update(server_env(db_name, **extra))
    sys.path.insert(0, str(ROOT))
    (ROOT / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)  # whitenoise warns without it
    import django

    django.setup()


def manage(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def watchdog(seconds: float, on_expiry) -> threading.Timer:
    """Bound the whole run: after ``seconds`` call ``on_expiry`` (clean-up) and exit with status 3."""

    def expire():
        print(f"\n!! benchmark exceeded its {seconds:.0f} s budget: stopping", file=sys.stderr, flush=True)
        try:
            on_expiry()
        finally:
            os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


# --- CPU accounting (/proc) ----------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds used) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _machine_busy() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class CpuSnapshot:
    """CPU seconds used so far by: the gunicorn master and its workers, every postgres process (all
    databases of the server), pgbench, this process, and the whole machine. A process that started and
    ended between two snapshots is not seen (short-lived connections are under-counted)."""

    def __init__(self, gunicorn_pid: int | None):
        self.at = time.perf_counter()
        self.own = time.process_time()
        self.busy, self.total = _machine_busy()
        self.gunicorn: dict[int, float] = {}
        self.postgres: dict[int, float] = {}
        self.pgbench: dict[int, float] = {}
        for pid in _all_pids():
            stat = _proc_stat(pid)
            if stat is None:
                continue
            comm, ppid, cpu = stat
            if gunicorn_pid and (pid == gunicorn_pid or ppid == gunicorn_pid):
                self.gunicorn[pid] = cpu
            elif comm.startswith("postgres"):
                self.postgres[pid] = cpu
            elif comm.startswith("pgbench"):
                self.pgbench[pid] = cpu


def cpu_report(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Cores used (CPU seconds per wall second) between two snapshots, by group."""
    wall = after.at - before.at

    def delta(a: dict, b: dict) -> float:
        return sum(cpu - a.get(pid, 0.0) for pid, cpu in b.items())

    server = delta(before.gunicorn, after.gunicorn)
    postgres = delta(before.postgres, after.postgres)
    client = after.own - before.own + delta(before.pgbench, after.pgbench)
    busy = after.busy - before.busy
    return {
        "server": server / wall,
        "postgres": postgres / wall,
        "client": client / wall,
        "other": max(0.0, busy - server - postgres - client) / wall,
        "idle": max(0.0, (after.total - before.total) - busy) / wall,
    }


def format_cpu(report: dict[str, float]) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in report.items())
