"""Settings shared by every environment, read from the environment with django-environ.

With no ``DATABASE_URL`` the project runs on an embedded SQLite file (transactions in IMMEDIATE mode so
concurrent writers queue instead of failing); with no ``REDIS_URL`` Celery runs tasks eagerly, in the
process that queues them. Both together make ``make run`` work on a machine with nothing installed.
"""

import datetime
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file beside manage.py fills what the environment does not set (DJANGO_ENV_FILE names another one).
environ.Env.read_env(env("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

# Development default only: production.py refuses it (guards.py).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Absolute links in emails and API answers (tracking_url) are built on this base.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
MERCHANT_NAME = env("MERCHANT_NAME", default="Maison Demo")  # shown on slips, portal and emails

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csp",
    # our apps, bottom layer first (see DESIGN.md "Layers")
    "common",
    "inventory",
    "customers",
    "shipping",
    "fulfillment",
    "orders",
    "channels",
    "invoicing",
    "returns",
    "portal",
    "reports",
    "integrations",
    "oms",
]

# Signed requests of other programs (channels' and carriers' webhooks): the page-only middleware below
# (``common.middleware``: sessions, locale, authentication, messages, htmx; the replica pin) lets them
# through untouched. bench/webhooks.py measures their accept path (target p95 < 20 ms).
MACHINE_PATH_PREFIXES = ("/webhooks/",)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.SessionMiddleware",  # page-only: Django's, not for MACHINE_PATH_PREFIXES
    "common.middleware.LocaleMiddleware",  # page-only (a machine is answered in LANGUAGE_CODE)
    "common.middleware.ApiLanguageMiddleware",
    "common.middleware.MalformedRequestMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "common.middleware.AuthenticationMiddleware",  # page-only (a machine is anonymous)
    "common.replica.ReplicaMiddleware",  # listed reads from the replica; a writer reads the primary
    "common.audit.AuditContextMiddleware",  # the user and address the audit log records
    "common.middleware.MessageMiddleware",  # page-only
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.middleware.HtmxMiddleware",  # page-only
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oms.context_processors.backoffice",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
SQLITE_PATH = env("SQLITE_PATH", default=str(BASE_DIR / "var" / "oms.sqlite3"))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend whose health check asks the socket before sending SELECT 1 (common/backends).
        DATABASES["default"]["ENGINE"] = "common.backends.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN: concurrent writers wait (timeout) instead of
                # failing with "database is locked" half-way through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A streaming replica (PostgreSQL hot standby) for the reads listed below: common/replica.py. Without it,
# everything reads from the primary. The primary stays the one source of truth.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"]["ENGINE"] = "common.backends.postgresql"
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # The test database is the primary's; the replica suite points this alias at the standby's copy of it.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["common.replica.ReplicaRouter"]
# Behind PgBouncer in transaction mode (DATABASE_PGBOUNCER=true): a server connection serves one transaction
# and goes back to the pool, so nothing may outlive a transaction on it. No server-side cursors (a named
# cursor lives on one server connection across fetches), no server-side prepared statements (Django turns
# psycopg's off unless OPTIONS say otherwise; pinned here, PgBouncer before 1.21 cannot follow them). The
# application holds no other session state: no SET outside a transaction (the time zone is a parameter
# PgBouncer keeps per client), no advisory locks, no LISTEN, row locks only inside transactions.
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
# Server-side binding (PostgreSQL): psycopg sends the parameters apart from the statement's text instead of
# inlining them (Django's default), and prepares a statement once it has run DB_PREPARE_THRESHOLD times on a
# connection: PostgreSQL then parses and plans the hot statements once per (persistent) connection, not once
# per execution. Each connection keeps its DB_PREPARED_MAX most recent prepared statements (psycopg's LRU;
# common/apps.py). Off behind PgBouncer: before 1.21 it cannot follow prepared statements in transaction
# mode (with >= 1.21 and `max_prepared_statements` set they could be kept). Raw SQL must give PostgreSQL
# the parameters' types where it cannot infer them (`%s::bigint[]`, `%s::int`): see ARCHITECTURE.md.
DB_SERVER_SIDE_BINDING = env.bool("DB_SERVER_SIDE_BINDING", default=True) and not DATABASE_PGBOUNCER
DB_PREPARE_THRESHOLD = env.int("DB_PREPARE_THRESHOLD", default=2)
DB_PREPARED_MAX = env.int("DB_PREPARED_MAX", default=100)
for _alias in DATABASES:
    if not DATABASES[_alias]["ENGINE"].endswith("postgresql"):
        continue
    _options = DATABASES[_alias].setdefault("OPTIONS", {})
    if DATABASE_PGBOUNCER:
        DATABASES[_alias]["DISABLE_SERVER_SIDE_CURSORS"] = True
        _options["prepare_threshold"] = None
    elif DB_SERVER_SIDE_BINDING:
        _options["server_side_binding"] = True
        _options.setdefault("prepare_threshold", DB_PREPARE_THRESHOLD)
# Months of partitions of the history tables (event log, stock ledger) created ahead by beat.
PARTITIONS_AHEAD_MONTHS = env.int("PARTITIONS_AHEAD_MONTHS", default=3)
# Past this replay lag the replica is skipped (reads go to the primary) and /healthz says "degraded".
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
# How often each process measures the lag (one query on the replica).
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=2.0)
# Read-your-writes: after a write, the same browser or API key reads from the primary this long.
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=15)
# The GET views (URL names) whose reads may come from the replica: lists, reports, exports, the portal's
# read pages and the availability API. Each must write nothing it reads back.
REPLICA_READ_VIEWS = [
    "orders:order_list",
    "orders:pickup_list",
    "orders:notification_list",
    "reports:sales",
    "reports:delivery",
    "reports:fulfilment",
    "reports:returns",
    "reports:forecast",
    "reports:forecast_detail",
    "reports:reorder",
    "inventory:product_list",
    "inventory:product_stock",
    "inventory:catalogue",
    "inventory:transfer_list",
    "invoicing:document_list",
    "invoicing:export_detail",
    "portal:track",
    "portal:account",
    "portal:account_addresses",
    "portal:account_data",
    "invoicing:portal_documents",
    "api-availability",
    "api-availability-changes",
    "api-stock",
    "api-stock-movements",
    "api-products",
    "api-orders",
    "api-order-detail",
]

