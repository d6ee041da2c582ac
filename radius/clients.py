"""RADIUS clients: saved with an audit row, their shared secret generated
(at least 16 characters, shown once) and sealed like the seeds (RADIUS needs
the secret itself, so not a digest), and found by the address a request
came from."""

from __future__ import annotations

import secrets
import string
import time

from django.conf import settings
from django.db import transaction

from radius.models import RadiusClient, networks_of, source_ip
from tokens.services.audit import audit_record
from tokens.services.keys import open_seed, seal_seed

SECRET_LENGTH = 32
# Letters and digits only (190 bits in 32): the secret is pasted into NAS
# settings and command lines (radtest, radclient), where one beginning with
# "-" was read as an option (token_urlsafe's alphabet has "-" and "_").
_ALPHABET = string.ascii_letters + string.digits
_cache: dict[str, object] = {"at": 0.0, "clients": []}


def _new_secret() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


@transaction.atomic
def radius_client_save(
    *,
    name: str,
    networks: str,
    mode: str,
    actor: str,
    push_wait_seconds: int | None = None,
    require_message_authenticator: bool | None = None,
    new_secret: bool = False,
) -> tuple[RadiusClient, str | None]:
    """Create the client ``name`` or update it; returns it and its new secret
    (shown once: on creation, or when ``new_secret``), else None."""
    client = RadiusClient.objects.select_for_update().filter(name=name).first()
    created = client is None
    client = client or RadiusClient(name=name)
    client.networks = networks
    client.mode = mode
    if push_wait_seconds is not None:
        client.push_wait_seconds = push_wait_seconds
    if require_message_authenticator is not None:
        client.require_message_authenticator = require_message_authenticator
    secret = None
    if created or new_secret:
        secret = _new_secret()
        client.secret_sealed = seal_seed(secret.encode(), serial=client.secret_label)
    client.full_clean(exclude=["secret_sealed"])
    client.save()
    audit_record(
        action="radius.client_create" if created else "radius.client_update",
        outcome="success",
        actor=actor,
        client=client.name,
        networks=client.networks,
        mode=client.mode,
        message_authenticator_required=client.require_message_authenticator,
        **({"new_secret": True} if secret and not created else {}),
    )
    forget_clients()
    return client, secret


@transaction.atomic
def radius_client_delete(*, client: RadiusClient, actor: str) -> None:
    audit_record(
        action="radius.client_delete",
        outcome="success",
        actor=actor,
        client=client.name,
    )
    client.delete()
    forget_clients()


def radius_client_secret(client: RadiusClient) -> bytes:
    return open_seed(client.secret_sealed, serial=client.secret_label)


def forget_clients() -> None:
    _cache["at"] = 0.0


def client_for(address: str) -> tuple[RadiusClient, bytes] | None:
    """The client whose networks cover ``address`` (the most specific one),
    with its secret; None for an address no client covers."""
    now = time.monotonic()
    if now - _cache["at"] >= settings.TESSERA_RADIUS_CLIENT_CACHE_SECONDS:
        # Secrets opened and networks parsed once per refresh, not per request.
        _cache["clients"] = [
            (client, radius_client_secret(client), networks_of(client.networks))
            for client in RadiusClient.objects.all()
        ]
        _cache["at"] = now
    ip = source_ip(address)
    best, best_prefix = None, -1
    for client, secret, networks in _cache["clients"] if ip is not None else ():
        prefix = max((n.prefixlen for n in networks if ip in n), default=-1)
        if prefix > best_prefix:
            best, best_prefix = (client, secret), prefix
    return best
