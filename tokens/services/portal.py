"""What the user portal does with tokens: login checks, rename, remove."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction

from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.lifecycle import token_revoke
from tokens.services.otp import verify_tokens


def usable_tokens(user) -> list[Token]:
    return list(
        Token.objects.filter(
            user=user, state__in=(Token.State.ACTIVE, Token.State.LOCKED)
        ).select_related("policy")
    )


def portal_login_check(
    *, request, username: str, password: str, passcode: str, ip: str | None = None
) -> tuple[object | None, Token | None]:
    """Password, then (PIN +) passcode against the user's tokens.

    Returns (user, token) on success, (None, None) otherwise; which factor
    failed is audited, not told.
    """

    def refuse(reason: str):
        audit_record(
            action="portal.login",
            outcome="failure",
            username=username,
            source="portal",
            ip=ip,
            reason=reason,
        )
        return None, None

    user = authenticate(request, username=username, password=password)
    if user is None:
        return refuse("password")
    outcome = verify_tokens(
        tokens=usable_tokens(user),
        username=username,
        passcode=passcode,
        source="portal",
        ip=ip,
    )
    if not outcome.accepted:
        return refuse("passcode")
    audit_record(
        action="portal.login",
        outcome="success",
        username=username,
        serial=outcome.token.serial,
        source="portal",
        ip=ip,
    )
    return user, outcome.token


def token_finish_enrollment(
    *, token: Token, passcode: str, ip: str | None = None
) -> bool:
    """The wizard's last step: a passcode from the new token completes it."""
    token = Token.objects.select_related("policy", "user").get(pk=token.pk)
    return verify_tokens(
        tokens=[token],
        username=token.user.get_username(),
        passcode=passcode,
        source="portal-enroll",
        ip=ip,
    ).accepted


@transaction.atomic
def token_rename(*, token: Token, name: str, actor: str) -> Token:
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise ServiceError("invalid_name", "A name has 1 to 64 characters.")
    token.name = name
    token.save(update_fields=["name"])
    audit_record(
        action="token.rename",
        outcome="success",
        actor=actor,
        username=token.user.get_username(),
        serial=token.serial,
    )
    return token


def token_remove(*, token: Token, actor: str) -> Token:
    """A user removing an authenticator revokes it (the audit keeps its serial)."""
    return token_revoke(token=token, actor=actor)