# --- Cache ----------------------------------------------------------------------------------------
# Redis is a cache and a broker, never the source of truth: when it is down, requests are served without
# it (common/cache.py, common/jobs.py, README "When Redis or a worker fails"). Short socket timeouts, and
# after a failure Redis is not tried again for REDIS_RETRY_AFTER_SECONDS (the broker:
# BROKER_RETRY_AFTER_SECONDS), so a dead or unreachable Redis costs a request milliseconds.
REDIS_URL = env("REDIS_URL", default="")
REDIS_SOCKET_CONNECT_TIMEOUT = env.float("REDIS_SOCKET_CONNECT_TIMEOUT", default=0.5)  # seconds
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)  # seconds, per cache command
REDIS_RETRY_AFTER_SECONDS = env.float("REDIS_RETRY_AFTER_SECONDS", default=5.0)
BROKER_RETRY_AFTER_SECONDS = env.float("BROKER_RETRY_AFTER_SECONDS", default=5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "common.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Secrets at rest (common/crypto.py, common/fields.py) -----------------------------------------
# Fernet keys, comma-separated: the first encrypts, every one decrypts (rotation: README "Secrets at rest").
OMS_ENCRYPTION_KEYS = env.list("OMS_ENCRYPTION_KEYS", default=[])
# With no key, development settings use a key file generated once (local.py); production refuses to start.
OMS_ENCRYPTION_KEY_FILE = ""

# --- Auth -----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A staff user's permissions and role names kept per process, checked against a version token in the shared
# cache (common/authz.py); read from PostgreSQL as Django does when the cache is down or not shared.
# The user row too (dropped by every save or delete of a user: password, is_active...); the session hash
# is still checked on every request against the row kept.
AUTHENTICATION_BACKENDS = ["common.authz.CachedPermissionBackend"]
# Sessions stay in PostgreSQL; with a shared cache their data is also kept at most SESSION_CACHE_SECONDS in
# Redis, written after the row, deleted with it (common/sessions.py).
SESSION_ENGINE = "common.sessions"
SESSION_CACHE_SECONDS = env.int("SESSION_CACHE_SECONDS", default=60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Email ----------------------------------------------------------------------------------------
# Either one EMAIL_URL (smtp+tls://user:password@smtp.example.com:587, smtp+ssl://...:465, consolemail://)
# or the separate EMAIL_HOST / EMAIL_PORT / EMAIL_HOST_USER / EMAIL_HOST_PASSWORD / EMAIL_USE_TLS. With
# neither, emails are printed on the console (development); tests use the locmem backend.
_email = env.email_url("EMAIL_URL") if env("EMAIL_URL", default="") else {}
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=_email.get("EMAIL_BACKEND")
    or (
        "django.core.mail.backends.smtp.EmailBackend"
        if env("EMAIL_HOST", default="")
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
EMAIL_HOST = env("EMAIL_HOST", default=_email.get("EMAIL_HOST") or "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=_email.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default=_email.get("EMAIL_HOST_USER") or "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default=_email.get("EMAIL_HOST_PASSWORD") or "")
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=env("EMAIL_URL", default="").startswith("smtp+ssl:"))
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=bool(_email.get("EMAIL_USE_TLS")) and not EMAIL_USE_SSL)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds: a hung SMTP server never blocks a worker
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="OMS <no-reply@oms.localhost>")
# Text messages: the adapter class (customers/sms.py). The log backend writes them to the log.
SMS_BACKEND = env("SMS_BACKEND", default="customers.sms.LogBackend")

