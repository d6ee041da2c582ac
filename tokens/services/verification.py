"""The emailed six-digit code of the Add Authenticator wizard.

The state lives in the user's server-side session as a plain dict holding only
a keyed digest of the code, its expiry, the attempts and the last send. The
limits that matter are kept per user in the cache as well: a fresh session
must not bring fresh guesses or fresh emails.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from django.conf import settings

from tokens.services.audit import audit_record
from tokens.services.notify import send_templated
from tokens.services.throttle import allow

LIFETIME = 600  # seconds
MAX_ATTEMPTS = 5
RESEND_AFTER = 30  # seconds between sends
MAX_SENDS = 5
USER_SENDS_PER_HOUR = 5  # across all sessions
USER_GUESSES_PER_HOUR = 10  # across all sessions


def _over_user_limit(user, ip, step: str, limit: int, what: str) -> str | None:
    """Count one ``step`` for the user across all sessions; past ``limit`` an
    hour, audit it and return the sentence to show."""
    if allow(step, user.get_username(), limit=limit, window=3600):
        return None
    audit_record(
        action="portal.throttled",
        outcome="failure",
        username=user.get_username(),
        source="portal",
        ip=ip,
        step=step,
    )
    return f"Too many codes were {what} for this account. Wait an hour or ask your administrator."


_CODE_KEYS = ("digest", "expires", "attempts", "sent_at", "sends", "verified")


def _state_for(state: dict | None, user) -> dict:
    """A copy of ``state`` whose code, limits and ``verified`` are ``user``'s:
    those proven for anyone else are dropped, never carried over."""
    state = dict(state or {})
    if state.get("code_for") != user.pk:
        for key in _CODE_KEYS:
            state.pop(key, None)
        state["code_for"] = user.pk
    return state


def _digest(code: str, username: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(
        key, f"tessera/verify|{username}|{code}".encode(), hashlib.sha256
    ).hexdigest()


def verification_send(
    *, user, state: dict | None, ip: str | None = None
) -> tuple[dict, str | None]:
    """Send a new code unless throttled; returns (new state, refusal sentence).
    A state made for another user starts afresh."""
    state = _state_for(state, user)
    now = time.time()
    if state.get("sends", 0) >= MAX_SENDS:
        return (
            state,
            "Too many codes were sent. Wait a while or ask your administrator.",
        )
    if now - state.get("sent_at", 0) < RESEND_AFTER:
        wait = int(RESEND_AFTER - (now - state.get("sent_at", 0))) + 1
        return (
            state,
            f"A code was just sent. You can ask for another in {wait} seconds.",
        )
    refusal = _over_user_limit(
        user, ip, "verification_send", USER_SENDS_PER_HOUR, "sent"
    )
    if refusal:
        return state, refusal
    code = f"{secrets.randbelow(10**6):06d}"
    state.update(
        digest=_digest(code, user.get_username()),
        expires=now + LIFETIME,
        attempts=0,
        sent_at=now,
        sends=state.get("sends", 0) + 1,
        verified=False,
    )
    if user.email:
        send_templated(
            to=user.email,
            template="verification",
            context={"code": code},
            username=user.get_username(),
        )
    audit_record(
        action="portal.verification_send",
        outcome="info",
        username=user.get_username(),
        source="portal",
        ip=ip,
    )
    return state, None


def verification_check(
    *, user, state: dict, code: str, ip: str | None = None
) -> tuple[dict, str | None]:
    """Check a typed code; returns (new state, refusal sentence or None).
    A state made for another user holds no code for this one."""
    state = _state_for(state, user)
    refusal = None
    if not state.get("digest") or time.time() > state.get("expires", 0):
        refusal = "This code has expired. Send a new one."
    elif state.get("attempts", 0) >= MAX_ATTEMPTS:
        refusal = "Too many wrong codes. Send a new one."
    elif limited := _over_user_limit(
        user, ip, "verification_check", USER_GUESSES_PER_HOUR, "tried"
    ):
        return state, limited
    elif not hmac.compare_digest(
        _digest(str(code).strip(), user.get_username()), state["digest"]
    ):
        state["attempts"] = state.get("attempts", 0) + 1
        refusal = "That code is not right. Check the email and try again."
    else:
        state.update(verified=True, digest="")
    audit_record(
        action="portal.verification_check",
        outcome="failure" if refusal else "success",
        username=user.get_username(),
        source="portal",
        ip=ip,
    )
    return state, refusal
