"""The one settings module: everything that differs between machines comes from
the environment (or a local `.env` file, which `make run` writes on first use).

Secure by default: `DEBUG` is off unless asked for, and with it off a missing
`SECRET_KEY` stops start-up instead of falling back to a guessable key.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Never overrides variables already set; ENV_FILE points elsewhere (or at /dev/null).
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production mode (DEBUG off) refuses to start "
            "without one: export SECRET_KEY=<50+ random characters>, or set "
            "DEBUG=True for local development."
        )
    SECRET_KEY = "insecure-local-development-key-never-used-when-debug-is-off"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Browser front ends on other origins that may call the API (exact origins,
# e.g. https://app.example.com; none by default). The API authenticates with
# a bearer token, never a cookie, so no credentials are allowed; the headers
# a polling or streaming client sends and reads are.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "if-none-match", "if-modified-since",
                      "last-event-id", "x-request-id")
CORS_EXPOSE_HEADERS = ("etag", "last-modified", "retry-after", "x-request-id")
CORS_PREFLIGHT_MAX_AGE = 3600

# Peers allowed to tell us the client's address in X-Forwarded-For (CIDRs).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Who may read /metrics: loopback unless the operator lists the Prometheus
# servers (docs/security.md, "The metrics endpoint").
METRICS_ALLOWED_CIDRS = env.list("METRICS_ALLOWED_CIDRS", default=["127.0.0.0/8", "::1/128"])

ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"

INSTALLED_APPS = [
    "config.apps.OperatorsAdminConfig",  # django.contrib.admin, with the dashboard on its index page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "corsheaders",
    "core",
    "accounts",
    "machines",
    "signals",
    "approvals",
    "risk",
    "execution",
    "charting",
    # Before audit: its receivers lock the rollup rows a strategy shares
    # across accounts, which must come before the audit chain's lock.
    "analytics",
    # After the apps whose events it records: receivers run in the order their
    # apps are ready, so a domain receiver takes its row locks (an approval's
    # order locks the bridge) before the audit entry takes the chain's lock,
    # the same order as every bridge call. The other order deadlocked.
    "audit",
    # After audit: its receivers write each event row while the action's
    # transaction holds the audit chain's lock, so event ids are committed in
    # their order and a stream that resumes after an id misses none.
    "delivery",
    "paperbroker",
    "demo",
    # The task engine's consumer (`manage.py run_huey`) and its decorators.
    "huey.contrib.djhuey",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Before every middleware that can answer on its own, so that its answers
    # (a 404, a problem) carry the CORS headers a browser needs to read them.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ApiProblemMiddleware",
    "core.middleware.PlainNotFoundMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A strong ETag (a hash of the body) on every GET answer that has none,
    # and 304 to a matching If-None-Match: a polling client pays for an empty
    # answer while nothing changed. Streams (CSV, events) are skipped. The
    # feed answers its own validators before building its page (signals/views.py).
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.SessionActorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the
        # write lock at BEGIN, so two writers queue instead of deadlocking.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters bound by the server and statements prepared from their
        # fifth run on a connection: planning was most of PostgreSQL's work
        # per signed request. Django turns this off by default for
        # transaction-pooling PgBouncers, which keep prepared statements only
        # from 1.21 on and with `max_prepared_statements` above 0 (the default
        # from 1.24); behind any other, set this to False.
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
# The cache only ever speeds things up (charts) or limits rates; nothing that
# keeps data correct (deduplication, one decision per signal) rests on it, so
# with Redis gone it fails open after a short timeout instead of failing requests.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tp"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_SECONDS", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME_SECONDS", default=7 * 86400)),
    # What accounts/services.py does on every refresh, spending each refresh token once.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Failed logins allowed per window (API and admin alike; accounts/login_guard.py):
# per username, per client address, and to an address a user has logged in
# from within LOGIN_KNOWN_ADDRESS_DAYS (which strangers' failures do not block).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=300)
LOGIN_KNOWN_ADDRESS_DAYS = env.int("LOGIN_KNOWN_ADDRESS_DAYS", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.NewestFirstCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "core.schema.ResourceAutoSchema",
    "EXCEPTION_HANDLER": "core.problems.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="600/min"),
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "producer": env.str("THROTTLE_PRODUCER", default="600/min"),
        "bridge": env.str("THROTTLE_BRIDGE", default="600/min"),
        "decision": env.str("THROTTLE_DECISION", default="60/min"),
        "chart_link": env.str("THROTTLE_CHART_LINK", default="120/min"),
        # Alerts per producer's alert hook token (signals/authentication.py).
        "alert_hook": env.str("THROTTLE_ALERT_HOOK", default="60/min"),
        # Refused signed requests per client address (machines/authentication.py).
        "signature_failure": env.str("THROTTLE_SIGNATURE_FAILURE", default="30/min"),
    },
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.UserThrottle",
        "core.throttling.AnonThrottle",
    ],
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Trade platform API",
    "DESCRIPTION": (
        "Strategy engines post HMAC-signed trade signals and market data; people log in with JWTs to "
        "approve or reject the signals of their feed, read the tamper-evident audit log (staff) and fetch "
        "server-rendered charts, also by signed link. Errors are RFC 9457 problem+json documents."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ReconciliationStatusEnum": "execution.models.ReconciliationRun.Status",
        "SignalStatusEnum": "signals.models.Signal.Status",
        "EventTypeEnum": "delivery.models.EventType",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "delivery.schema.document_event_stream",
        "core.schema.document_problem_responses",
    ],
}

# --- Request limits -----------------------------------------------------------
# Default cap on an API request body; a view may lower or raise it with a
# `max_body_bytes` attribute. Django's own cap is the backstop for everything.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# Deepest nesting of arrays/objects a JSON body may have (core/parsers.py).
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

# --- Domain settings ----------------------------------------------------------
PROBLEM_TYPE_BASE = env.str("PROBLEM_TYPE_BASE", default="https://tradeplatform.example/problems/")
# Paths whose every error answer is a problem+json document (docs/api.md#errors).
PROBLEM_PATH_PREFIXES = ("/api/", "/charts/", "/hooks/", "/healthz", "/readyz", "/metrics")
# Paths that carry a secret (an alert hook's token): logged without it (core/logging.py).
SECRET_PATH_PREFIXES = ("/hooks/alerts/",)
SIGNATURE_TOLERANCE_SECONDS = 300
SIGNAL_LIFETIME_SECONDS = env.int("SIGNAL_LIFETIME_SECONDS", default=900)
# How long each worker process keeps the instrument whitelist, producers'
# credentials and JWT users (core/worker_cache.py): an operator's
# disable, rotation or deactivation reaches every worker within this many
# seconds. 0 turns it off.
WORKER_CACHE_SECONDS = env.float("WORKER_CACHE_SECONDS", default=2)
# The deployed code's name (the commit, say; the image is built with it):
# answers a client may keep by their validators name it, so a release that
# writes a resource differently is never answered "304 Not Modified" for
# a copy an older release wrote (the feed's ETag, signals/views.py).
RELEASE = env.str("RELEASE", default="")
# Fernet keys (urlsafe base64, 32 bytes) that encrypt producer secrets at rest;
# the first encrypts, all decrypt, so a new key is put first to rotate.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG and not env.bool("ALLOW_DERIVED_ENCRYPTION_KEY", default=False):
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is not set. Production mode refuses to start without a "
        "key for producer secrets: generate one with `python -c \"from cryptography.fernet "
        "import Fernet; print(Fernet.generate_key().decode())\"`."
    )
CHART_MAX_BYTES = env.int("CHART_MAX_BYTES", default=5_000_000)
# Execution: an account whose newest snapshot is older than this is stale, and
# new orders are denied `account-stale`.
ACCOUNT_STALE_SECONDS = env.int("ACCOUNT_STALE_SECONDS", default=300)
# How often bridges poll and report: reconciliation does not yet expect at the
# broker what an order sent within the last two intervals opens.
BRIDGE_POLL_INTERVAL_SECONDS = env.int("BRIDGE_POLL_INTERVAL_SECONDS", default=5)
# Risk: the market hours of an instrument the console gives none: `fx` (FX and
# metals: closed Friday 17:00 to Sunday 17:00 New York time) or `always`.
MARKET_HOURS_DEFAULT = env.str("MARKET_HOURS_DEFAULT", default="fx")
# Performance analytics: the daily returns per year that annualize them, and
# the risk-free rate (a yearly fraction: 0.04 is 4 %) that Sharpe and
# Sortino measure against.
ANALYTICS_PERIODS_PER_YEAR = env.int("ANALYTICS_PERIODS_PER_YEAR", default=252)
ANALYTICS_RISK_FREE_RATE = env.float("ANALYTICS_RISK_FREE_RATE", default=0.0)
if ANALYTICS_PERIODS_PER_YEAR < 1:
    raise ImproperlyConfigured("ANALYTICS_PERIODS_PER_YEAR must be at least 1.")
if MARKET_HOURS_DEFAULT not in ("fx", "always"):
    raise ImproperlyConfigured(f"MARKET_HOURS_DEFAULT must be fx or always, not {MARKET_HOURS_DEFAULT!r}.")

# --- Push delivery: webhooks and the event stream ---------------------------------
# Networks webhooks may reach although they are not public unicast (CIDRs;
# none by default: loopback, private, link-local, multicast and reserved
# addresses are refused, delivery/addresses.py).
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# One attempt's time limit, connecting and answering included.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Attempts in flight to one endpoint at a time, over every task consumer.
WEBHOOK_MAX_IN_FLIGHT = env.int("WEBHOOK_MAX_IN_FLIGHT", default=4)
# An endpoint whose every attempt failed for this long is disabled (its owner sees why).
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=3 * 86400)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)  # per user
# Events (and their deliveries) older than this are deleted by the task consumer every hour.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=7)
# The event stream (delivery/stream.py): how often each ASGI process reads
# new events, the heartbeat of an idle stream, and streams open per user per process.
EVENT_STREAM_POLL_SECONDS = env.float("EVENT_STREAM_POLL_SECONDS", default=0.25)
EVENT_STREAM_HEARTBEAT_SECONDS = env.float("EVENT_STREAM_HEARTBEAT_SECONDS", default=15)
EVENT_STREAM_MAX_PER_USER = env.int("EVENT_STREAM_MAX_PER_USER", default=5)

# --- Task engine ----------------------------------------------------------------
# Periodic jobs (expiring signals and orders every minute) run in the Huey
# consumer, `python manage.py run_huey`, beside the web workers: its queue
# lives in Redis when there is one, else in a SQLite file of its own. Tasks
# run in the consumer, never inline (not even with DEBUG on).
if REDIS_URL:
    HUEY = {"huey_class": "huey.RedisHuey", "name": "tradeplatform", "immediate": False,
            "connection": {"url": REDIS_URL}}
else:
    HUEY = {"huey_class": "huey.SqliteHuey", "name": "tradeplatform", "immediate": False,
            "filename": str(BASE_DIR / ".huey.sqlite3")}

# --- Internationalisation, static files -----------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# Date-times read "2026-12-01 07:04:05 UTC" in the console (core/display.py).
FORMAT_MODULE_PATH = ["core.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (all on unless DEBUG) ---------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The access log line comes from our middleware; Django's own request
        # logger would print a second, unstructured line for 4xx/5xx.
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
        # The task engine's consumer adds a plain-text handler of its own to a
        # logger that has none: give it ours, so each line is logged once, as JSON.
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