# --- Customer notifications (customers/services.py, orders/notifications.py) -------------------------
# The merchant shown in emails: name, logo (an absolute URL: mail clients fetch it), accent colour.
MERCHANT_NAME = env("MERCHANT_NAME", default="OMS Boutique")
MERCHANT_LOGO_URL = env("MERCHANT_LOGO_URL", default="")
MERCHANT_COLOR = env("MERCHANT_COLOR", default="#1f5fbf")
MERCHANT_SUPPORT_EMAIL = env("MERCHANT_SUPPORT_EMAIL", default="")
# Customer portal (portal/): limits of the order lookup and the account sign-in (django-ratelimit on
# the default cache, Redis in production), and the lifetime of a sign-in link sent by email.
PORTAL_LOOKUP_RATE_PER_IP = env("PORTAL_LOOKUP_RATE_PER_IP", default="20/h")
PORTAL_LOOKUP_RATE_PER_ORDER = env("PORTAL_LOOKUP_RATE_PER_ORDER", default="5/15m")
ACCOUNT_SIGNIN_RATE = env("ACCOUNT_SIGNIN_RATE", default="10/15m")
# The back office's (and the admin's) sign-in: per IP and per username.
STAFF_SIGNIN_RATE = env("STAFF_SIGNIN_RATE", default="10/15m")
ACCOUNT_LINK_MAX_AGE = 15 * 60  # seconds
# The client's address for those limits: behind a reverse proxy, set it to the header the proxy fills
# (e.g. HTTP_X_REAL_IP), or every customer shares the proxy's address and its limit.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=10)  # then "failed"
NOTIFICATION_RETRY_BASE_SECONDS = 60  # backoff: 1, 2, 4, 8... minutes
NOTIFICATION_RETRY_MAX_SECONDS = 3600  # ... at most an hour between attempts
NOTIFICATION_FIRST_WAIT_SECONDS = 60  # beat leaves a new message to its on-commit task this long
NOTIFICATION_SENDING_TIMEOUT_SECONDS = 600  # a message "sending" longer than this had its worker die
NOTIFICATION_LEASE_SECONDS = 300  # beat does not queue a message again within this time

