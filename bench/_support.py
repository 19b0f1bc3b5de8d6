"""Helpers shared by the benchmark scripts (not a test module, not part of the application).

Everything here talks to 127.0.0.1 only: the Postgres URL is checked to be a loopback address.
"""

import base64
import os
import secrets
import signal
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


# Production refuses a placeholder secret: a random one per run, the same for the server and this process.
BENCH_SECRET_KEY = secrets.token_urlsafe(50)
BENCH_ENCRYPTION_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
_BENCH_SECRET_KEY, _BENCH_ENCRYPTION_KEY = BENCH_SECRET_KEY, BENCH_ENCRYPTION_KEY
_RUN_SECRET_KEY, _RUN_ENCRYPTION_KEY = BENCH_SECRET_KEY, BENCH_ENCRYPTION_KEY


def server_env(db_name: str, **extra) -> dict:
    """Environment of a production-like Django process (no DEBUG) on the benchmark database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="oms.settings.production",
        # Production settings refuse a placeholder key: a random one per run (nothing signed outlives it).
        DJANGO_SECRET_KEY=_BENCH_SECRET_KEY,
        OMS_ENCRYPTION_KEYS=_BENCH_ENCRYPTION_KEY,
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


def backend_cpu_seconds(pid: int) -> float:
    """CPU seconds a (local) PostgreSQL backend has run so far, from ``/proc/<pid>/schedstat`` (nanoseconds;
    ``/proc/<pid>/stat`` counts 10 ms ticks, too coarse for a few orders); 0 if it is gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def database_backends_cpu(db: str) -> dict[int, float]:
    """CPU seconds so far of each backend connected to ``db`` (by pid): the database's own share of
    PostgreSQL, which the machine-wide ``postgres`` figure mixes with every other database's."""
    import psycopg

    with psycopg.connect(database_url(db), autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db]
            )
        ]
    return {pid: backend_cpu_seconds(pid) for pid in pids}


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _machine_busy() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return [raw[raw.index("(") + 1 : raw.rindex(")")], *raw[raw.rindex(")") + 2 :].split()]


def postgres_cpu() -> float:
    """Every CPU second the PostgreSQL server used so far: its live processes' utime + stime, plus the
    postmaster's cutime + cstime (its children that exited: backends of closed connections)."""
    total = 0.0
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is None or not fields[0].startswith("postgres"):
            continue
        total += (int(fields[12]) + int(fields[13])) / CLK_TCK
        parent = _stat_fields(int(fields[2]))
        if parent is None or not parent[0].startswith("postgres"):  # the postmaster
            total += (int(fields[14]) + int(fields[15])) / CLK_TCK
    return total


class PostgresCpuByDatabase:
    """PostgreSQL's CPU split by who used it, sampled every ``interval`` s in a thread: every postgres process
    is labelled from ``pg_stat_activity`` (``<database>: client backend``, ``<database>: autovacuum worker``,
    ``server: checkpointer``...), each process's CPU counted from the start (0 for one born since) to its
    last sample. ``unseen`` is what the postmaster reaped of children that lived between two samples (or
    whose last moments fell after their last sample). ``stop()`` returns {label: CPU seconds}."""

    def __init__(self, interval: float = 0.5, *, own: dict[int, str] | None = None):
        self.interval = interval
        self.own = own or {}  # pid → label: the bench's own connections, apart from its database's
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.labels: dict[int, str] = {}
        self._done = threading.Event()
        self._total0 = postgres_cpu()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, *, initial: bool = False) -> None:
        import psycopg

        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, coalesce(datname, 'server'), backend_type FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid()"
            ).fetchall()
            labels = {pid: f"{db}: {kind}" for pid, db, kind in rows} | self.own
            for pid in _all_pids():
                stat = _proc_stat(pid)
                if stat is None or not stat[0].startswith("postgres"):
                    continue
                self.first.setdefault(pid, stat[2] if initial else 0.0)
                self.last[pid] = stat[2]
                if pid in labels:
                    self.labels[pid] = labels[pid]
                else:
                    self.labels.setdefault(pid, "server: postmaster and others")

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self._sample()
            except Exception:  # noqa: BLE001, S112 - a sample missed is a lower bound, not an error
                continue

    def stop(self) -> dict[str, float]:
        self._done.set()
        self._thread.join()
        self._sample()
        used: dict[str, float] = {}
        for pid, last in self.last.items():
            label = self.labels.get(pid, "server: postmaster and others")
            used[label] = used.get(label, 0.0) + last - self.first[pid]
        used["unseen (short-lived)"] = max(0.0, postgres_cpu() - self._total0 - sum(used.values()))
        return used


