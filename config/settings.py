"""Tessera settings, read from the environment.

Embedded defaults suit a laptop: SQLite in WAL mode, the in-memory channel
layer, emails printed to the console and secrets generated on first run into
an untracked file. DEBUG is off unless a developer turns it on, so an error
page never shows a traceback or settings to the network. A deployment (an
``https://`` SITE_URL) fails closed: every secret must be given, and the
HTTPS protections of ``check --deploy`` are on.
"""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
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
from oidc.settings import oidc_settings  # noqa: E402 - no Django import in it

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("TESSERA_DATA_DIR", str(BASE_DIR / "var")))

# An explicit developer choice; never the default (see the module docstring).
DEBUG = envbool("DEBUG", False)

# The address users open. bin/run records the one it serves in the data dir,
# so manage.py commands (assign_token's links) use the same; localhost, not
# 127.0.0.1, because WebAuthn needs a domain and the QR code must match.
_site_file = DATA_DIR / "site_url"
SITE_URL = envstr(
    "SITE_URL",
    _site_file.read_text().strip() if _site_file.exists() else "http://localhost:8000",
).rstrip("/")
_site = urlparse(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.hostname:
    raise ImproperlyConfigured("SITE_URL must be an http:// or https:// URL")
# Plain http is for development (localhost, a LAN test); https is a deployment.
HTTPS = _site.scheme == "https"

# Web Push (PROTOCOL §6): on unless a deployment cannot reach push services.
TESSERA_WEBPUSH = envbool("TESSERA_WEBPUSH", True)

_given = {
    "secret_key": envstr("DJANGO_SECRET_KEY"),
    "seed_keys": envstr("TESSERA_SEED_KEYS"),
    "pin_key": envstr("TESSERA_PIN_KEY"),
}
_optional = {
    "vapid_private_key": envstr("TESSERA_VAPID_PRIVATE_KEY"),
    "oidc_rsa_private_key": envstr("TESSERA_OIDC_PRIVATE_KEY"),
}
if HTTPS:
    missing = [
        name
        for name, key in (
            ("DJANGO_SECRET_KEY", "secret_key"),
            ("TESSERA_SEED_KEYS", "seed_keys"),
            ("TESSERA_PIN_KEY", "pin_key"),
        )
        if not _given[key]
    ]
    if TESSERA_WEBPUSH and not _optional["vapid_private_key"]:
        missing.append("TESSERA_VAPID_PRIVATE_KEY (or TESSERA_WEBPUSH=off)")
    if missing:
        raise ImproperlyConfigured(
            "SITE_URL is https (a deployment) and these secrets are not set: "
            + ", ".join(missing)
        )
    _local = {}
elif all(_given.values()) and (_optional["vapid_private_key"] or not TESSERA_WEBPUSH):
    _local = {}
else:
    _local = local_secrets(DATA_DIR / "secrets.json")

SECRET_KEY = _given["secret_key"] or _local.get("secret_key", "")
TESSERA_SEED_KEYS = parse_seed_keys(_given["seed_keys"] or _local.get("seed_keys", ""))
TESSERA_PIN_KEY = (_given["pin_key"] or _local.get("pin_key", "")).encode()
# b64u of the 32-byte P-256 private key (or a PEM) that signs VAPID JWTs.
TESSERA_VAPID_PRIVATE_KEY = _optional["vapid_private_key"] or _local.get(
    "vapid_private_key", ""
)
# The OpenID Connect signing key (RSA, PEM; ``_FILE`` in a deployment);
# without one on an https site, OpenID Connect is off (it fails closed).
TESSERA_OIDC_PRIVATE_KEY = _optional["oidc_rsa_private_key"] or _local.get(
    "oidc_rsa_private_key", ""
)
if len(SECRET_KEY) < 50 or len(TESSERA_PIN_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY / TESSERA_PIN_KEY too short")

_site_host = _site.hostname
ALLOWED_HOSTS = envlist(
    "ALLOWED_HOSTS", [_site_host, "localhost", "127.0.0.1", "[::1]"]
)
# Proxies whose X-Forwarded-For is believed (addresses or networks). Empty:
# the peer's address is the client's, whatever headers say.
TESSERA_TRUSTED_PROXIES = envlist("TESSERA_TRUSTED_PROXIES", [])
# The deployment's name, shown beside every token in the app and the portal.
TESSERA_ISSUER = envstr("TESSERA_ISSUER", "Tessera")[:40]
for _proxy in TESSERA_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"TESSERA_TRUSTED_PROXIES: {_proxy!r} is not an address or network"
        ) from exc
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "daphne",
    "config.apps.TesseraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_static",  # backup codes (tokens.services.backup)
    "tokens",
    "portal",
    "pwa",
    "radius",
    "directory",
    "oauth2_provider",
    "oidc",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.trusted.DeviceCookieMiddleware",
    "portal.unavailable.UnavailableMiddleware",
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
            "BACKEND": "config.layers.RedisLayer",
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
# Static files are served from the finders (no collectstatic step), so there
# is no STATIC_ROOT for WhiteNoise to warn about on a first run.
STATIC_ROOT = None
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
# How long a login lasts (the session cookie's age).
SESSION_COOKIE_AGE = envint("TESSERA_SESSION_HOURS", 12) * 3600
# Larger bodies are refused (413) by the server before they are read.
TESSERA_MAX_BODY_BYTES = envint("TESSERA_MAX_BODY_BYTES", 1024 * 1024)

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
        "tokens.api.schema.tidy_request_bodies",
    ],
}

