"""Web Push (PROTOCOL §6): waking a closed app, end to end encrypted.

Guarantees:
- a subscription is registered only with the device key's signature, and only
  for an endpoint on a known push service (``TESSERA_WEBPUSH_HOSTS``; https,
  or http with DEBUG for a loopback test receiver), parsed once and strictly;
  at each send the host is resolved again and every address must be public
  (``TESSERA_WEBPUSH_PRIVATE_HOSTS`` names the exceptions), and the request
  goes to the address checked: the server never sends a request to an
  address a device chose, and follows no redirect;
- each challenge is sent once to each subscribed push token of the user, after
  the challenge has committed, from a small thread pool with a short timeout:
  a slow or dead push service never delays the challenge's creation, the
  relying party's answer or the portal;
- the payload is the §5 challenge message, encrypted for the subscription
  (RFC 8291 ``aes128gcm``) and signed with the server's VAPID key (RFC 8292):
  the push service sees neither;
- a 404 or 410 from the push service deletes the subscription; every send and
  failure is audited with the token's serial, never with the endpoint (its
  path is a capability).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from tokens import crypto
from tokens.models import Token
from tokens.outbound import Refused, parse_strict, pinned_session
from tokens.services.audit import audit_record
from tokens.services.devicekeys import device_refusal, device_token, signed_by
from tokens.services.errors import ServiceError

log = logging.getLogger(__name__)

_senders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tessera-webpush")
NO_SUBSCRIPTION = {
    "webpush_endpoint": "",
    "webpush_p256dh": "",
    "webpush_auth": "",
    "webpush_at": None,
}


def webpush_enabled() -> bool:
    return bool(settings.TESSERA_WEBPUSH and settings.TESSERA_VAPID_PRIVATE_KEY)


@lru_cache(maxsize=4)
def _vapid(private_key: str) -> Vapid02:
    text = private_key.strip()
    if text.startswith("-----BEGIN"):
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_raw(text.encode())


def webpush_public_key() -> str | None:
    """The VAPID public key (65-byte point, b64u), or None when it is off."""
    if not webpush_enabled():
        return None
    public = _vapid(settings.TESSERA_VAPID_PRIVATE_KEY).public_key
    return crypto.b64u_encode(
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def endpoint_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` is not a push service we send to, or None. Parsed
    once, strictly (``tokens.outbound``): a URL that two parsers could read
    differently is refused before its host is even looked at."""
    target = parse_strict(endpoint)
    if target is None:
        return "The endpoint must be a plain https URL."
    schemes = {"https", "http"} if settings.DEBUG else {"https"}
    if target.scheme not in schemes:
        return "The endpoint must be an https URL."
    if not any(
        target.host == allowed or target.host.endswith("." + allowed)
        for allowed in settings.TESSERA_WEBPUSH_HOSTS
    ):
        return "The endpoint is not on a push service this server sends to."
    return None


def _host_of(endpoint: str) -> str:
    target = parse_strict(endpoint)
    return target.host if target is not None else ""


def _keys_problem(p256dh: str, auth: str) -> str | None:
    try:
        crypto.load_p256_public(crypto.b64u_decode(p256dh))
        if len(crypto.b64u_decode(auth)) != 16:
            raise ValueError
    except ValueError:
        return "p256dh must be a P-256 point and auth 16 bytes, in base64url."
    return None


