"""Development (``make run``, ``manage.py`` and the Celery app by default): debug on, and when no
OMS_ENCRYPTION_KEYS is set, the secrets at rest are encrypted with a key generated once in
var/encryption.key (readable by its owner only; delete it and the stored secrets are lost)."""

from .base import *  # noqa: F401,F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
OMS_ENCRYPTION_KEY_FILE = env("OMS_ENCRYPTION_KEY_FILE", default=str(BASE_DIR / "var" / "encryption.key"))
