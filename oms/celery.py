"""The Celery app. Queues: ``default``, ``tracking`` (carrier polls), ``documents`` (PDF, labels,
invoices) and ``notifications`` (emails, SMS, webhooks). Tasks name their queue in their decorator.

Which settings: ``DJANGO_SETTINGS_MODULE`` when it is set. Otherwise the ``celery`` command (worker, beat)
uses the development settings, like ``manage.py``; but this module is also imported by every process that
imports ``oms`` (``oms/__init__.py`` loads the app so that ``shared_task`` binds to it), gunicorn's
``oms.wsgi`` included, and there it must not choose: wsgi.py and asgi.py default to production."""

import gc
import os
import sys

from celery import Celery
from celery.fixups.django import DjangoFixup
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init, worker_ready
from kombu import Queue


def _started_by_celery_command() -> bool:
    """The ``celery`` command line (its console script or ``python -m celery``) imports its CLI module before
    it loads the app named by ``-A oms``; a web server or a script never does."""
    return "celery.bin.celery" in sys.modules


if _started_by_celery_command():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.local")

app = Celery("oms")
if not any(isinstance(fixup, DjangoFixup) for fixup in getattr(app, "_fixups", [])):
    # Celery installs its Django fix-up only when DJANGO_SETTINGS_MODULE is already set; a web process sets
    # it just after importing this module (wsgi.py), so install it here: it reads the settings lazily.
    app._fixups.append(DjangoFixup(app).install())  # kept there: task autodiscovery reads it
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "tracking", "documents", "notifications")]
app.autodiscover_tasks()


@worker_init.connect
def _lower_the_cpu_priority(**kwargs) -> None:
    """A worker runs at ``WORKER_NICE`` (default 10), its pool's processes too (forked after this): where it
    shares a host with the web, the requests that a customer or a channel waits on get the cores first and
    the background work takes what is left (bench/README.md, "Webhooks: the accept path"). On a host of its
    own it changes nothing. 0 keeps the priority it was started with."""
    from django.conf import settings

    increment = int(getattr(settings, "WORKER_NICE", 0))
    if increment > 0:
        os.nice(increment)
        # Linux schedules each session (autogroup) as one entity first and applies niceness only inside
        # it: a worker that leads a session of its own (started by a service manager, `setsid`, a
        # container's init) would still get as much CPU as the web's session. Such a worker gives its
        # autogroup the same niceness (lowering a priority needs no privilege); one started inside another
        # session (`make run`) leaves that session's weight alone. Without autogroups the file is absent.
        if os.getsid(0) == os.getpid():
            try:
                with open("/proc/self/autogroup", "w") as autogroup:
                    autogroup.write(str(min(19, increment)))
            except OSError:
                pass


# Database connections in workers. Celery's Django fix-up closes every connection before and after each
# task unless CELERY_DB_REUSE_MAX is set, whatever CONN_MAX_AGE says: each task (a consumer's run, a PDF, a
# tracking batch, a message) opened a new PostgreSQL backend, a fork and an authentication on the database's
# cores (bench/journey.py). A worker keeps its connections as the web does instead: at each task's start
# and end Django's own check closes one that is past CONN_MAX_AGE or unusable after an error, and
# CONN_HEALTH_CHECKS tests a kept one before its first query. Works the same through PgBouncer (transaction
# mode: a kept client connection holds no server connection between transactions).
REUSE_FOREVER = 10**9


@worker_init.connect
def _keep_database_connections(**kwargs) -> None:
    for fixup in getattr(app, "_fixups", []):
        if isinstance(fixup, DjangoFixup):
            fixup.worker_fixup.db_reuse_max = REUSE_FOREVER


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(sender=None, **kwargs) -> None:
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # an eager task runs inside its caller's request or test: its connection is the caller's
    from django.db import close_old_connections

    close_old_connections()


# The garbage collector in workers, as in gunicorn's workers (oms/gunicorn_conf.py): once a process has
# loaded everything (Django, the tasks, WeasyPrint in a documents worker: ~200,000 objects), they are moved
# out of the collector's reach (``gc.freeze``) and the youngest generation is collected every
# ``WORKER_GC_GEN0`` allocations (default 50,000, Python's 700). A consumer's run or a PDF allocates tens of
# thousands of short-lived objects, and each older-generation collection walked the whole application
# again: ~11 % of an invoice PDF's CPU (bench/README.md, "The documents and default workers' Python").
# Reference cycles are still collected. 0 leaves Python's defaults.
def _tune_gc() -> None:
    gen0 = int(os.environ.get("WORKER_GC_GEN0", "50000"))
    if gen0 <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2)


@worker_process_init.connect
def _tune_gc_in_pool_process(**kwargs) -> None:
    """Each prefork pool process, once forked (after the worker's ``worker_init``, so with what it loaded)."""
    _tune_gc()


@worker_ready.connect
def _tune_gc_in_worker(**kwargs) -> None:
    """The worker's main process: the one that runs the tasks with ``--pool solo`` or ``threads``."""
    _tune_gc()
