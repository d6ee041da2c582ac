"""Small typed readers for settings that come from the environment.

Every secret may also come from a file named by ``NAME_FILE`` (Docker and
systemd credentials), so that it never has to sit in the process environment.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer") from exc


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_url(url: str, sqlite_path: Path) -> dict:
    """A Django DATABASES entry for ``url``, in dj-database-url's forms
    (``postgres://user:pass@host:5432/db?sslmode=require``, ``sqlite:///path``),
    or the embedded SQLite file when ``url`` is empty."""
    if not url:
        return _sqlite(
            {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_path)}
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return _sqlite(config)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be postgres:// or sqlite://")
    # Parameters bound by the server, and a statement a connection has run
    # five times prepared (psycopg's prepare_threshold, which Django turns
    # off unless asked): PostgreSQL then parses and plans a validation's few
    # statements once per connection, not once per request.
    # TESSERA_PG_PREPARE=off behind a pooler that cannot keep prepared
    # statements (PgBouncer in transaction mode before 1.21). With it on, one
    # statement takes at most 65,535 parameters: bulk writes need batch_size.
    if envbool("TESSERA_PG_PREPARE", True):
        prepared = {"server_side_binding": True, "prepare_threshold": 5}
        config["OPTIONS"] = {**prepared, **config.get("OPTIONS", {})}
    # Django's backend, with a health check that needs no round trip.
    config["ENGINE"] = "config.postgresql"
    return config


def _sqlite(config: dict) -> dict:
    return {
        **config,
        # Kept per worker thread (config.handlers closes stale ones), so
        # the PRAGMAs below run once per thread, not once per request.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {
            # WAL lets readers run beside the single writer; IMMEDIATE
            # takes the write lock at BEGIN so concurrent writers queue
            # instead of failing with "database is locked" mid-transaction.
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            **config.get("OPTIONS", {}),
        },
    }


def parse_seed_keys(value: str) -> dict[str, bytes]:
    """Parse ``kid:base64key,kid2:base64key`` (the first id is current)."""
    keys: dict[str, bytes] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, b64 = item.partition(":")
        if not sep or not kid.isalnum():
            raise ImproperlyConfigured("TESSERA_SEED_KEYS must be kid:base64,...")
        key = base64.b64decode(b64 + "=" * (-len(b64) % 4))
        if len(key) != 32:
            raise ImproperlyConfigured(f"seed key {kid} must be 32 bytes")
        keys[kid] = key
    return keys


def _new_vapid_key() -> str:
    """A P-256 private key as Web Push tools write it: b64u of 32 raw bytes."""
    from cryptography.hazmat.primitives.asymmetric import ec

    value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")


def _new_rsa_key() -> str:
    """The OpenID Connect signing key (RS256): an RSA private key in PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


_GENERATORS = {
    "secret_key": lambda: secrets.token_urlsafe(50),
    "seed_keys": lambda: "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "pin_key": lambda: secrets.token_urlsafe(32),
    "vapid_private_key": _new_vapid_key,
    "oidc_rsa_private_key": _new_rsa_key,
}


def local_secrets(path: Path) -> dict:
    """Load, or create on first run, the untracked file of generated secrets.

    Only used for an ``http://`` SITE_URL (a laptop, a LAN test); a deployment
    fails closed instead. A file from an older version gains the secrets it
    lacks (the VAPID key, say); those it has are never replaced.
    """
    data = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in _GENERATORS.items() if name not in data}
    if not missing:
        return data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**missing, **data}, fh)
    try:
        if data:
            os.replace(tmp, path)  # an upgrade: the old values are kept
        else:
            os.link(tmp, path)  # atomic: a concurrent first run keeps one winner
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return json.loads(path.read_text())
