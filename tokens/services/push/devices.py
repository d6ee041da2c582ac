"""Device requests that prove a key: the socket's auth, the signed poll, the
app's removal of its token."""

from __future__ import annotations

import time

from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.devicekeys import bound_token, device_refusal, signed_by
from tokens.services.errors import ServiceError
from tokens.services.lifecycle import token_revoke
from tokens.services.push.challenges import push_pending_payloads
from tokens.services.tokeninfo import token_info

POLL_SKEW_SECONDS = 60


def device_authenticate(
    *, serial, nonce: str, signature, ip: str | None = None
) -> Token:
    """PROTOCOL §4: the socket proves it holds the token's device key."""
    token = bound_token(serial)
    if token is None or not signed_by(token, signature, f"tessera/v1/ws|{nonce}"):
        raise device_refusal(
            "device.connect",
            serial,
            ip,
            "This token is not active here, or the signature does not match.",
        )
    if not token.takes_push:
        info = token_info(token)
        raise ServiceError(
            "token_inactive",
            f"This token is {token.state}: it takes no login requests.",
            status=403,
            extra={"info": info} if info else None,
        )
    return token


def _fresh(timestamp, now: float) -> bool:
    return (
        isinstance(timestamp, str)
        and timestamp.isdigit()
        and len(timestamp) <= 12
        and abs(int(timestamp) - now) <= POLL_SKEW_SECONDS
    )


def _timed_request(action: str, kind: str, serial, timestamp, signature, ip, now):
    """The bound token of a request signed ``'tessera/v1/<kind>|' + serial +
    '|' + time`` with a time within ±60 s; refused and audited otherwise."""
    now = time.time() if now is None else now
    token = bound_token(serial)
    if (
        token is None
        or not _fresh(timestamp, now)
        or not signed_by(token, signature, f"tessera/v1/{kind}|{serial}|{timestamp}")
    ):
        raise device_refusal(
            action,
            serial,
            ip,
            "The signature, the time (±60 s) or the token is not valid.",
        )
    return token


def device_remove(
    *, serial, timestamp, signature, ip: str | None = None, now: float | None = None
) -> Token:
    """The app deleted its token (the user confirmed): the server revokes it,
    so the token opens nothing any more. Signed ``'tessera/v1/remove|' +
    serial + '|' + time`` with the device key, the time within ±60 s."""
    token = _timed_request(
        "device.remove", "remove", serial, timestamp, signature, ip, now
    )
    if token.state != Token.State.REVOKED:
        token = token_revoke(token=token, actor="device")
    audit_record(
        action="device.remove",
        outcome="success",
        username=token.user.get_username(),
        serial=token.serial,
        source="device-api",
        ip=ip,
    )
    return token


def device_poll(
    *, serial, timestamp, signature, ip: str | None = None, now: float | None = None
) -> dict:
    """PROTOCOL §4's socket-less door: pending challenges for a signed request,
    and the token's signed ``token.info`` (none for a token that is not
    active)."""
    token = _timed_request("device.poll", "poll", serial, timestamp, signature, ip, now)
    info = token_info(token)
    return {
        "challenges": push_pending_payloads([token.serial]) if token.takes_push else [],
        **({"token": info} if info else {}),
    }