# --- Content-Security-Policy (django-csp; README "Content-Security-Policy") ------------------------------
# Enforced on every response but PDF files (common/csp.py). Scripts and styles come only from our own
# static files: no inline <script>, no on*= handlers, no style="" attributes, no <style> elements (htmx's
# own indicator style is turned off by the htmx-config meta tag in the layouts). A page that needs more
# loosens its own response with django-csp's @csp_update / @csp / @csp_replace and says why: so far the
# email preview's frame (orders/views.py, EMAIL_PREVIEW_CSP) and Redoc (oms/api_docs.py).
_CSP_IMG_SRC = [SELF, "data:"]  # data: for the small SVG/PNG icons that Swagger UI and Redoc inline
_logo = urlsplit(MERCHANT_LOGO_URL)
if _logo.scheme in ("http", "https") and _logo.netloc:
    _CSP_IMG_SRC.append(f"{_logo.scheme}://{_logo.netloc}")  # the merchant's logo on the portal
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": _CSP_IMG_SRC,
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Where browsers report violations (a collector of your own, e.g. https://example.report-uri.com/r/d/csp/enforce).
# (A local name: django-csp 4 takes any CSP_* setting for one of its old settings.)
_csp_report_uri = env("CSP_REPORT_URI", default="")
if _csp_report_uri:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [_csp_report_uri]

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Niceness a Celery worker takes at start (oms/celery.py), its pool's processes with it: background work
# (turning deliveries into orders, PDFs, sending) yields the cores to the web where both share a host.
WORKER_NICE = env.int("WORKER_NICE", default=10)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 60 * 60 * 24
# Nothing reads task results (jobs keep their state in their rows): publishing then needs the broker alone,
# not a result subscription in Redis as well. A task that must answer says ignore_result=False (oms.ping).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("default", "tracking", "documents", "notifications")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Without a broker (`make run` on a laptop), a thread of the web process runs the beat schedule below
# (oms/scheduler.py); bin/serve turns it on. Ignored when a broker is configured.
BEAT_IN_PROCESS = env.bool("BEAT_IN_PROCESS", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing to a broker that is down gives up at once (common/jobs.py publishes without retries, after
# commit, and never raises): a request never hangs on Redis. What must not be lost is a row in PostgreSQL
# (a job's fields, the notification outbox) that beat queues again. The socket timeout is longer than the
# workers' 1-second BRPOP, so it only cuts a broker that stopped answering.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": REDIS_SOCKET_CONNECT_TIMEOUT,
    "socket_timeout": env.float("BROKER_SOCKET_TIMEOUT", default=5.0),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_connect_timeout": REDIS_SOCKET_CONNECT_TIMEOUT}
# Queued jobs (common/jobs.py): the message published on commit has JOBS_FIRST_WAIT_SECONDS to do the job;
# then beat's sweep (every JOBS_SWEEP_SECONDS) queues it again. A worker holds a job for JOBS_LEASE_SECONDS
# (some kinds longer, or renewed as they go): a killed worker's job is taken over after that.
JOBS_FIRST_WAIT_SECONDS = env.int("JOBS_FIRST_WAIT_SECONDS", default=60)
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", default=180)
JOBS_SWEEP_SECONDS = env.int("JOBS_SWEEP_SECONDS", default=60)
# /healthz reports "degraded" once a job has been overdue this long (broker, workers or beat not running).
JOBS_OVERDUE_WARNING_SECONDS = env.int("JOBS_OVERDUE_WARNING_SECONDS", default=600)
# Fixed schedules; the DatabaseScheduler copies them into django-celery-beat's tables, where admins can
# change or add schedules.
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "orders.purge_idempotency_keys", "schedule": 3600.0},
    "tracking-poll": {"task": "shipping.tracking_poll", "schedule": 600.0},
    "release-due-waves": {"task": "fulfillment.release_due_waves", "schedule": 300.0},
    "sync-3pl-partners": {"task": "fulfillment.sync_partners", "schedule": 300.0},
    "flag-uncollected-pickups": {"task": "orders.flag_uncollected_pickups", "schedule": 6 * 3600.0},
    # The local relay-point directory, from each carrier with relay services (pages never call carriers).
    "relay-points-refresh": {
        "task": "shipping.relay_points_refresh_all",
        "schedule": crontab(hour=3, minute=40),
    },
    "dispatch-due-notifications": {"task": "customers.dispatch_due_notifications", "schedule": 60.0},
    # The domain event log's consumers (common/eventlog.py): after-commit queueing is the fast path, this
    # sweep the safety net (broker down at commit time, a lost message, a consumer waiting to retry).
    "events-sweep": {"task": "common.events_sweep", "schedule": 30.0},
    # The event log's and the stock ledger's monthly partitions, created ahead (common/partitions.py).
    "partitions-maintain": {"task": "common.partitions_maintain", "schedule": 6 * 3600.0},
    # Every queued job whose message was lost (broker down or flushed) or whose worker died (common/jobs.py).
    "jobs-sweep": {"task": "common.jobs_sweep", "schedule": float(JOBS_SWEEP_SECONDS)},
    # Channel connectors (the channels app): PrestaShop has no webhooks; the stock push runs on every
    # availability change (debounced) and this sweep catches any push that was lost.
    "channels-prestashop-poll": {"task": "channels.prestashop_poll_all", "schedule": 120.0},
    "channels-marketplace-poll": {"task": "channels.marketplace_poll_all", "schedule": 120.0},
    "channels-stock-push-sweep": {"task": "channels.stock_push_all", "schedule": 300.0},
    "channels-fulfilment-sweep": {"task": "channels.fulfilment_sweep", "schedule": 600.0},
    "channels-purge-changes": {"task": "channels.purge_availability_changes", "schedule": 86400.0},
    # Every SKU's sales forecast, at night when nobody waits for it (reports).
    # E-invoicing: re-send what is pending too long, read the platforms' statuses, e-reporting once a day.
    "einvoicing-transmissions-sweep": {"task": "invoicing.transmissions_sweep", "schedule": 300.0},
    "einvoicing-platforms-poll": {"task": "invoicing.platforms_poll", "schedule": 900.0},
    "einvoicing-ereporting": {"task": "invoicing.ereporting_run", "schedule": crontab(hour=4, minute=10)},
    # HubSpot: a push when something waits (a lost message, a batch refused a moment ago).
    "hubspot-push-sweep": {"task": "integrations.hubspot_push_sweep", "schedule": 60.0},
    "reports-forecast-nightly": {
        "task": "orders.reports_forecast_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
}

# --- Domain event log (common/eventlog.py) -------------------------------------------------------------
EVENTS_MAX_ATTEMPTS = env.int("EVENTS_MAX_ATTEMPTS", default=6)  # then the event is parked for a manager
EVENTS_RETRY_BASE_SECONDS = env.int("EVENTS_RETRY_BASE_SECONDS", default=2)  # 2, 4, 8, 16, 32 s...

# --- Outbound webhooks and HubSpot (integrations/) -------------------------------------------------------
# Webhook URLs on private, loopback or link-local addresses are refused (no server-side request forgery)
# unless this is true: a local receiver in development.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)  # a receiver must answer by then
# Retries: base × 2^(n−1) after the n-th failure (30 s, 1 min, 2 min… 17 h); 13 attempts span ~34 hours.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=13)  # then failed, and the endpoint disabled
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)  # a killed worker's delivery is resent
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)  # sent in one batch after its own (1: none)
# Inbound: how long a web process keeps a channel's id and webhook secret (channels/selectors.py). A rotated
# secret is accepted at once (a signature the kept one refuses is checked against a fresh read); the old
# secret, a deactivated or deleted channel, stop being accepted by the other processes within this time.
WEBHOOK_SIGNER_CACHE_SECONDS = env.float("WEBHOOK_SIGNER_CACHE_SECONDS", default=10)
HUBSPOT_API_BASE = env("HUBSPOT_API_BASE", default="https://api.hubapi.com")

