import os

from .base import *  # noqa: F401,F403
from .base import BASE_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "customers.sms.LocmemBackend"
# Tests run tasks in the calling process unless a test talks to a real worker on purpose.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# One process per test run: the integrations keep their "is anything configured?" copy
# (integrations/configured.py; in production only with a shared cache).
INTEGRATIONS_CONFIG_CACHED = True
# Likewise the facts kept per process by common/versioned.py (a user's permissions, the active boxes).
VERSIONED_MEMOS_CACHED = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "fr"
# Under pytest-xdist (`make test` runs the suite in parallel) each worker writes its files apart: its
# own test database is named by pytest-django (test_<name>_gw0...), the media folder here.
if os.environ.get("PYTEST_XDIST_WORKER"):
    MEDIA_ROOT = str(BASE_DIR / "var" / f"media-{os.environ['PYTEST_XDIST_WORKER']}")
# A consumer of the domain event log that raises fails the test that triggered it (in production it is
# retried, then parked for a manager); tests of parking turn this off.
EVENTS_RAISE = True
# Fixed keys for the tests (never used anywhere else): the first encrypts, the second is an "old" key that
# still decrypts, as during a rotation.
OMS_ENCRYPTION_KEYS = env.list(
    "OMS_ENCRYPTION_KEYS",
    default=["Tiu5oA6uoGM4k2RRdzOUWh9GnJ8T2kwPFCih5UaHxUI=", "KUbEUN9kwm6G8FjYmSHy05MubvH_5Qh_qbKKOFaSP9o="],
)
