"""WSGI entry point (gunicorn ``oms.wsgi:application``). Production settings unless DJANGO_SETTINGS_MODULE
says otherwise: a server started without it refuses to start without real secrets instead of serving in
debug mode with the development key. ``manage.py`` and the ``celery`` command default to the local
settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")

application = get_wsgi_application()
