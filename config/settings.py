"""Tessera settings, read from the environment.

Embedded defaults (DEBUG on) suit a laptop: SQLite in WAL mode, the in-memory
channel layer, emails printed to the console and secrets generated on first run
into an untracked file. With DEBUG off the settings fail closed: every secret
must be given, and the HTTPS protections of ``check --deploy`` are on.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    envbool,
    envint,
    envlist,
    envstr,
    local_secrets,
    parse_seed_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("TESSERA_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", True)

if DEBUG:
    _local = local_secrets(DATA_DIR / "secrets.json")
else:
    _local = {}

SECRET_KEY = envstr("DJANGO_SECRET_KEY") or _local.get("secret_key", "")
TESSERA_SEED_KEYS = parse_seed_keys(
    envstr("TESSERA_SEED_KEYS") or _local.get("seed_keys", "")
)
TESSERA_PIN_KEY = (envstr("TESSERA_PIN_KEY") or _local.get("pin_key", "")).encode()

if not DEBUG:
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", SECRET_KEY),
            ("TESSERA_SEED_KEYS", TESSERA_SEED_KEYS),
            ("TESSERA_PIN_KEY", TESSERA_PIN_KEY),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            "DEBUG is off and these secrets are not set: " + ", ".join(missing)
        )
    if len(SECRET_KEY) < 50 or len(TESSERA_PIN_KEY) < 32:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY / TESSERA_PIN_KEY too short")

SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site_host = urlparse(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = envlist(
    "ALLOWED_HOSTS", [_site_host, "localhost", "127.0.0.1", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "tokens",
    "portal",
    "pwa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
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

DATABASES = {
    "default": database_from_url(envstr("DATABASE_URL"), DATA_DIR / "tessera.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 reads with a 5 s timeout by default, the
                        # very time channels_redis blocks in BZPOPMIN: every
                        # idle socket died with 1011 (channels_redis #422).
                        # Longer than any blocking call, still finite.
                        "socket_timeout": 30,
                    }
                ]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "config.layers.EmbeddedChannelLayer"}}

# Form throttles and the API-key cache live here: with several processes
# (REDIS_URL) they must be shared, or each process would allow its own quota.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = envbool("WHITENOISE_AUTOREFRESH", False)

LOGIN_URL = "portal:login"

# Email, under Django's own names. The console backend is the embedded default.
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "config.mail.StderrConsoleBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Tessera <tessera@localhost>")

# Bodies are small JSON documents; anything larger is refused with a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 64 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tokens.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "device": envstr("TESSERA_DEVICE_THROTTLE", "30/minute"),
        "device-poll": envstr("TESSERA_DEVICE_POLL_THROTTLE", "120/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera API",
    "DESCRIPTION": (
        "Relying-party authentication (validate a passcode, push) and the "
        "device protocol of Tessera authenticators."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: no CDN, works on a closed network.
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tokens.api.schema.add_async_paths",
    ],
}

# A bare websocket echo at /ws/echo/, the baseline of bench/push.py.
TESSERA_WS_ECHO = envbool("TESSERA_WS_ECHO", False)

OTP_HOTP_LOOKAHEAD = 10  # event-based tokens: codes ahead of the counter accepted

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines carry no secrets (activation codes travel in URL
        # fragments or bodies), but keep the noise level down.
        "django.server": {"level": "WARNING"},
    },
}
