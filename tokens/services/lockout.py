"""Locking a token after wrong passcodes or wrong PIN proofs, and unlocking
it when the policy's delay has passed.

A lock against wrong passcodes refuses passcodes only (``LOCK_PASSCODES``):
an approval on the phone cannot be guessed, so a stranger's wrong passcodes
must not keep the user out. Wrong token-PIN proofs come from the device's
holder and lock approvals too (``LOCK_PROOFS``). Each lock doubles the next
(up to the policy's cap), is audited, and tells the user by email.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tokens.models import LOCK_PASSCODES, LOCK_PROOFS, Policy, Token
from tokens.prepared import update_where
from tokens.services.alerts import attack_alert_send
from tokens.services.audit import audit_record
from tokens.services.tokeninfo import announce_token_info


def auto_unlock(token: Token, username: str) -> None:
    now = timezone.now()
    if (
        token.state == Token.State.LOCKED
        and token.locked_until is not None
        and token.locked_until <= now
    ):
        with transaction.atomic(savepoint=False):  # unlocked and audited
            unlocked = Token.objects.filter(
                pk=token.pk, state=Token.State.LOCKED, locked_until__lte=now
            ).update(
                state=Token.State.ACTIVE,
                failure_count=0,
                locked_until=None,
                lock_reason="",
            )
            if unlocked:
                audit_record(
                    action="token.auto_unlock",
                    outcome="info",
                    username=username,
                    serial=token.serial,
                )
        if unlocked:
            token.state, token.failure_count, token.locked_until = "active", 0, None


def count_failures(tokens: list[Token], reason: str = LOCK_PASSCODES) -> list[str]:
    """Add one failure to each token; lock those at the threshold.

    ``reason`` is what failed: wrong passcodes lock against passcodes only
    (login requests still reach the token: a stranger's guesses must not keep
    the user out); wrong token-PIN proofs (``LOCK_PROOFS``) come from the
    device's holder, so they lock the token against approvals too, at once
    when it is already locked against passcodes: PIN guesses stay bounded.

    The count comes back from the same UPDATE (``RETURNING``), so concurrent
    failures each see their own total. With no token it runs the same
    statement on no row (a user without tokens must not answer faster than
    one with a wrong code).
    """
    locked = []
    for token in tokens or [None]:
        counted = update_where(
            Token,
            increment={"failure_count": 1},
            where={"id": ("=", token.pk if token else 0)},  # no token has pk 0
            returning=("failure_count", "state", "lock_reason"),
        )
        if not counted or token is None:
            continue
        failures, state, was = counted[0]
        escalate = (
            state == Token.State.LOCKED
            and was == LOCK_PASSCODES
            and reason == LOCK_PROOFS
        )
        if escalate or (
            state == Token.State.ACTIVE and failures >= token.policy.lockout_threshold
        ):
            minutes = lock_minutes(token.policy, token.lockouts)
            now = timezone.now()
            Token.objects.filter(pk=token.pk, state=state).update(
                state=Token.State.LOCKED,
                locked_until=now + timedelta(minutes=minutes) if minutes else None,
                lock_reason=reason,
                lockouts=F("lockouts") + 1,
            )
            announce_token_info(token)
            locked.append(token.serial)
    return locked


def lock_minutes(policy: Policy, lockouts: int) -> int:
    """How long the next lock lasts after ``lockouts`` earlier ones: the
    policy's delay doubled each time, capped; 0 means until an admin acts."""
    first = policy.auto_unlock_minutes
    if not first:
        return 0
    return min(first * 2 ** min(lockouts, 30), policy.auto_unlock_max_minutes)


def audit_locks(serials: list[str], username: str, source: str) -> None:
    """Audit the locks, and tell the user someone is guessing."""
    for serial in serials:
        audit_record(
            action="token.lock",
            outcome="info",
            username=username,
            serial=serial,
            source=source,
            reason="lockout threshold reached",
        )
    if serials:
        attack_alert_send(username=username, what="passcodes", serials=serials)


def token_count_failure(*, token: Token, username: str, source: str) -> None:
    """One wrong token-PIN proof for ``token`` (it counts as a wrong passcode
    does): it locks the token at the policy's threshold, for approvals too."""
    audit_locks(count_failures([token], LOCK_PROOFS), username, source)