# --- Reports: sales forecast and reorder suggestions ----------------------------------------------------
FORECAST_HISTORY_DAYS = env.int("FORECAST_HISTORY_DAYS", default=365)  # daily sales history read
FORECAST_HORIZON_DAYS = env.int("FORECAST_HORIZON_DAYS", default=28)  # days forecast ahead
REORDER_SERVICE_LEVEL = env.float("REORDER_SERVICE_LEVEL", default=0.95)  # default of the reorder page
# Lead time (days from ordering to units on the shelf) by location kind, when the location has no
# reorder policy of its own (admin: Reorder policies): warehouses buy from suppliers, stores are
# replenished by transfers from a warehouse.
REORDER_LEAD_TIME_DAYS = {
    "warehouse": env.int("REORDER_LEAD_TIME_WAREHOUSE_DAYS", default=10),
    "store": env.int("REORDER_LEAD_TIME_STORE_DAYS", default=3),
}
REORDER_REVIEW_DAYS = env.int("REORDER_REVIEW_DAYS", default=7)  # days between two purchase lists

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.api.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS REST API",
    "DESCRIPTION": "Orders, stock, availability and delivery promises for every sales channel.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "DeliveryModeEnum": "orders.models.DeliveryMode",
        # The two above name classes whose labels differ from the API's choices, so they match nothing; the
        # order's status keeps the name it has always had in the schema now that another "status" exists.
        "StatusEnum": "orders.api.ORDER_STATUS_VALUES",
        "IncomingStockStatusEnum": ["open", "received", "cancelled"],
        "IncomingStockKindEnum": ["purchase", "transfer"],
        "HoldKindEnum": "orders.models.HoldKind",
        "GoodwillReasonEnum": "orders.models.GoodwillReason",
        "PaymentStatusEnum": "orders.models.PaymentStatus",
        "OrderChangeKindEnum": "orders.models.OrderChange.Kind",
        "PaymentTransactionKindEnum": "orders.models.PaymentTransaction.Kind",
        "PaymentTransactionStatusEnum": "orders.models.PaymentTransaction.Status",
        "PaymentInputStatusEnum": "orders.api.PaymentInputStatus",
        "ReturnMethodEnum": "returns.models.Return.Method",
        "ReturnStatusEnum": "returns.models.ReturnStatus",
    },
}

