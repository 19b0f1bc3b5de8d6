"""The Celery app. Queues: ``default``, ``tracking`` (carrier polls), ``documents`` (PDF, labels,
invoices) and ``notifications`` (emails, SMS, webhooks). Tasks name their queue in their decorator.

Which settings: ``DJANGO_SETTINGS_MODULE`` when it is set. Otherwise the ``celery`` command (worker, beat)
uses the development settings, like ``manage.py``; but this module is also imported by every process that
imports ``oms`` (``oms/__init__.py`` loads the app so that ``shared_task`` binds to it), gunicorn's
``oms.wsgi`` included, and there it must not choose: wsgi.py and asgi.py default to production."""

import os
import sys

from celery import Celery
from celery.fixups.django import DjangoFixup
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
