"""Operator actions on tokens: suspend, resume, revoke, unlock, reset PIN.

Each is one atomic, audited state change, refused (``ServiceError``) when the
token's state does not allow it.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tokens.models import Enrollment, Policy, Token
from tokens.services.audit import audit_token_act
from tokens.services.errors import ServiceError
from tokens.services.tokeninfo import announce_token_info
from tokens.services.webpush import NO_SUBSCRIPTION

S = Token.State

_TRANSITIONS: dict[str, tuple[set[str], str | None]] = {
    # action: (states it applies to, state after; None = unchanged)
    "suspend": ({S.ACTIVE, S.LOCKED, S.ASSIGNED}, S.SUSPENDED),
    "resume": ({S.SUSPENDED}, None),  # back to active or assigned
    "revoke": ({S.ASSIGNED, S.ACTIVE, S.SUSPENDED, S.LOCKED}, S.REVOKED),
    "unlock": ({S.LOCKED, S.ACTIVE}, S.ACTIVE),
}


@transaction.atomic
def _transition(*, token: Token, action: str, actor: str) -> Token:
    token = Token.objects.select_for_update().select_related("user").get(pk=token.pk)
    allowed, target = _TRANSITIONS[action]
    if token.state not in allowed:
        raise ServiceError(
            "invalid_state", f"Cannot {action} {token.serial}: it is {token.state}."
        )
    before = token.state
    if action == "resume":
        target = S.ACTIVE if token.activated_at else S.ASSIGNED
    token.state = target
    token.confirmed = target == S.ACTIVE
    token.lock_reason = ""  # no transition ends in a lock
    if action in ("unlock", "resume"):
        token.failure_count = 0
        token.lockouts = 0
        token.locked_until = None
    if action == "revoke":
        token.seed_encrypted = ""
        # The device key stays: the app proves it to hear that it was revoked.
        for name, value in NO_SUBSCRIPTION.items():
            setattr(token, name, value)  # a revoked token is never woken
        Enrollment.objects.filter(token=token, used_at__isnull=True).update(
            voided_at=timezone.now()
        )
    token.save()
    announce_token_info(token)
    audit_token_act(
        action=f"token.{action}",
        token=token,
        actor=actor,
        before=before,
        after=token.state,
    )
    return token


def token_suspend(*, token: Token, actor: str) -> Token:
    return _transition(token=token, action="suspend", actor=actor)


def token_resume(*, token: Token, actor: str) -> Token:
    return _transition(token=token, action="resume", actor=actor)


def token_revoke(*, token: Token, actor: str) -> Token:
    return _transition(token=token, action="revoke", actor=actor)


def token_unlock(*, token: Token, actor: str) -> Token:
    return _transition(token=token, action="unlock", actor=actor)


@transaction.atomic
def token_reset_server_pin(*, token: Token, actor: str) -> Token:
    """Forget the server PIN: the next PIN typed with a right OTP becomes it."""
    token = (
        Token.objects.select_for_update()
        .select_related("policy", "user")
        .get(pk=token.pk)
    )
    if token.policy.pin_mode != Policy.PinMode.SERVER:
        raise ServiceError("no_server_pin", f"{token.serial} has no server PIN.")
    token.server_pin_digest = ""
    token.save(update_fields=["server_pin_digest"])
    audit_token_act(action="token.reset_pin", token=token, actor=actor)
    return token