class WaitSampler:
    """Samples ``pg_stat_activity`` of one database every ``interval`` seconds in a thread: how many of its
    backends were running a statement, and what those were waiting for (``Lock/transactionid``, ``Lock/tuple``
    are row locks; none is CPU). ``counts`` by wait, ``samples`` taken."""

    QUERY = (
        "SELECT coalesce(wait_event_type || '/' || wait_event, 'running') FROM pg_stat_activity "
        "WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()"
    )

    def __init__(self, db: str, interval: float = 0.02):
        from collections import Counter

        self.db, self.interval = db, interval
        self.counts: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(database_url(self.db), autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(self.QUERY, [self.db]).fetchall()
                self.samples += 1
                self.counts.update(row[0] for row in rows)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def report(self) -> str:
        if not self.samples:
            return "no sample"
        parts = [f"{key} {count / self.samples:.2f}" for key, count in self.counts.most_common(6)]
        return f"{self.samples} samples, mean backends active: " + ", ".join(parts)


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


# --- Processes (gunicorn, Celery workers) -------------------------------------------------------------


class Server:
    """gunicorn on 127.0.0.1, stopped by its own PID."""

    def __init__(self, *, port: int, workers: int, env: dict, log: Path, timeout: int = 30):
        self.port = port
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "-c",
                "python:oms.gunicorn_conf",  # the image's and compose's settings; the options below win
                "oms.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                str(timeout),
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:  # 4 workers booting on a busy machine
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: see {self.log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def tree_cpu(root_pid: int) -> float:
    """CPU seconds of a process and its children (a prefork worker's pool process)."""
    total, pids = 0.0, {root_pid}
    stats = {pid: _proc_stat(pid) for pid in _all_pids()}
    changed = True
    while changed:
        changed = False
        for pid, stat in stats.items():
            if stat and stat[1] in pids and pid not in pids:
                pids.add(pid)
                changed = True
    for pid in pids:
        stat = stats.get(pid)
        total += stat[2] if stat else 0.0
    return total


def celery_worker(
    env: dict,
    log: Path,
    name: str,
    *,
    queues: str,
    pool: str = "prefork",
    concurrency: int = 1,
    prefetch: int = 1,
    profile: Path | None = None,
) -> subprocess.Popen:
    """A Celery worker consuming ``queues`` (comma-separated), in its own process group (stopped by
    ``stop``). Remote control stays on (the journey bench pauses and resumes queues through it). With
    ``profile``, the worker runs its tasks in its own process (``--pool solo``) under cProfile, whose
    statistics are written there when it stops."""
    out = log.open("w")
    command = [str(VENV_BIN / "celery")]
    if profile is not None:
        command = [str(VENV_BIN / "python"), "-m", "cProfile", "-o", str(profile), *command]
        pool, concurrency = "solo", 1
    return subprocess.Popen(
        [
            *command, "-A", "oms", "worker", f"--pool={pool}", f"--concurrency={concurrency}",
            "-Q", queues, "--without-heartbeat", "--without-gossip", "--without-mingle",
            f"--prefetch-multiplier={prefetch}", "--loglevel=WARNING", "-n", f"{name}@%h",
        ],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def fresh_schema(db: str, env: dict, *, fresh: bool) -> None:
    """An empty migrated database, copied from ``<db>_tpl`` (made by the first run: migrating takes
    minutes on a loaded machine)."""
    import psycopg

    template = db + "_tpl"
    if fresh or not database_exists(template):
        recreate_database(db)
        migrated = manage("migrate", "--noinput", env=env, timeout=900)
        if migrated.returncode:
            sys.exit(migrated.stdout + migrated.stderr)
        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{db}"')
        return
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
    migrated = manage("migrate", "--noinput", env=env, timeout=900)  # a template older than the code
    if migrated.returncode:
        sys.exit(migrated.stdout + migrated.stderr)
    if "Applying" in migrated.stdout:  # keep the template up to date for the next run
        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{db}"')


class Beat(threading.Thread):
    """What beat publishes on production's schedule (oms/settings/base.py): the event log's sweep every
    30 s, the jobs' sweep and the due notifications every 60 s (their cost grows with time, not orders)."""

    SCHEDULE = (
        ("common.events_sweep", "default", 30),
        ("common.jobs_sweep", "default", 60),
        ("customers.dispatch_due_notifications", "notifications", 60),
    )

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        from oms.celery import app

        seconds = 0
        while not self.stopped.wait(30):
            seconds += 30
            for name, queue, every in self.SCHEDULE:
                if seconds % every == 0:
                    app.send_task(name, queue=queue)
