"""Settings of the processes the fault-injection tests start (gunicorn, Celery workers): production-like
(the Redis cache and broker of base.py, built from REDIS_URL, with their timeouts; tasks through the
broker), with the test database, a media folder and emails written to files, all given by the test."""

import os

from oms.settings.base import *  # noqa: F401,F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # as the test process writes them
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["FAULTS_EMAIL_DIR"]
MEDIA_ROOT = os.environ["FAULTS_MEDIA_DIR"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "fr"
