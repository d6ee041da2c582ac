"""Relying-application keys: shown once, stored as SHA-256 digests.

Keys carry 256 random bits, so a fast digest is as safe as a slow one and
keeps every API call cheap.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tokens import crypto
from tokens.models import ApiClient
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError

KEY_PREFIX = "tsk_"


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def api_client_create(*, name: str, actor: str) -> tuple[ApiClient, str]:
    """Create a client; return it and its key (the only time it is shown)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ServiceError(
            "invalid_name", "An API client needs a name of 1–80 characters."
        )
    if ApiClient.objects.filter(name=name).exists():
        raise ServiceError("duplicate", f"An API client named {name!r} exists already.")
    key = _new_key()
    client = ApiClient.objects.create(
        name=name, key_prefix=key[:10], key_digest=crypto.sha256_hex(key.encode())
    )
    audit_record(action="apiclient.create", outcome="success", actor=actor, client=name)
    return client, key


@transaction.atomic
def api_client_rotate_key(*, client: ApiClient, actor: str) -> str:
    key = _new_key()
    client.key_prefix = key[:10]
    client.key_digest = crypto.sha256_hex(key.encode())
    client.save(update_fields=["key_prefix", "key_digest"])
    _cache.clear()
    audit_record(
        action="apiclient.rotate", outcome="success", actor=actor, client=client.name
    )
    return key


# digest -> (monotonic expiry, client). Valid keys only; a deactivated or
# rotated key keeps working on a process for at most CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, ApiClient]] = {}


def _digest(key) -> str | None:
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    return crypto.sha256_hex(key.encode())


def _remembered(digest: str | None) -> ApiClient | None:
    cached = _cache.get(digest) if digest else None
    return cached[1] if cached and cached[0] > time.monotonic() else None


def api_client_remembered(key: str) -> ApiClient | None:
    """The client this key authenticated on this process within the last
    ``CACHE_SECONDS``, from memory (no database, so callable on an event
    loop); None when it must be looked up (``api_client_authenticate``)."""
    return _remembered(_digest(key))


def api_client_authenticate(key: str) -> ApiClient | None:
    """The active client whose key this is, or None."""
    digest = _digest(key)
    if digest is None:
        return None
    if remembered := _remembered(digest):
        return remembered
    client = ApiClient.objects.filter(key_digest=digest, is_active=True).first()
    if client is None or not crypto.constant_time_equal(client.key_digest, digest):
        _cache.pop(digest, None)
        return None
    if len(_cache) > 1000:
        _cache.clear()
    _cache[digest] = (time.monotonic() + CACHE_SECONDS, client)
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at > timedelta(minutes=1):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    return client
