"""Development (``make run``, ``manage.py`` and the Celery app by default): debug on, and when no
OMS_ENCRYPTION_KEYS is set, the secrets at rest are encrypted with a key generated once in
var/encryption.key (readable by its owner only; delete it and the stored secrets are lost)."""

from .base import *  # noqa: F401,F403
from .base import BASE_DIR, LOGGING, STORAGES, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
OMS_ENCRYPTION_KEY_FILE = env("OMS_ENCRYPTION_KEY_FILE", default=str(BASE_DIR / "var" / "encryption.key"))

# Static files straight from the apps' and the project's folders (no collectstatic, no compression on the
# local path: `make run` starts at once and a changed stylesheet shows on reload).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# A short console: our warnings and the requests, not the libraries' progress (WeasyPrint's steps, Celery's
# task traces, kombu's broker notices). LOG_LEVEL=INFO brings our own INFO messages back.
LOGGING = {
    **LOGGING,
    "root": {**LOGGING["root"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {
        **LOGGING["loggers"],
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "ERROR"},
        "factur-x": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "ERROR"},
        "django.utils.autoreload": {"level": "WARNING"},
    },
}