# Push services a subscription's endpoint may point at (host equal to, or a
# subdomain of, one of these): the server never sends to an address a device
# chose. Chrome/Android, Firefox, Safari/iOS, Edge.
TESSERA_WEBPUSH_HOSTS = envlist(
    "TESSERA_WEBPUSH_HOSTS",
    [
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
)
# Users from a directory (LDAP / Active Directory), next to Django's own: set
# TESSERA_LDAP_URL to turn it on (the README's "Users from a directory").
TESSERA_LDAP_URL = envstr("TESSERA_LDAP_URL")
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if TESSERA_LDAP_URL:
    from directory.settings import ldap_settings  # noqa: E402

    globals().update(ldap_settings(TESSERA_LDAP_URL))
    AUTHENTICATION_BACKENDS = [
        "directory.backend.DirectoryBackend",
        *AUTHENTICATION_BACKENDS,
    ]

# OpenID Connect (django-oauth-toolkit): Tessera signs in web applications.
OAUTH2_PROVIDER = oidc_settings(
    site_url=SITE_URL,
    private_key=TESSERA_OIDC_PRIVATE_KEY,
    old_keys_file=envstr("TESSERA_OIDC_OLD_KEYS_FILE"),
    https=HTTPS,
)

# RADIUS (UDP) beside the web server: host:port, or "off".
TESSERA_RADIUS_ADDRESS = envstr("TESSERA_RADIUS_ADDRESS") or "127.0.0.1:1812"
# How long a process trusts its list of RADIUS clients (seconds).
TESSERA_RADIUS_CLIENT_CACHE_SECONDS = envint("TESSERA_RADIUS_CLIENT_CACHE_SECONDS", 5)
# Password checks per address in five minutes, whatever usernames it types.
TESSERA_LOGIN_IP_LIMIT = envint("TESSERA_LOGIN_IP_LIMIT", 20)
# Password checks per minute for all browsers that never logged in, together
# (each costs a deliberately slow hash); browsers that did are not counted.
TESSERA_UNTRUSTED_LOGINS_PER_MINUTE = envint("TESSERA_UNTRUSTED_LOGINS_PER_MINUTE", 120)
# Allowed push-service hosts that may resolve to private, loopback or other
# non-public addresses (an internal relay, a test receiver); none by default.
TESSERA_WEBPUSH_PRIVATE_HOSTS = envlist("TESSERA_WEBPUSH_PRIVATE_HOSTS", [])
# The VAPID ``sub`` claim: how a push service reaches the operator.
TESSERA_WEBPUSH_CONTACT = envstr("TESSERA_WEBPUSH_CONTACT") or (
    "mailto:" + parseaddr(DEFAULT_FROM_EMAIL)[1]
)
TESSERA_WEBPUSH_TIMEOUT = envint("TESSERA_WEBPUSH_TIMEOUT", 5)  # seconds

# The audit log's retention for `manage.py audit_archive` (days; unset: the
# command needs --older-than).
_retention = envstr("TESSERA_AUDIT_RETENTION_DAYS")
TESSERA_AUDIT_RETENTION_DAYS = int(_retention) if _retention else None

# Device sockets: closed when no token authenticates within this many seconds;
# at most this many open from one client address (per process).
TESSERA_WS_AUTH_SECONDS = envint("TESSERA_WS_AUTH_SECONDS", 10)
TESSERA_WS_PER_ADDRESS = envint("TESSERA_WS_PER_ADDRESS", 50)

# A bare websocket echo at /ws/echo/, the baseline of bench/push.py.
TESSERA_WS_ECHO = envbool("TESSERA_WS_ECHO", False)

OTP_HOTP_LOOKAHEAD = 10  # event-based tokens: codes ahead of the counter accepted

if HTTPS:
    if TESSERA_TRUSTED_PROXIES:
        # Believed only because the proxy is: see TESSERA_TRUSTED_PROXIES.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# A strict Content-Security-Policy on every page (portal, app, admin, API
# docs): scripts and styles from this origin only, no inline script, no eval,
# no framing. Sockets: 'self' covers ws(s) to this host in CSP 3; the
# SITE_URL's socket origin is listed too for browsers that predate it.
_ws_origin = ("wss://" if HTTPS else "ws://") + _site.netloc
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", _ws_origin],
        "font-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
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
