"""Test settings: the embedded defaults plus test-only overrides."""

import hashlib
import os
import tempfile
from pathlib import Path

# One data dir per checkout, so two checkouts' suites never share a database.
_checkout = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[
    :10
]
os.environ.setdefault(
    "TESSERA_DATA_DIR",
    str(Path(tempfile.gettempdir()) / f"tessera-test-{os.getuid()}-{_checkout}"),
)

from config.settings import *  # noqa: E402,F403
from config.settings import DATA_DIR, DATABASES, REST_FRAMEWORK  # noqa: E402

# locmem here; the live server of the browser tests writes files instead.
EMAIL_BACKEND = os.environ.get(
    "TESSERA_TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A live server that must hash passwords as production does (slowly).
if os.environ.get("TESSERA_TEST_REAL_HASHERS"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
# A file, not :memory:, so a live server in another process sees the same data.
# (On PostgreSQL, DATABASE_URL in bin/test, the test database is Django's own
# test_<name>, which a live server reaches the same way.)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "device": "10000/minute",
    "device-poll": "10000/minute",
}
WHITENOISE_AUTOREFRESH = True
# Live servers of the tests listen for RADIUS only where a test asks.
TESSERA_RADIUS_ADDRESS = os.environ.get("TESSERA_RADIUS_ADDRESS", "off")

# A live server started by the browser tests runs these settings against the
# test database the test process created.
if os.environ.get("TESSERA_TEST_SERVER_DB"):
    DATABASES["default"]["NAME"] = os.environ["TESSERA_TEST_SERVER_DB"]

# Its cache is a directory the browser tests empty before each test, so form
# throttles (10 logins per 5 minutes) do not carry from one test to the next.
if os.environ.get("TESSERA_TEST_SERVER_CACHE"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ["TESSERA_TEST_SERVER_CACHE"],
        }
    }
