"""What the user portal does with tokens: login checks, rename, remove."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from tokens.models import Passkey, Token
from tokens.services.audit import audit_record, audit_token_act
from tokens.services.errors import ServiceError
from tokens.services.lifecycle import token_revoke, token_suspend
from tokens.services.otp import verify_tokens
from tokens.services.push import push_create, push_login_complete, push_tokens
from tokens.services.push.challenges import push_withdraw_pending
from tokens.services.tokeninfo import announce_token_info

PORTAL_APPLICATION = "Tessera portal"


def usable_tokens(user) -> list[Token]:
    return list(
        Token.objects.filter(
            user=user, state__in=(Token.State.ACTIVE, Token.State.LOCKED)
        ).select_related("policy")
    )


def has_server_pin(user) -> bool:
    """Whether one of the user's usable tokens takes a server PIN before its
    passcode (the passcode form then says how to type them)."""
    return any(t.policy.pin_mode == "server" for t in usable_tokens(user))


def locked_notice(tokens: list[Token]) -> str | None:
    """What to tell a user (whose password was right) when every usable token
    is locked: why, and until when. None while one still works."""
    if not tokens or any(t.state != Token.State.LOCKED for t in tokens):
        return None
    ends = [t.locked_until for t in tokens]
    why = (
        "Your authenticator is locked after too many wrong passcodes or a "
        "reported login request."
    )
    if any(end is None for end in ends):
        return why + " Ask your administrator to unlock it."
    minutes = max(1, round((min(ends) - timezone.now()).total_seconds() / 60 + 0.5))
    return why + f" It unlocks by itself in about {minutes} minute(s); try again then."


def _refuse_locked(tokens, username: str, ip) -> None:
    notice = locked_notice(tokens)
    if notice:
        _audit_login("failure", username, ip, reason="locked")
        raise ServiceError("tokens_locked", notice, status=403)


def portal_login_check(
    *,
    request,
    username: str,
    password: str,
    passcode: str,
    ip: str | None = None,
    user=None,
) -> tuple[object | None, Token | None]:
    """Password, then (PIN +) passcode against the user's tokens; ``user``
    when this session proved the password a moment ago.

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

    if user is None:
        user = authenticate(request, username=username, password=password)
    if user is None:
        return refuse("password")
    tokens = usable_tokens(user)
    _refuse_locked(tokens, username, ip)
    outcome = verify_tokens(
        tokens=tokens,
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


def _audit_login(outcome: str, username: str, ip, **detail) -> None:
    audit_record(
        action="portal.login",
        outcome=outcome,
        username=username,
        source="portal",
        ip=ip,
        **detail,
    )


def portal_password_step(*, request, username: str, password: str, ip: str | None):
    """The password, then what comes next: ``(None, "wrong")``, or the user
    and ``"enroll"`` (no authenticator yet: the password comes first, so the
    pages never tell a stranger which accounts have none), ``"passkey"``
    (offered first when the user has one), or ``"push"``. Raises
    ``ServiceError`` when every token is locked (saying why and until when),
    or ``use_passcode`` when no token can take a push.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        _audit_login("failure", username, ip, reason="password", method="push")
        return None, "wrong"
    tokens = usable_tokens(user)
    has_passkey = Passkey.objects.filter(user=user).exists()
    if not tokens and not has_passkey:
        _audit_login("info", username, ip, reason="no authenticator: enroll")
        return user, "enroll"
    if has_passkey:
        return user, "passkey"
    if push_tokens(user):  # a passcode lock does not stop an approval
        return user, "push"
    _refuse_locked(tokens, username, ip)
    if not push_tokens(user):
        raise ServiceError(
            "use_passcode", "Use a passcode from your authenticator to log in."
        )
    return user, "push"


def portal_push_send(*, user, ip: str | None, browser: str):
    """The push of a login whose password was right. Raises ``ServiceError``
    when the push fatigue limits refuse it, or no token takes pushes because
    they are locked (a lock against passcode guessing lets pushes through)."""
    if not push_tokens(user):
        _refuse_locked(usable_tokens(user), user.get_username(), ip)
    tokens = push_tokens(user)
    if not tokens:
        raise ServiceError(
            "use_passcode", "Use a passcode from your authenticator to log in."
        )
    return push_create(
        username=user.get_username(),
        application=PORTAL_APPLICATION,
        source="portal",
        ip=ip,
        browser=browser,
        tokens=tokens,
    )


def portal_push_finish(
    *, challenge_id, username: str, ip: str | None, source: str = "portal"
) -> Token | None:
    """Spend an approved push on this login; the approving token, or None."""
    token = push_login_complete(challenge_id=challenge_id, username=username)
    _audit_login(
        "success" if token else "failure",
        username,
        ip,
        method="push",
        challenge=str(challenge_id),
        **({"serial_used": token.serial} if token else {"reason": "not approved"}),
    )
    return token


def enrollment_push_start(*, token: Token, ip: str | None, browser: str):
    """The wizard's last step: the first push, to the new token only (None
    when the token cannot take pushes)."""
    if token.pk not in {t.pk for t in push_tokens(token.user)}:
        return None
    return push_create(
        username=token.user.get_username(),
        application=PORTAL_APPLICATION,
        source="portal-enroll",
        ip=ip,
        browser=browser,
        tokens=[token],
    )


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
    announce_token_info(token)
    audit_token_act(action="token.rename", token=token, actor=actor)
    return token


def token_remove(*, token: Token, actor: str) -> Token:
    """A user removing an authenticator revokes it (the audit keeps its serial)."""
    return token_revoke(token=token, actor=actor)


@transaction.atomic
def lost_device_report(*, user, ip: str | None = None) -> list[str]:
    """The user lost their phone (password and email code checked): every
    app token that works is suspended at once, each audited and its app told;
    the caller then starts a new enrollment. Returns the suspended serials."""
    serials = []
    for token in Token.objects.filter(
        user=user, state__in=(Token.State.ACTIVE, Token.State.LOCKED)
    ):
        token_suspend(token=token, actor=f"user:{user.get_username()}")
        serials.append(token.serial)
    # Requests waiting on the lost phone are moot (and would hold up the
    # new phone's first push under the one-pending rule).
    push_withdraw_pending(user.get_username(), reason="phone reported lost")
    audit_record(
        action="portal.lost_device",
        outcome="success",
        username=user.get_username(),
        source="portal",
        ip=ip,
        suspended=serials,
    )
    return serials
