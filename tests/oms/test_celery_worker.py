"""A task goes through the real Redis broker to a real worker process and comes back."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from oms.celery import app
from oms.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis broker)")
def test_task_round_trip_through_redis_and_a_worker():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false", "DJANGO_SETTINGS_MODULE": "oms.settings.test"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "oms",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    old_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        token = uuid.uuid4().hex
        result = ping.apply_async(args=[token], queue=queue)
        assert result.get(timeout=60) == token
        assert result.state == "SUCCESS"
    finally:
        app.conf.task_always_eager = old_eager
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_worker_process_freezes_what_it_loaded_and_collects_the_young_less_often(monkeypatch):
    import gc

    from oms import celery as oms_celery

    threshold = gc.get_threshold()
    monkeypatch.setenv("WORKER_GC_GEN0", "40000")
    try:
        oms_celery._tune_gc_in_pool_process()
        assert gc.get_threshold() == (40000, threshold[1], threshold[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_worker_gc_gen0_zero_keeps_pythons_defaults(monkeypatch):
    import gc

    from oms import celery as oms_celery

    threshold = gc.get_threshold()
    monkeypatch.setenv("WORKER_GC_GEN0", "0")
    oms_celery._tune_gc_in_worker()
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
