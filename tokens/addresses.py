"""The client's address, the same for throttles, audit and the portal.

``X-Forwarded-For`` counts only when the peer is one of the configured
proxies (``TESSERA_TRUSTED_PROXIES``, empty by default): see
``tokens.wire.client_address``.
"""

from __future__ import annotations

from django.conf import settings

from tokens.wire import client_address


def request_ip(request) -> str | None:
    """A Django or DRF request's client address."""
    meta = request.META
    return client_address(
        meta.get("REMOTE_ADDR"),
        meta.get("HTTP_X_FORWARDED_FOR"),
        settings.TESSERA_TRUSTED_PROXIES,
    )


def scope_ip(scope) -> str | None:
    """An ASGI scope's client address (websockets, Channels HTTP consumers)."""
    client = scope.get("client")
    forwarded = b",".join(
        value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"
    )
    return client_address(
        client[0] if client else None,
        forwarded.decode("latin-1"),
        settings.TESSERA_TRUSTED_PROXIES,
    )
