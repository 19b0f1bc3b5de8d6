"""The Celery app. Queues: ``default``, ``tracking`` (carrier polls), ``documents`` (PDF, labels,
invoices) and ``notifications`` (emails, SMS, webhooks). Tasks name their queue in their decorator."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.local")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "tracking", "documents", "notifications")]
app.autodiscover_tasks()
