"""Switchboard's one settings module. Every knob is an environment variable (see README)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
PRODUCTION = env_bool("PRODUCTION", default=False)
SECRET_KEY = env_str("SECRET_KEY") or ("" if PRODUCTION else "insecure-switchboard-development-key")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set SECRET_KEY: PRODUCTION is on and no secret key was given.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "apps.accounts",
    "apps.audit",
    "apps.agents",
    "apps.experiments",
    "apps.calls",
    "apps.assignments",
    "apps.results",
    "apps.judging",
    "apps.reviews",
    "apps.outbox",
    "apps.metrics",
    "apps.rehearsals",
    "apps.demo",  # last: it imports every app above
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "config.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # With DEBUG on, the site's 404 and 500 pages instead of Django's debug pages; after
    # CommonMiddleware (slash redirects) and what the pages' menu reads (user, messages).
    "config.middleware.SitePagesWhenDebugMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.accounts.context_processors.role",
            ],
        },
    },
]

# Embedded default: SQLite, so `make run` works with nothing installed. Tests and production
# set DATABASE_URL to PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Every wait on PostgreSQL is bounded, so a hung server is an error in seconds: the
    # backend (config/postgres) bounds connecting and notices a server that stops answering
    # (no answer for DATABASE_HANG_CHECK_SECONDS, and none to a new connection either);
    # statement_timeout bounds a query the server is merely slow on.
    DATABASES["default"]["ENGINE"] = "config.postgres"
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": env_float("DATABASE_CONNECT_TIMEOUT", 1.5),
        "hang_check_after": env_float("DATABASE_HANG_CHECK_SECONDS", 1.0),
        "options": f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT', 30) * 1000}",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "agents:list"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "switchboard",
            # A Redis that hangs must not hang a request: give up quickly, work without it.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery on Redis; without REDIS_URL tasks run in-process (the embedded default).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken but not acknowledged (its worker was killed, its host lost) goes back to the
# queue after this many seconds. It must exceed the longest task and the longest retry
# countdown (those are capped below it), or a task still running is delivered twice; shorter
# means less waiting after a crash. Ten minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
    # Running workers look for such messages every 10 s (kombu's default is 10 s x 10).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    # Every wait on Redis is bounded (above the 1 s blocking pop the worker uses).
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "retry_on_timeout": False,
    "health_check_interval": 10,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A worker that loses Redis stops what it runs: the unacknowledged message is delivered
# again, rather than the task finishing and its ack going nowhere.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TIMEZONE = "UTC"
OUTBOX_DRAIN_SECONDS = env_float("OUTBOX_DRAIN_SECONDS", 5.0)
CELERY_BEAT_SCHEDULE = {
    "refresh-results": {"task": "results.refresh_running", "schedule": 60.0},
    "optimize-traffic": {"task": "results.optimize", "schedule": 3600.0},
    "prune-results": {"task": "results.prune_snapshots", "schedule": 3600.0},
    # KPI digests: each agent's own (hourly or daily at DIGEST_HOUR), claimed once per period.
    "send-digests": {"task": "results.send_digests", "schedule": 3600.0},
    # Rehearsals' nightly health check: each agent's current prompt, claimed once per night.
    "rehearsal-nightlies": {"task": "rehearsals.nightlies", "schedule": 3600.0},
    "drain-outbox": {
        "task": "outbox.drain",
        "schedule": OUTBOX_DRAIN_SECONDS,
        "options": {"expires": OUTBOX_DRAIN_SECONDS * 2},
    },
}
# Workers' queries may aggregate a million calls: their own statement timeout (seconds).
DATABASE_WORKER_STATEMENT_TIMEOUT = env_int("DATABASE_WORKER_STATEMENT_TIMEOUT", 600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic`, which production images run.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.authentication.AdminKey"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "Routers ask which prompt a caller gets (`POST /api/v1/assignments`) and report each "
        "call afterwards (`POST /api/v1/calls`); automation manages agents and experiments. "
        "Every request carries `Authorization: Bearer <key>`: router keys may assign and "
        'report, admin keys may also manage. Errors are `{"error": "...", '
        '"details": ...}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "OAS_VERSION": "3.1.0",  # the call report schema comes from pydantic (JSON Schema 2020-12)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.calls_accept_a_list",
        "config.api.document_errors",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# The router's hot path: how often each process checks for changes, and writes exposures.
ASSIGNMENTS_REFRESH_SECONDS = float(env_str("ASSIGNMENTS_REFRESH_SECONDS", "1"))
ASSIGNMENTS_FLUSH_SECONDS = float(env_str("ASSIGNMENTS_FLUSH_SECONDS", "5"))
# Call reports may be large (1,000 calls with transcripts); anything bigger is refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Transport. PRODUCTION turns every one of these on; each can be overridden (see README).
BEHIND_PROXY = env_bool("BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Health checks come over plain HTTP from inside the network; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)  # hard to undo: opt in
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A strict policy in every mode, so the browser tests see what production browsers see: scripts
# and styles only from our own static files (no inline code, no eval), nothing framed or posted
# elsewhere. htmx is told not to inject its indicator <style> (see templates/base.html).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Login throttling (django-axes). The lockout is decided by AxesStandaloneBackend, first in the
# list, before ModelBackend hashes anything: a locked-out attempt costs two indexed queries, not
# a PBKDF2 run. Failures are counted per account and, separately, per address, so both floods
# are stopped: many passwords for one person, and many people from one address. The counts
# live in PostgreSQL (the database handler): logging in needs the database anyway, so this adds
# no dependency (Redis may be down), every web process and replica shares them, and the
# attempts are visible in the admin and cleared with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
# Attempts made while locked out neither extend the lockout nor write a row: the page can say
# when to try again, and a flood against a locked account costs only the lookup.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
# Behind the proxy the client is the address the proxy appended to X-Forwarded-For; without
# one, that header is the client's own word and only REMOTE_ADDR counts.
AXES_CLIENT_IP_CALLABLE = "config.lockout.client_address"
AXES_USERNAME_CALLABLE = "config.lockout.username_of"
AXES_VERBOSE = False

# The LLM judge of custom goals: any OpenAI-compatible chat-completions endpoint.
JUDGE_BASE_URL = env_str("JUDGE_BASE_URL")  # e.g. https://api.openai.com/v1
JUDGE_MODEL = env_str("JUDGE_MODEL")
JUDGE_API_KEY = env_str("JUDGE_API_KEY")
JUDGE_TIMEOUT_SECONDS = float(env_str("JUDGE_TIMEOUT_SECONDS", "30"))

# Rehearsals (apps/rehearsals): simulated calls on an OpenAI-compatible endpoint, the judge's
# by default. Prices turn reported tokens into the cost a run's cap is measured against.
SIMULATION_BASE_URL = env_str("SIMULATION_BASE_URL") or JUDGE_BASE_URL
SIMULATION_MODEL = env_str("SIMULATION_MODEL") or JUDGE_MODEL
SIMULATION_API_KEY = env_str("SIMULATION_API_KEY") or JUDGE_API_KEY
SIMULATION_TIMEOUT_SECONDS = env_float("SIMULATION_TIMEOUT_SECONDS", JUDGE_TIMEOUT_SECONDS)
SIMULATION_CALLER_MODEL = env_str("SIMULATION_CALLER_MODEL") or SIMULATION_MODEL
SIMULATION_CONCURRENCY = env_int("SIMULATION_CONCURRENCY", 4)
SIMULATION_SLOT_WAIT_SECONDS = env_float("SIMULATION_SLOT_WAIT_SECONDS", 120.0)
SIMULATION_COST_CAP_USD = env_float("SIMULATION_COST_CAP_USD", 5.0)
SIMULATION_USD_PER_MILLION_INPUT_TOKENS = env_float("SIMULATION_USD_PER_MILLION_INPUT_TOKENS", 0.15)
SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS = env_float(
    "SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS", 0.60
)
# A request rate-limited or unavailable is tried again: this many tries in all, none
# starting later than this many seconds after the first.
SIMULATION_RETRIES = env_int("SIMULATION_RETRIES", 3)
SIMULATION_RETRY_SECONDS = env_float("SIMULATION_RETRY_SECONDS", 30.0)
if not 1 <= SIMULATION_RETRIES <= 10:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"SIMULATION_RETRIES must be 1-10, not {SIMULATION_RETRIES}.")
# The nightly health check: from this hour (0-23, in TIME_ZONE), each scenario played N times.
NIGHTLY_HOUR = env_int("NIGHTLY_HOUR", 2)
NIGHTLY_PLAYS = env_int("NIGHTLY_PLAYS", 3)
if not 0 <= NIGHTLY_HOUR <= 23 or not 1 <= NIGHTLY_PLAYS <= 20:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("NIGHTLY_HOUR must be 0-23 and NIGHTLY_PLAYS 1-20.")

# Where a guardrail's automatic pause is announced (Slack-compatible incoming webhook).
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
ALERT_EMAILS = env_list("ALERT_EMAILS")
# Results are stored every minute per running experiment; older ones than this (hours) are
# deleted hourly, but never an experiment's latest or its frozen result (nothing reads others).
RESULT_SNAPSHOTS_KEEP_HOURS = env_int("RESULT_SNAPSHOTS_KEEP_HOURS", 24)
if RESULT_SNAPSHOTS_KEEP_HOURS < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "RESULT_SNAPSHOTS_KEEP_HOURS must be a whole number of hours, 1 or more, not "
        f"{RESULT_SNAPSHOTS_KEEP_HOURS}."
    )
# The hour (0-23, in TIME_ZONE) from which agents on a daily digest get theirs.
DIGEST_HOUR = env_int("DIGEST_HOUR", 8)
if not 0 <= DIGEST_HOUR <= 23:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DIGEST_HOUR must be an hour from 0 to 23, not {DIGEST_HOUR}.")

# Django 6.1's MAILERS, from the same EMAIL_* variables. No EMAIL_HOST: no mailer, no email
# (and no warning about the missing "default" mailer: that is a supported setup).
MAILERS = (
    {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env_str("EMAIL_HOST"),
                "port": env_int("EMAIL_PORT", 587),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", default=True),
                "timeout": 10,  # a hung mail server must not hold an alert task forever
            },
        }
    }
    if env_str("EMAIL_HOST")
    else {}
)
SILENCED_SYSTEM_CHECKS = [] if MAILERS else ["mail.W001"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "switchboard@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
