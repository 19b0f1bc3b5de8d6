"""The in-process beat of `make run` without Redis (oms/scheduler.py)."""

import datetime as dt
from unittest import mock

import pytest
from celery.schedules import crontab
from django.utils import timezone

from oms import scheduler
from oms.scheduler import InProcessBeat, start_if_wanted
from orders.models import IdempotencyKey
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def test_entries_run_at_start_then_on_their_schedule():
    channel = ChannelFactory(code="web")
    old = IdempotencyKey.objects.create(channel=channel, key="old", request_hash="x")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    beat = InProcessBeat(
        {
            "purge": {"task": "orders.purge_idempotency_keys", "schedule": 3600.0},
            "nightly": {"task": "orders.purge_idempotency_keys", "schedule": crontab(hour=2, minute=30)},
        }
    )
    assert beat.due() == ["purge", "nightly"]  # the nightly entry catches up at start
    assert beat.run_due() == ["purge", "nightly"]
    assert not IdempotencyKey.objects.exists()  # the task really ran
    assert beat.due() == []  # the nightly entry waits for its next night now
    beat.entries["purge"]["last"] = timezone.now() - dt.timedelta(hours=1, seconds=1)
    assert beat.due() == ["purge"]


def test_a_failing_entry_is_logged_and_the_others_run():
    beat = InProcessBeat(
        {
            "broken": {"task": "no.such.task", "schedule": 60.0},
            "purge": {"task": "orders.purge_idempotency_keys", "schedule": 60.0},
        }
    )
    with mock.patch.object(scheduler.logger, "warning") as warning:
        assert beat.run_due() == ["purge"]
    assert warning.call_args.args == ("Beat entry %s: no task named %s", "broken", "no.such.task")


def test_the_project_schedule_is_understood():
    beat = InProcessBeat()
    assert {"tracking-poll", "reports-forecast-nightly", "dispatch-due-notifications"} <= set(beat.due())


def test_it_starts_only_in_runservers_serving_process_without_a_broker(settings, monkeypatch):
    settings.BEAT_IN_PROCESS = True
    monkeypatch.delenv("RUN_MAIN", raising=False)
    assert start_if_wanted(["manage.py", "runserver"]) is None  # the reloader's parent
    assert start_if_wanted(["manage.py", "migrate"]) is None
    settings.BEAT_IN_PROCESS = False
    monkeypatch.setenv("RUN_MAIN", "true")
    assert start_if_wanted(["manage.py", "runserver"]) is None
    settings.BEAT_IN_PROCESS, settings.CELERY_TASK_ALWAYS_EAGER = True, False
    assert start_if_wanted(["manage.py", "runserver"]) is None  # a broker: celery beat's job
