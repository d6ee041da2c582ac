"""Requests signed with a token's device key (PROTOCOL §2–§6): which token a
device names, and whether its key signed a text.

One small module both the push services and Web Push use, below them both:
the socket's auth, the signed poll, answers, removal and Web Push
subscriptions all check a device's signature the same way.
"""

from __future__ import annotations

from tokens import crypto
from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError


def bound_token(serial) -> Token | None:
    """The token bound to a device key, in any state: a device that proves its
    key hears that its token was suspended or revoked (and nothing more)."""
    if not isinstance(serial, str) or not 1 <= len(serial) <= 16:
        return None
    return (
        Token.objects.filter(serial=serial, device_public_key__isnull=False)
        .exclude(state=Token.State.ASSIGNED)  # a new activation is under way
        .select_related("user", "policy")
        .first()
    )


def device_token(serial) -> Token | None:
    """The active token bound to a device key (what may act: subscribe to
    Web Push, receive requests)."""
    token = bound_token(serial)
    return token if token is not None and token.state == Token.State.ACTIVE else None


def signed_by(token: Token, signature, message: str) -> bool:
    """Whether ``signature`` (b64u ``r||s``) is the token's device key's over
    ``message``."""
    return crypto.verify_signature_text(
        bytes(token.device_public_key), signature, message
    )


def device_refusal(action: str, serial, ip, detail: str) -> ServiceError:
    """Audit a device request that proved nothing; the error to raise."""
    audit_record(
        action=action,
        outcome="failure",
        serial=serial if isinstance(serial, str) else "",
        source="device-ws" if action == "device.connect" else "device-api",
        ip=ip,
    )
    return ServiceError("invalid_signature", detail, status=403)