def webpush_subscribe(
    *, serial, endpoint: str, p256dh: str, auth: str, signature, ip=None
) -> str:
    """PROTOCOL §6: register, replace or (empty endpoint) remove a token's
    subscription; returns ``"subscribed"`` or ``"unsubscribed"``."""
    if not webpush_enabled():
        raise ServiceError("webpush_off", "Web Push is off on this server.", status=404)
    token = device_token(serial)
    text = f"tessera/v1/webpush|{serial}|{endpoint}|{p256dh}|{auth}"
    if token is None or not signed_by(token, signature, text):
        raise device_refusal(
            "webpush.subscribe",
            serial,
            ip,
            "This token is not active here, or the signature does not match.",
        )
    if endpoint == "":
        if p256dh or auth:
            raise ServiceError(
                "invalid_request", "To unsubscribe, leave p256dh and auth empty."
            )
        fields = NO_SUBSCRIPTION
    else:
        problem = endpoint_problem(endpoint)
        if problem:
            audit_record(
                action="webpush.subscribe",
                outcome="failure",
                serial=token.serial,
                source="device-api",
                ip=ip,
                error="endpoint_not_allowed",
                host=_host_of(endpoint)[:100],
            )
            raise ServiceError("endpoint_not_allowed", problem)
        problem = _keys_problem(p256dh, auth)
        if problem:
            raise ServiceError("invalid_request", problem)
        fields = {
            "webpush_endpoint": endpoint,
            "webpush_p256dh": p256dh,
            "webpush_auth": auth,
            "webpush_at": timezone.now(),
        }
    Token.objects.filter(pk=token.pk).update(**fields)
    state = "subscribed" if endpoint else "unsubscribed"
    audit_record(
        action="webpush.subscribe",
        outcome="success",
        username=token.user.get_username(),
        serial=token.serial,
        source="device-api",
        ip=ip,
        state=state,
        **({"host": _host_of(endpoint)} if endpoint else {}),
    )
    return state


def webpush_notify(
    *, tokens: list[Token], payloads: dict[str, dict], expires_at, username: str
) -> None:
    """After the surrounding transaction commits, send each subscribed token
    its challenge message (``payloads`` by serial), off the request path."""
    if not webpush_enabled():
        return
    jobs = [
        (
            t.pk,
            t.serial,
            {
                "endpoint": t.webpush_endpoint,
                "keys": {"p256dh": t.webpush_p256dh, "auth": t.webpush_auth},
            },
            json.dumps(payloads[t.serial], separators=(",", ":")),
        )
        for t in tokens
        if t.webpush_endpoint and t.serial in payloads
    ]
    if not jobs:
        return
    ttl = max(1, int((expires_at - timezone.now()).total_seconds()))

    def submit():
        for job in jobs:
            _senders.submit(_send, *job, ttl=ttl, username=username)

    transaction.on_commit(submit)


def _send(token_pk, serial, subscription, payload, *, ttl: int, username: str):
    """One message to one push service; runs on a sender thread."""
    status = None
    error = ""
    try:
        # Resolved and checked now (DNS may have changed since the endpoint
        # was registered), and sent to the address that was checked.
        session = pinned_session(
            subscription["endpoint"],
            allowed_private=settings.TESSERA_WEBPUSH_PRIVATE_HOSTS,
        )
        response = webpush(
            subscription,
            data=payload,
            vapid_private_key=_vapid(settings.TESSERA_VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.TESSERA_WEBPUSH_CONTACT},
            ttl=ttl,
            headers={"Urgency": "high"},
            timeout=settings.TESSERA_WEBPUSH_TIMEOUT,
            requests_session=session,
        )
        status = response.status_code
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        error = "rejected" if status else "failed"
    except Refused:
        error = "refused"
    except (requests.RequestException, ValueError) as exc:
        error = type(exc).__name__
    try:
        gone = status in (404, 410)
        if gone:  # the subscription is dead: forget it (unless replaced meanwhile)
            Token.objects.filter(
                pk=token_pk, webpush_endpoint=subscription["endpoint"]
            ).update(**NO_SUBSCRIPTION)
        audit_record(
            action="webpush.send",
            outcome="failure" if error else "success",
            username=username,
            serial=serial,
            source="webpush",
            status=status,
            **({"error": error} if error else {}),
            **({"subscription_removed": True} if gone else {}),
        )
    except Exception:  # a sender thread must never die on a database hiccup
        log.exception("webpush audit failed for %s", serial)
    finally:
        connection.close()  # sends are rare: hold no connection between them
