"""Settings of ``bench/intake.py --floor`` only: production's, with a URLconf that adds the floor endpoint.

Nothing in the application imports this module; the floor endpoint exists only in a server started with
``DJANGO_SETTINGS_MODULE=bench.floor_settings`` (the bench's own gunicorn)."""

from oms.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
