"""Creating, expiring and listing push challenges; spending an approval."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tokens.events import announce_challenge, announce_push_state
from tokens.models import TAKES_PUSH, AuditEvent, PushChallenge, Token
from tokens.prepared import PreparedSelect, insert_together, lock_row
from tokens.selectors import policy_default
from tokens.services.audit import audit_record, audit_values
from tokens.services.errors import ServiceError
from tokens.services.webpush import webpush_notify
from tokens.wire import fatigue_key

S = PushChallenge.State
MAX_PENDING_PER_USER = 3  # across all applications
ChallengeLink = PushChallenge.tokens.through  # which tokens a challenge went to


# Tokens a push can go to: taking pushes (active, or locked only against
# passcodes), bound to a device key, push allowed.
_PUSHABLE = TAKES_PUSH & Q(device_public_key__isnull=False, policy__push_enabled=True)


# The storm's hot look-ups (bench/storm.py), compiled once per process
# (``tokens.prepared``): a push's tokens, a relying application's own
# challenge for its long-poll, and the fatigue check's recent challenges.
# In a transaction: it also locks the user's row, so concurrent creates for
# one user queue there (the per-user cap across applications holds).
_push_tokens_locking_user = PreparedSelect(
    lambda username: (
        Token.objects.filter(_PUSHABLE, user__username=username, user__is_active=True)
        .select_related("policy", "user")
        .select_for_update(of=("user",))
    ),
    "username",
)
_client_challenge = PreparedSelect(
    lambda pk, client, source: PushChallenge.objects.filter(
        pk=pk, client=client, source=source
    ).select_related("answered_by"),
    "client",
    "source",
    typed={"pk": PushChallenge._meta.pk},
)
_recent_challenges = PreparedSelect(
    lambda username, key, since: PushChallenge.objects.filter(
        Q(state=S.PENDING)
        | Q(state=S.DENIED, answered_at__gt=since, application_key=key),
        username=username,
    ),
    "username",
    "key",
    typed={"since": PushChallenge._meta.get_field("answered_at")},
)


def push_tokens(user) -> list[Token]:
    """The user's tokens a push can go to: active, bound to a device key."""
    return list(Token.objects.filter(_PUSHABLE, user=user).select_related("policy"))


def _numbers() -> tuple[int, list[int]]:
    """The number to match and three choices (it and two decoys), shuffled."""
    choices: list[int] = []
    while len(choices) < 3:
        n = 10 + secrets.randbelow(90)
        if n not in choices:
            choices.append(n)
    right = choices[0]
    secrets.SystemRandom().shuffle(choices)
    return right, choices


def challenge_payload(challenge: PushChallenge, serial: str) -> dict:
    """The §5 ``challenge`` message for the device holding ``serial``."""
    body = {
        "type": "challenge",
        "id": str(challenge.id),
        "serial": serial,
        "application": challenge.application,
        "username": challenge.username,
        "ip": challenge.ip or "",
        "browser": challenge.browser,
        "created": challenge.created_at.isoformat(),
        "expires": challenge.expires_at.isoformat(),
    }
    if challenge.numbers:
        body["numbers"] = list(challenge.numbers)
    return body


def challenge_expire(challenge: PushChallenge) -> bool:
    """Mark a due pending challenge expired (once) and tell its waiters."""
    done = PushChallenge.objects.filter(
        pk=challenge.pk, state=S.PENDING, expires_at__lte=timezone.now()
    ).update(state=S.EXPIRED)
    if done:
        challenge.state = S.EXPIRED
        _announce_expired(challenge)
    return bool(done)


def _announce_expired(challenge: PushChallenge, **detail) -> None:
    """Its waiters and phones told (the phone closes it), and audited."""
    announce_push_state(challenge.pk, S.EXPIRED)
    audit_record(
        action="push.expire",
        outcome="info",
        username=challenge.username,
        source=challenge.source,
        challenge=str(challenge.pk),
        **detail,
    )


