"""docker-compose.yml (it cannot run here: read it) matches the settings: a worker service per Celery queue,
the application behind PgBouncer in transaction mode, migrations straight to PostgreSQL, a replica profile."""

import os
from pathlib import Path

import pytest
import yaml
from django.conf import settings

COMPOSE = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_each_queue_has_its_own_worker_service_that_scales():
    queues = {}
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "oms", "worker"]:
            queues[command[command.index("-Q") + 1]] = name
            assert "container_name" not in service  # `--scale` needs generated names
    assert set(queues) == set(settings.CELERY_TASK_QUEUES_NAMES)
    assert all(queues[q] == f"worker-{q}" for q in queues)


def test_web_and_workers_go_through_pgbouncer_and_migrations_do_not():
    for name in ("web", "beat", *(f"worker-{q}" for q in settings.CELERY_TASK_QUEUES_NAMES)):
        env = SERVICES[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://oms:oms@pgbouncer:6432/"), name
        assert env["DATABASE_PGBOUNCER"] == "true", name
    assert SERVICES["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://oms:oms@postgres:5432/")
    assert SERVICES["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"


def test_the_replica_is_a_profile_streaming_from_the_primary():
    replica = SERVICES["postgres-replica"]
    assert replica["profiles"] == ["replica"]
    assert "pg_basebackup -h postgres" in replica["command"][-1] and " -R " in replica["command"][-1]
    assert "hot_standby=on" in replica["command"][-1]
    assert "DATABASE_REPLICA_URL" in SERVICES["web"]["environment"]
    assert (Path(settings.BASE_DIR) / "docker" / "postgres" / "replication.sh").exists()


def test_web_runs_the_shared_gunicorn_settings_and_workers_yield_the_cpu_to_it():
    dockerfile = (Path(settings.BASE_DIR) / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "python:oms.gunicorn_conf", "oms.wsgi:application"]' in dockerfile
    assert SERVICES["web"]["command"] == [
        "gunicorn",
        "-c",
        "python:oms.gunicorn_conf",
        "oms.wsgi:application",
    ]
    for name in (f"worker-{q}" for q in settings.CELERY_TASK_QUEUES_NAMES):
        assert SERVICES[name]["environment"]["WORKER_NICE"] == "${WORKER_NICE:-10}", name
        assert SERVICES[name]["cpu_shares"] == 256, name  # containers: the cgroup's weight, not niceness
    assert "cpu_shares" not in SERVICES["web"]
    assert settings.WORKER_NICE == 10


def test_a_celery_worker_lowers_its_cpu_priority_at_start_and_its_pool_inherits_it(settings):
    from oms.celery import _lower_the_cpu_priority

    settings.WORKER_NICE = 5
    read, write = os.pipe()
    pid = os.fork()  # the worker's main process, before it forks its pool
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        before = os.nice(0)
        _lower_the_cpu_priority()
        child = os.fork()  # a pool process
        if child == 0:
            os.write(write, f"{before} {os.nice(0)}".encode())
            os._exit(0)
        os.waitpid(child, 0)
        os._exit(0)
    os.waitpid(pid, 0)
    before, pool = map(int, os.read(read, 64).split())
    assert pool == min(before + 5, 19)
    assert os.nice(0) == before  # the test process itself is untouched


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="the kernel has no autogroups")
def test_a_worker_leading_its_own_session_lowers_its_autogroup_too(settings):
    """Niceness only weighs inside a session's autogroup: a worker started in a session of its own (a
    container, a service manager) must lower its autogroup's weight, or it competes with the web's session
    as an equal."""
    from oms.celery import _lower_the_cpu_priority

    settings.WORKER_NICE = 7
    ours = Path("/proc/self/autogroup").read_text()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.setsid()  # its own session, as a container's worker: the test's session is left alone
        _lower_the_cpu_priority()
        os.write(write, Path("/proc/self/autogroup").read_text().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 200).decode().split()[-1] == "7"  # "/autogroup-123 nice 7"
    assert Path("/proc/self/autogroup").read_text() == ours  # this session's weight untouched