# --- Sourcing and promise (see orders/services/sourcing.py) --------------------------------------------
SOURCING_SPLIT_PENALTY = env.float("SOURCING_SPLIT_PENALTY", default=3.0)  # EUR per extra parcel
SOURCING_LATENESS_COST_PER_DAY = env.float("SOURCING_LATENESS_COST_PER_DAY", default=0.5)  # EUR per day
SOURCING_MAX_PARCELS = env.int("SOURCING_MAX_PARCELS", default=3)
# A channel connector is "late" on the Connectors page and the dashboard when its order poll, a webhook
# delivery, a stock push or a shipment report has waited longer than this (3PL partners have their own).
CONNECTOR_LATE_MINUTES = env.int("CONNECTOR_LATE_MINUTES", default=60)
SOURCING_STORAGE_DAYS = env.int("SOURCING_STORAGE_DAYS", default=30)  # storage saved = units × rate × days
PROMISE_MARGIN_DAYS = env.int("PROMISE_MARGIN_DAYS", default=1)  # latest = earliest + margin working days
# Click & collect orders waiting at the store longer than this are flagged for return to stock.
PICKUP_HOLD_DAYS = env.int("PICKUP_HOLD_DAYS", default=10)

# --- Carriers (shipping/carriers/): credentials, read by the adapters at call time -------------------------
COLISSIMO_CONTRACT_NUMBER = env("COLISSIMO_CONTRACT_NUMBER", default="")
COLISSIMO_PASSWORD = env("COLISSIMO_PASSWORD", default="")
COLISSIMO_API_KEY = env("COLISSIMO_API_KEY", default="")  # instead of contract number + password
# The SLS label service's address (Colissimo's own unless set: a test or benchmark server).
COLISSIMO_SLS_URL = env("COLISSIMO_SLS_URL", default="")
LAPOSTE_OKAPI_KEY = env("LAPOSTE_OKAPI_KEY", default="")  # Suivi v2: Colissimo and Chronopost tracking
# Suivi v2's address (a local simulation in bench/tracking.py; keep the default in production).
LAPOSTE_SUIVI_URL = env("LAPOSTE_SUIVI_URL", default="https://api.laposte.fr/suivi/v2/idships/")
MONDIAL_RELAY_ENSEIGNE = env("MONDIAL_RELAY_ENSEIGNE", default="")
MONDIAL_RELAY_PRIVATE_KEY = env("MONDIAL_RELAY_PRIVATE_KEY", default="")
MONDIAL_RELAY_COLLECTION_MODE = env(
    "MONDIAL_RELAY_COLLECTION_MODE", default="CCC"
)  # CCC pickup, REL drop-off
DHL_API_KEY = env("DHL_API_KEY", default="")
# Issue 20: more carriers. Values entered in Settings → Carriers → Accounts override these.
CHRONOPOST_ACCOUNT_NUMBER = env("CHRONOPOST_ACCOUNT_NUMBER", default="")
CHRONOPOST_PASSWORD = env("CHRONOPOST_PASSWORD", default="")
DHL_EXPRESS_API_KEY = env("DHL_EXPRESS_API_KEY", default="")  # MyDHL API (labels); tracking uses DHL_API_KEY
DHL_EXPRESS_API_SECRET = env("DHL_EXPRESS_API_SECRET", default="")
DHL_EXPRESS_ACCOUNT_NUMBER = env("DHL_EXPRESS_ACCOUNT_NUMBER", default="")
FEDEX_CLIENT_ID = env("FEDEX_CLIENT_ID", default="")
FEDEX_CLIENT_SECRET = env("FEDEX_CLIENT_SECRET", default="")
FEDEX_ACCOUNT_NUMBER = env("FEDEX_ACCOUNT_NUMBER", default="")
UPS_CLIENT_ID = env("UPS_CLIENT_ID", default="")
UPS_CLIENT_SECRET = env("UPS_CLIENT_SECRET", default="")
UPS_ACCOUNT_NUMBER = env("UPS_ACCOUNT_NUMBER", default="")  # the shipper number
DPD_FR_LOGIN = env("DPD_FR_LOGIN", default="")
DPD_FR_PASSWORD = env("DPD_FR_PASSWORD", default="")
DPD_FR_CUSTOMER_NUMBER = env("DPD_FR_CUSTOMER_NUMBER", default="")
DPD_FR_CENTER_NUMBER = env("DPD_FR_CENTER_NUMBER", default="")
DPD_FR_PUDO_KEY = env("DPD_FR_PUDO_KEY", default="")  # MyPudo: DPD Pickup points search
GLS_USERNAME = env("GLS_USERNAME", default="")
GLS_PASSWORD = env("GLS_PASSWORD", default="")
GLS_CONTACT_ID = env("GLS_CONTACT_ID", default="")
# Adapters whose calls go to the carrier's test platform (comma-separated codes, e.g. fedex,ups).
CARRIERS_TEST_MODE = env.list("CARRIERS_TEST_MODE", default=[])
# Labels: "a6" (105 × 148 mm) or "4x6" (4 × 6 in thermal printers); "pdf" or "zpl" first.
LABEL_SIZE = env("LABEL_SIZE", default="a6")
LABEL_FORMAT = env("LABEL_FORMAT", default="pdf")
# Customs declarations (CN23) of parcels to the DOM-TOM and outside the EU: the reason of export.
CUSTOMS_EXPORT_REASON = env("CUSTOMS_EXPORT_REASON", default="sale")  # sale, gift, sample, documents, other
# Sandbox carrier: share of parcels (0 to 1) that fail delivery, chosen by their tracking number's hash.
SANDBOX_CARRIER_FAILURE_RATE = env.float("SANDBOX_CARRIER_FAILURE_RATE", default=0.0)
SANDBOX_WEBHOOK_SECRET = env("SANDBOX_WEBHOOK_SECRET", default="")
# A parcel in transit without carrier news for this many days raises an alert on the dashboard.
TRACKING_NO_NEWS_DAYS = env.int("TRACKING_NO_NEWS_DAYS", default=4)
# The tracking poll (shipping/tracking.py): beat claims the parcels due, up to TRACKING_POLL_MAX a run, by
# moving their next check to the end of a lease (TRACKING_LEASE_SECONDS), and queues one task per batch of
# about TRACKING_TASK_PARCELS parcels of one carrier; a batch whose worker died is due again after the lease.
TRACKING_POLL_MAX = env.int("TRACKING_POLL_MAX", default=200_000)
TRACKING_TASK_PARCELS = env.int("TRACKING_TASK_PARCELS", default=100)
TRACKING_LEASE_SECONDS = env.int("TRACKING_LEASE_SECONDS", default=900)
# A relay point that area searches have not returned for this many days is deactivated.
RELAY_POINT_STALE_DAYS = env.int("RELAY_POINT_STALE_DAYS", default=14)