def _withdraw(challenge: PushChallenge, reason: str) -> bool:
    """End a pending request now (expired, told, audited). False when an
    answer came first."""
    if not PushChallenge.objects.filter(pk=challenge.pk, state=S.PENDING).update(
        state=S.EXPIRED
    ):
        return False
    _announce_expired(challenge, reason=reason)
    return True


def push_withdraw_pending(username: str, reason: str) -> int:
    """End the user's pending requests now (their phone was reported lost);
    returns how many."""
    pending = PushChallenge.objects.filter(username=username, state=S.PENDING)
    return sum(_withdraw(challenge, reason) for challenge in pending)


def push_cancel(*, challenge_id, username: str) -> bool:
    """The login that started a request gives it up (its page's Cancel): the
    request leaves the phone at once and a new one may be sent."""
    challenge = PushChallenge.objects.filter(
        pk=challenge_id, username=username, state=S.PENDING
    ).first()
    return challenge is not None and _withdraw(challenge, "cancelled by the login")


def _clean_text(value, field: str, max_length: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise ServiceError("invalid_request", f"{field} must be a string.")
    value = value.strip()
    if (required and not value) or len(value) > max_length:
        raise ServiceError(
            "invalid_request",
            f"{field} has {int(required)} to {max_length} characters.",
        )
    return value


def push_create(
    *,
    username: str,
    application: str,
    source: str,
    ip: str | None = None,
    browser: str = "",
    client: str = "",
    tokens: list[Token] | None = None,
) -> PushChallenge:
    """Start a push to the user's devices (or to ``tokens`` only).

    Raises ``ServiceError`` (429) while another push for this user and
    application is pending, while ``MAX_PENDING_PER_USER`` pushes for the user
    are pending across all applications, or during the cool-down after a
    denial. Applications are compared as ``fatigue_key`` spells them, so
    "Okta" and " OKTA" are one. Every refusal is audited.
    """
    application = _clean_text(application, "application", 80, required=True)
    browser = _clean_text(browser, "browser", 120, required=False)
    try:
        return _create(username, application, source, ip, browser, client, tokens)
    except ServiceError as refusal:
        if refusal.status == 429:
            audit_record(
                action="push.refused",
                outcome="failure",
                username=username,
                source=source,
                ip=ip,
                client=client,
                application=application,
                reason=refusal.code,
            )
        raise


def _create(username, application, source, ip, browser, client, tokens):
    key = fatigue_key(application)[:80]
    with transaction.atomic():
        # Concurrent creates for one user queue on the user's row, so the
        # per-user cap holds across applications (one application: the
        # constraint). SQLite's transactions take the write lock: queued.
        locked = False
        if tokens is None:
            tokens = _push_tokens_locking_user(username=username)
            locked = bool(tokens)  # the look-up locked the user's row
        if tokens:
            user_id = tokens[0].user_id
        else:  # nobody to ask: the challenge will simply expire
            user_id = (
                get_user_model()
                .objects.filter(username=username, is_active=True)
                .values_list("pk", flat=True)
                .first()
            )
        if user_id is not None and not locked:
            lock_row(get_user_model(), user_id)
        policies = {t.policy_id: t.policy for t in tokens}.values() or [
            policy_default()
        ]
        now = timezone.now()
        right, numbers = _numbers()
        matching = any(p.number_matching for p in policies)
        lifetime = timedelta(seconds=min(p.push_lifetime_seconds for p in policies))
        _refuse_fatigue(username, key, policies, now)
        created = timezone.now()
        challenge = PushChallenge(
            user_id=user_id,
            username=username,
            application=application,
            application_key=key,
            ip=ip or None,
            browser=browser,
            source=source,
            client=client,
            numbers=numbers if matching else [],
            number=right if matching else None,
            created_at=created,
            expires_at=created + lifetime,
        )
        serials = [t.serial for t in tokens]
        audit = audit_values(
            action="push.create",
            outcome="info",
            username=username,
            source=source,
            ip=ip,
            client=client,
            challenge=str(challenge.pk),
            application=application,
            devices=len(serials),
        )
        links = [
            ChallengeLink(pushchallenge_id=challenge.pk, token_id=t.pk) for t in tokens
        ]
        try:
            # The challenge, its links and its audit row written once from
            # the models (tokens.prepared), not compiled by the ORM, and on
            # PostgreSQL in one statement: delivery latency runs from
            # created_at.
            insert_together([[challenge], links, [AuditEvent(**audit)]])
        except IntegrityError as exc:  # a concurrent create won the race
            # The whole transaction is rolled back on the way out.
            raise _pending_error() from exc
        payloads = {s: challenge_payload(challenge, s) for s in serials}
        announce_challenge(serials, payloads)
        webpush_notify(
            tokens=tokens,
            payloads=payloads,
            expires_at=challenge.expires_at,
            username=username,
        )
    return challenge


def _pending_error() -> ServiceError:
    return ServiceError(
        "push_pending",
        "A login request is already waiting on the phone. Answer it, or wait "
        "until it expires.",
        status=429,
    )


def _refuse_fatigue(username, key, policies, now) -> None:
    """One query: this user's pending requests (any application) and recently
    denied ones for this application. A pending one past its expiry is
    expired on the way."""
    cooldown = timedelta(seconds=max(p.push_deny_cooldown_seconds for p in policies))
    recent = _recent_challenges(username=username, key=key, since=now - cooldown)
    denied = False
    pending = 0
    for challenge in recent:
        if challenge.state == S.DENIED:
            denied = True
        elif challenge.expires_at <= now:
            challenge_expire(challenge)
        elif challenge.application_key == key:
            raise _pending_error()
        else:
            pending += 1
    if pending >= MAX_PENDING_PER_USER:
        raise ServiceError(
            "push_pending_limit",
            f"{pending} login requests are already waiting on the phone. Answer "
            "them, or wait until they expire.",
            status=429,
        )
    if denied:
        raise ServiceError(
            "push_cooldown",
            "A recent login request was denied. Wait a minute before sending "
            "another, or use a passcode.",
            status=429,
        )


def push_state_now(challenge: PushChallenge) -> str:
    """The state of a loaded challenge, after expiring it if its time is up."""
    if challenge.state == S.PENDING and challenge.expires_at <= timezone.now():
        with transaction.atomic():
            if not challenge_expire(challenge):  # an answer came first
                challenge.refresh_from_db(fields=["state"])
    return challenge.state


def push_status(challenge_id) -> tuple[str, datetime | None]:
    """(state, expires_at) of a challenge, expiring it first if due; one read."""
    challenge = PushChallenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        return S.EXPIRED, None
    return push_state_now(challenge), challenge.expires_at


def push_expire_if_due(challenge_id) -> str:
    """The challenge's state, after expiring it if its time is up."""
    return push_status(challenge_id)[0]


def push_pending_payloads(serials: list[str]) -> list[dict]:
    """Every pending, unexpired challenge of these tokens, as §5 messages."""
    rows = (
        ChallengeLink.objects.filter(
            token__serial__in=serials,
            token__state=Token.State.ACTIVE,
            pushchallenge__state=S.PENDING,
            pushchallenge__expires_at__gt=timezone.now(),
        )
        .select_related("pushchallenge", "token")
        .order_by("pushchallenge__created_at")
    )
    return [challenge_payload(row.pushchallenge, row.token.serial) for row in rows]


def push_for_client(
    challenge_id, client: str, source: str = "api"
) -> PushChallenge | None:
    """A relying application's own challenge, started through ``source``
    (others' ids look unknown)."""
    try:
        pk = uuid.UUID(str(challenge_id))
    except ValueError:
        return None
    found = _client_challenge(pk=pk, client=client, source=source)
    return found[0] if found else None


def push_login_complete(*, challenge_id, username: str) -> Token | None:
    """Spend an approved challenge on one login; returns the approving token."""
    used = PushChallenge.objects.filter(
        pk=challenge_id,
        username=username,
        user__is_active=True,
        state=S.APPROVED,
        used_at__isnull=True,
    ).update(used_at=timezone.now())
    if not used:
        return None
    challenge = PushChallenge.objects.select_related("answered_by").get(pk=challenge_id)
    return challenge.answered_by
