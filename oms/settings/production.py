"""Production: everything comes from the environment; nothing insecure has a default, and the process refuses
to start (ImproperlyConfigured) without a real secret key, the allowed host names and the encryption keys of
the secrets at rest (guards.py)."""

from .base import *  # noqa: F401,F403
from .base import env
from .guards import require_allowed_hosts, require_encryption_keys, require_secret_key

DEBUG = False
SECRET_KEY = require_secret_key(env("DJANGO_SECRET_KEY", default=""))
ALLOWED_HOSTS = require_allowed_hosts(env.list("DJANGO_ALLOWED_HOSTS", default=[]))
# Fernet keys, comma-separated: the first encrypts, all decrypt (common/crypto.py). Never a key file here.
OMS_ENCRYPTION_KEYS = require_encryption_keys(env.list("OMS_ENCRYPTION_KEYS", default=[]))
OMS_ENCRYPTION_KEY_FILE = ""

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