# --- E-invoicing reform (invoicing/platforms/, invoicing/services/transmission.py, ereporting.py) ---------
# Platform credentials are read here at call time (a settings form with encrypted fields comes later).
SUPERPDP_API_URL = env("SUPERPDP_API_URL", default="https://api.superpdp.tech")
SUPERPDP_CLIENT_ID = env("SUPERPDP_CLIENT_ID", default="")
SUPERPDP_CLIENT_SECRET = env("SUPERPDP_CLIENT_SECRET", default="")
# Chorus Pro (public buyers) through PISTE: the PISTE application (OAuth) and the Chorus Pro technical
# account.
CHORUS_PRO_SANDBOX = env.bool("CHORUS_PRO_SANDBOX", default=False)
CHORUS_PRO_CLIENT_ID = env("CHORUS_PRO_CLIENT_ID", default="")
CHORUS_PRO_CLIENT_SECRET = env("CHORUS_PRO_CLIENT_SECRET", default="")
CHORUS_PRO_LOGIN = env("CHORUS_PRO_LOGIN", default="")
CHORUS_PRO_PASSWORD = env("CHORUS_PRO_PASSWORD", default="")
CHORUS_PRO_SYNTAX_FACTURX = env("CHORUS_PRO_SYNTAX_FACTURX", default="")  # default IN_DP_E2_CII_FACTURX
CHORUS_PRO_SYNTAX_UBL = env("CHORUS_PRO_SYNTAX_UBL", default="")  # default IN_DP_E1_UBL_INVOICE
# Sandbox platform: down (every call fails with 503, to see the retries) and the secret of its webhooks.
SANDBOX_PA_DOWN = env.bool("SANDBOX_PA_DOWN", default=False)
SANDBOX_PA_WEBHOOK_SECRET = env("SANDBOX_PA_WEBHOOK_SECRET", default="")
# Run the EN 16931 and French CTC schematrons on every rendered document (needs saxonche).
EINVOICE_SCHEMATRON_CHECK = env.bool("EINVOICE_SCHEMATRON_CHECK", default=False)
# E-reporting: periods before this date are never generated; drafts still unsent on their deadline are sent.
EREPORTING_START = datetime.date.fromisoformat(env("EREPORTING_START", default="2026-09-01"))
EREPORTING_AUTO_SEND_ON_DEADLINE = env.bool("EREPORTING_AUTO_SEND_ON_DEADLINE", default=True)

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Payment services the OMS captures (on shipment) and refunds (for a credit note) through
# (orders/payments/providers). Orders name theirs in ``payment.provider``; "sandbox" needs no key.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
MOLLIE_API_KEY = env("MOLLIE_API_KEY", default="")
