"""What a RADIUS login decides, per the client's mode; it calls the domain's
services (one lockout, replay rule, throttle and audit with the validate
API) and keeps only the challenge's State.

- ``password+passcode``: the password then the passcode in one PAP field (a
  server-PIN token: that PIN instead of the password);
- ``passcode``: the passcode alone (the NAS checked the password);
- ``challenge``: the password, then an Access-Challenge for the passcode
  (where the user has push, a push is sent too and approving it works);
- ``push``: the password, then a push. Without number matching the request
  waits for the phone; with it, an Access-Challenge shows the number to pick
  first (the phone asks which number the login shows; the prompt is the only
  place that can show it), and pressing Enter waits for the phone. An
  unanswered push falls back to a challenge for the passcode.

A State is random, lives ``STATE_SECONDS``, is bound to the user and the NAS
that it was made for, and is spent by the request that answers it. Rejects
never say whether the user exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import cache

from radius.models import RadiusClient
from tokens.services.errors import ServiceError
from tokens.services.otp import validate_passcode
from tokens.services.passwords import password_and_passcode, password_check
from tokens.services.push import push_create, push_login_complete, push_tokens

DOOR = "radius"
STATE_SECONDS = 180
DENIED = "Access denied."
ASK_PASSCODE = "Type the passcode from your Tessera app."
Mode = RadiusClient.Mode


@dataclass(frozen=True)
class Decision:
    """``accept``, ``reject``, ``challenge`` (``message`` and ``state`` to
    send) or ``wait`` (for push ``push_id``, then ``after_push``)."""

    kind: str
    message: str = ""
    state: bytes = b""
    push_id: str = ""
    username: str = ""


REJECT = Decision("reject", DENIED)


def _accepted(outcome) -> Decision:
    return Decision("accept") if outcome.accepted else REJECT


def _state_key(state: bytes) -> str:
    return "radius-state:" + state.hex()


def _challenge(client, user, message: str, push_id: str = "") -> Decision:
    state = secrets.token_bytes(16)
    cache.set(
        _state_key(state),
        {"client": client.pk, "uid": user.pk, "push": push_id},
        STATE_SECONDS,
    )
    return Decision("challenge", message, state)


def _take_state(client, state: bytes, username: str):
    """The state's user and push, once; None unless it was made for this
    NAS and this user."""
    key = _state_key(state)
    found = cache.get(key)
    cache.delete(key)
    if not isinstance(found, dict) or found.get("client") != client.pk:
        return None, ""
    user = get_user_model().objects.filter(pk=found["uid"], is_active=True).first()
    if user is None or user.get_username() != username:
        return None, ""
    return user, found.get("push", "")


def _start_push(client, user, ip) -> tuple[str, int | None]:
    """A push to the user's phone for this NAS; ("", None) when there is no
    push token or the fatigue limits refuse one."""
    if not push_tokens(user):
        return "", None
    try:
        challenge = push_create(
            username=user.get_username(),
            application=client.name,
            source=DOOR,
            ip=ip,
            client=client.name,
        )
    except ServiceError:
        return "", None
    return str(challenge.pk), challenge.number


def begin(client: RadiusClient, username: str, password: str, ip=None) -> Decision:
    """A request without State: the first step of the client's mode."""
    seen = {"client": client.name}
    try:
        if client.mode == Mode.PASSCODE:
            return _accepted(
                validate_passcode(
                    username=username,
                    passcode=password,
                    source=DOOR,
                    ip=ip,
                    client=client.name,
                )
            )
        if client.mode == Mode.PASSWORD_PASSCODE:
            return _accepted(
                password_and_passcode(
                    username=username, field=password, door=DOOR, ip=ip, **seen
                )
            )
        user = password_check(
            username=username, password=password, door=DOOR, ip=ip, **seen
        )
    except ServiceError:
        return REJECT  # throttled: said in the audit, not to the NAS
    if user is None:
        return REJECT
    push_id, number = _start_push(client, user, ip)
    if client.mode == Mode.CHALLENGE or not push_id:
        message = ASK_PASSCODE
        if push_id:
            message = (
                "Type the passcode from your Tessera app, or approve the "
                "request on your phone"
                + (f" (pick {number})" if number is not None else "")
                + " and press Enter."
            )
        return _challenge(client, user, message, push_id)
    if number is None:
        return Decision("wait", push_id=push_id, username=username)
    return _challenge(
        client,
        user,
        f"Approve the request on your phone: pick {number}. Then press Enter "
        "(or type a passcode).",
        push_id,
    )


def resume(
    client: RadiusClient, username: str, state: bytes, response: str, ip=None
) -> Decision:
    """A request answering an Access-Challenge: a passcode, or (Enter) the
    push the challenge announced."""
    user, push_id = _take_state(client, state, username)
    if user is None:
        return REJECT
    if response.strip():
        return _accepted(
            validate_passcode(
                username=username,
                passcode=response.strip(),
                source=DOOR,
                ip=ip,
                client=client.name,
            )
        )
    if push_id:
        return Decision("wait", push_id=push_id, username=username)
    return REJECT


def after_push(client: RadiusClient, decision: Decision, state: str) -> Decision:
    """The push's outcome (``state`` after the wait): an approval is spent
    on this one login; a denial rejects at once; no answer in time asks for
    the passcode instead (the push may still be approved meanwhile)."""
    if state == "approved":
        token = push_login_complete(
            challenge_id=decision.push_id, username=decision.username
        )
        return Decision("accept") if token is not None else REJECT
    if state == "pending":
        user = (
            get_user_model()
            .objects.filter(username=decision.username, is_active=True)
            .first()
        )
        if user is not None:
            return _challenge(
                client,
                user,
                "No answer from your phone. " + ASK_PASSCODE,
                decision.push_id,
            )
    return REJECT
