"""An in-process beat for ``make run`` without Redis: a daemon thread of the web process runs the entries of
``CELERY_BEAT_SCHEDULE`` when they are due, the way ``celery beat`` would (tasks run eagerly there, in this
thread). So the sandbox carrier's parcels get their tracking news, notifications are retried and waves are
released on a laptop with nothing installed. Never used when a broker is configured: then ``celery beat``
runs (bin/serve, docker-compose).

Each entry runs once at start-up, then on its schedule (a number of seconds, or a crontab): a laptop is
seldom on at night, so the nightly entries (the sales forecast, the relay-point directory) catch up when
the server starts. An entry that fails is logged and tried again at its next time; one slow entry delays
the others, never the web requests.
"""

import logging
import threading
from datetime import timedelta
from importlib import import_module

from celery.schedules import schedule
from django.apps import apps
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

logger = logging.getLogger(__name__)

TICK_SECONDS = 5.0


def _as_schedule(value):
    if isinstance(value, int | float):
        return schedule(timedelta(seconds=value))
    if isinstance(value, timedelta):
        return schedule(value)
    return value


class InProcessBeat:
    def __init__(self, entries: dict | None = None, *, run_at_start: bool = True):
        self._given = entries
        self._run_at_start = run_at_start
        self.entries: dict | None = None  # loaded on first use: never while Django is still starting
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _load(self) -> None:
        from oms.celery import app

        self.app = app
        # The apps' tasks modules, as Celery's autodiscovery imports them in a worker (not through the
        # loader's import_default_modules: its Django fix-up runs the system checks, which is a worker's job).
        for config in apps.get_app_configs():
            if module_has_submodule(config.module, "tasks"):
                import_module(f"{config.name}.tasks")
        self.entries = {}
        given = self._given if self._given is not None else settings.CELERY_BEAT_SCHEDULE
        for name, entry in given.items():
            sched = _as_schedule(entry["schedule"])
            if hasattr(sched, "app"):
                sched.app = app
            # Every entry runs at start: a fresh demo gets its tracking news at once, and the nightly
            # entries catch up (the laptop was off at night).
            first = None if self._run_at_start else timezone.now()
            self.entries[name] = {
                "task": entry["task"],
                "schedule": sched,
                "args": entry.get("args", ()),
                "last": first,
            }

    def due(self, now=None) -> list[str]:
        """Names of the entries due now."""
        if self.entries is None:
            self._load()
        now = now or timezone.now()
        names = []
        for name, entry in self.entries.items():
            last = entry["last"]
            if last is None:
                names.append(name)
                continue
            is_due, _next = entry["schedule"].is_due(last)
            if is_due:
                names.append(name)
        return names

    def run_due(self) -> list[str]:
        """Run every entry due now, in this thread; returns their names."""
        ran = []
        for name in self.due():
            entry = self.entries[name]
            entry["last"] = timezone.now()
            task = self.app.tasks.get(entry["task"])
            if task is None:
                logger.warning("Beat entry %s: no task named %s", name, entry["task"])
                continue
            try:
                task.apply(args=entry["args"], throw=True)
            except Exception:
                logger.exception(
                    "Beat entry %s (%s) failed; it runs again at its next time", name, entry["task"]
                )
            ran.append(name)
        return ran

    def _loop(self) -> None:
        self._stop.wait(3)  # let the server finish starting before the first run
        while not self._stop.is_set():
            close_old_connections()  # this thread's own connection, as a request's would be
            try:
                self.run_due()
            finally:
                close_old_connections()
            self._stop.wait(TICK_SECONDS)

    def start(self) -> "InProcessBeat":
        self._thread = threading.Thread(target=self._loop, name="oms-in-process-beat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


_running: InProcessBeat | None = None


def start_if_wanted(argv) -> InProcessBeat | None:
    """Start the beat thread in the process that serves requests (runserver's child, not its reloader)
    when ``BEAT_IN_PROCESS`` is on and tasks run eagerly (no broker)."""
    import os

    global _running
    if _running is not None or not getattr(settings, "BEAT_IN_PROCESS", False):
        return None
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        logger.warning("BEAT_IN_PROCESS is ignored: a broker is configured, run celery beat instead.")
        return None
    if "runserver" not in argv or (os.environ.get("RUN_MAIN") != "true" and "--noreload" not in argv):
        return None
    _running = InProcessBeat().start()
    return _running
