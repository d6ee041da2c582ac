"""Push approvals (PROTOCOL §4–§5): the one implementation every door calls.

Guarantees:
- a challenge goes to every active push token of the user, and is announced
  to their devices only once it has committed;
- an answer counts only when its signature verifies with the device key of a
  token the challenge went to, before expiry; the first such answer decides
  (a conditional UPDATE), later ones change nothing;
- under number matching, approving with the wrong number denies the login,
  so trying all three numbers does not work;
- push fatigue: one pending challenge per user and application, and none for
  a cool-down after a denial;
- a "this wasn't me" answer is a denial that is audited, emails the user and,
  per policy, locks the user's tokens;
- unknown users get a challenge like anyone else's that simply expires, so
  the API never tells whether a user or token exists.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from tokens import crypto
from tokens.events import announce_challenge, announce_push_state
from tokens.models import PushChallenge, Token
from tokens.selectors import policy_default
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.notify import send_templated
from tokens.services.otp import token_count_failure, token_proves_seed

S = PushChallenge.State
DECISIONS = ("approve", "deny", "fraud")
POLL_SKEW_SECONDS = 60


@dataclass(frozen=True)
class AnswerResult:
    challenge: PushChallenge
    state: str
    reason: str = ""  # "wrong_number" or "fraud" when denied by the answer

    def as_frame(self) -> dict:
        frame = {"type": "answer.result", "id": str(self.challenge.id)}
        frame["state"] = self.state
        if self.reason:
            frame["reason"] = self.reason
        return frame


_Link = PushChallenge.tokens.through  # which tokens a challenge went to


def _push_tokens_of(username: str) -> list[Token]:
    return list(
        Token.objects.filter(
            user__username=username,
            user__is_active=True,
            state=Token.State.ACTIVE,
            device_public_key__isnull=False,
            policy__push_enabled=True,
        ).select_related("policy")
    )


def push_tokens(user) -> list[Token]:
    """The user's tokens a push can go to: active, bound to a device key."""
    return list(
        Token.objects.filter(
            user=user,
            state=Token.State.ACTIVE,
            device_public_key__isnull=False,
            policy__push_enabled=True,
        ).select_related("policy")
    )


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


def _expire(challenge: PushChallenge) -> bool:
    """Mark a due pending challenge expired (once) and tell its waiters."""
    done = PushChallenge.objects.filter(
        pk=challenge.pk, state=S.PENDING, expires_at__lte=timezone.now()
    ).update(state=S.EXPIRED)
    if done:
        challenge.state = S.EXPIRED
        announce_push_state(challenge.pk, S.EXPIRED)
        audit_record(
            action="push.expire",
            outcome="info",
            username=challenge.username,
            source=challenge.source,
            challenge=str(challenge.pk),
        )
    return bool(done)


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
    application is pending, or during the cool-down after a denial.
    """
    application = _clean_text(application, "application", 80, required=True)
    browser = _clean_text(browser, "browser", 120, required=False)
    if tokens is None:
        tokens = _push_tokens_of(username)
    if tokens:
        user_id = tokens[0].user_id
    else:  # nobody to ask: the challenge will simply expire
        user_id = (
            get_user_model()
            .objects.filter(username=username, is_active=True)
            .values_list("pk", flat=True)
            .first()
        )
    policies = {t.policy_id: t.policy for t in tokens}.values() or [policy_default()]
    now = timezone.now()
    right, numbers = _numbers()
    matching = any(p.number_matching for p in policies)
    lifetime = timedelta(seconds=min(p.push_lifetime_seconds for p in policies))
    with transaction.atomic():
        _refuse_fatigue(username, application, policies, now)
        created = timezone.now()
        challenge = PushChallenge(
            user_id=user_id,
            username=username,
            application=application,
            ip=ip or None,
            browser=browser,
            source=source,
            client=client,
            numbers=numbers if matching else [],
            number=right if matching else None,
            created_at=created,
            expires_at=created + lifetime,
        )
        try:
            with transaction.atomic():
                # One INSERT without save()'s machinery: delivery latency is
                # measured from created_at (bench/push.py).
                PushChallenge.objects.bulk_create([challenge])
        except IntegrityError as exc:  # a concurrent create won the race
            raise _pending_error() from exc
        _Link.objects.bulk_create(
            [_Link(pushchallenge_id=challenge.pk, token_id=t.pk) for t in tokens]
        )
        serials = [t.serial for t in tokens]
        announce_challenge(
            serials, {s: challenge_payload(challenge, s) for s in serials}
        )
        audit_record(
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
    return challenge


def _pending_error() -> ServiceError:
    return ServiceError(
        "push_pending",
        "A login request is already waiting on the phone. Answer it, or wait "
        "until it expires.",
        status=429,
    )


def _refuse_fatigue(username, application, policies, now) -> None:
    """One query: this user's pending and recently denied requests for this
    application. A pending one past its expiry is expired on the way."""
    cooldown = timedelta(seconds=max(p.push_deny_cooldown_seconds for p in policies))
    recent = PushChallenge.objects.filter(
        Q(state=S.PENDING) | Q(state=S.DENIED, answered_at__gt=now - cooldown),
        username=username,
        application=application,
    )
    denied = False
    for challenge in recent:
        if challenge.state == S.DENIED:
            denied = True
        elif challenge.expires_at > now:
            raise _pending_error()
        else:
            _expire(challenge)
    if denied:
        raise ServiceError(
            "push_cooldown",
            "A recent login request was denied. Wait a minute before sending "
            "another, or use a passcode.",
            status=429,
        )


def push_expire_if_due(challenge_id) -> str:
    """The challenge's state, after expiring it if its time is up."""
    challenge = PushChallenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        return S.EXPIRED
    if challenge.state == S.PENDING and challenge.expires_at <= timezone.now():
        with transaction.atomic():
            _expire(challenge)
        challenge.refresh_from_db(fields=["state"])
    return challenge.state


def push_pending_payloads(serials: list[str]) -> list[dict]:
    """Every pending, unexpired challenge of these tokens, as §5 messages."""
    rows = PushChallenge.tokens.through.objects.filter(
        token__serial__in=serials,
        token__state=Token.State.ACTIVE,
        pushchallenge__state=S.PENDING,
        pushchallenge__expires_at__gt=timezone.now(),
    ).select_related("pushchallenge", "token")
    return [
        challenge_payload(row.pushchallenge, row.token.serial)
        for row in sorted(rows, key=lambda r: r.pushchallenge.created_at)
    ]


def _device_token(serial) -> Token | None:
    if not isinstance(serial, str) or not 1 <= len(serial) <= 16:
        return None
    return (
        Token.objects.filter(
            serial=serial, state=Token.State.ACTIVE, device_public_key__isnull=False
        )
        .select_related("policy", "user")
        .first()
    )


def _signed_by(token: Token, signature, message: str) -> bool:
    try:
        raw = crypto.b64u_decode(signature) if isinstance(signature, str) else b""
    except ValueError:
        return False
    return crypto.verify_signature(bytes(token.device_public_key), raw, message)


def _device_refusal(action: str, serial, ip, detail: str) -> ServiceError:
    """Audit a device request that proved nothing; the error to raise."""
    audit_record(
        action=action,
        outcome="failure",
        serial=serial if isinstance(serial, str) else "",
        source="device-ws" if action == "device.connect" else "device-api",
        ip=ip,
    )
    return ServiceError("invalid_signature", detail, status=403)


def device_authenticate(
    *, serial, nonce: str, signature, ip: str | None = None
) -> Token:
    """PROTOCOL §4: the socket proves it holds the token's device key."""
    token = _device_token(serial)
    if token is None or not _signed_by(token, signature, f"tessera/v1/ws|{nonce}"):
        raise _device_refusal(
            "device.connect",
            serial,
            ip,
            "This token is not active here, or the signature does not match.",
        )
    return token


def device_poll(
    *, serial, timestamp, signature, ip: str | None = None, now: float | None = None
) -> list[dict]:
    """PROTOCOL §4's socket-less door: pending challenges for a signed request."""
    now = time.time() if now is None else now
    token = _device_token(serial)
    fresh = (
        isinstance(timestamp, str)
        and timestamp.isdigit()
        and len(timestamp) <= 12
        and abs(int(timestamp) - now) <= POLL_SKEW_SECONDS
    )
    if (
        token is None
        or not fresh
        or not _signed_by(token, signature, f"tessera/v1/poll|{serial}|{timestamp}")
    ):
        raise _device_refusal(
            "device.poll",
            serial,
            ip,
            "The signature, the time (±60 s) or the token is not valid.",
        )
    return push_pending_payloads([token.serial])


def _parse_answer(challenge_id, decision, number):
    try:
        pk = uuid.UUID(challenge_id) if isinstance(challenge_id, str) else None
    except ValueError:
        pk = None
    if pk is None:
        raise ServiceError("invalid_request", "id must be a challenge UUID.")
    if decision not in DECISIONS:
        raise ServiceError("invalid_request", "decision is approve, deny or fraud.")
    if number in (None, ""):
        return pk, ""
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ServiceError("invalid_request", "number must be a whole number or empty.")
    return pk, str(number)


def push_answer(
    *,
    challenge_id,
    serial,
    decision,
    number,
    signature,
    source: str,
    ip: str | None = None,
    otp=None,
) -> AnswerResult:
    """PROTOCOL §5: verify a device's signed answer; the first valid one decides.

    A version 2 answer also carries ``otp``, a current code of the token,
    signed with the rest: approving then proves that the token PIN opened the
    right seed. Once a token has answered so, its version 1 approvals are
    refused (no downgrade).
    """
    pk, number_text = _parse_answer(challenge_id, decision, number)
    if otp not in (None, "") and not (isinstance(otp, str) and otp.isdigit()):
        raise ServiceError("invalid_request", "otp must be digits.")
    otp = otp or ""
    refusal: ServiceError | None = None
    result: AnswerResult | None = None
    with transaction.atomic():
        # One query for the challenge and the answering token, when the
        # challenge went to that token; anything else is "no such request".
        link = next(
            iter(
                _Link.objects.select_related(
                    "pushchallenge", "token", "token__user"
                ).filter(
                    pushchallenge_id=pk,
                    token__serial=serial if isinstance(serial, str) else "",
                )[:1]
            ),
            None,
        )
        challenge = link.pushchallenge if link else None
        token = link.token if link else None
        message = (
            f"tessera/v2/answer|{pk}|{decision}|{number_text}|{otp}"
            if otp
            else f"tessera/v1/answer|{pk}|{decision}|{number_text}"
        )
        if link is None:
            refusal = ServiceError(
                "unknown_challenge", "There is no such request.", status=404
            )
        elif (
            token.state != Token.State.ACTIVE
            or not token.device_public_key
            or not token.user.is_active
        ):
            refusal = ServiceError(
                "token_unusable", "This token can no longer answer.", status=403
            )
        elif not _signed_by(token, signature, message):
            refusal = ServiceError(
                "invalid_signature",
                "The signature does not match this device's key.",
                status=403,
            )
        elif challenge.state == S.PENDING and challenge.expires_at <= timezone.now():
            _expire(challenge)
            refusal = ServiceError("expired", "This request has expired.", status=410)
        elif (
            challenge.state == S.PENDING
            and decision == "approve"
            and (problem := _proof_refusal(token, otp, challenge.username, source))
        ):
            refusal = problem
        else:
            result = _decide(challenge, token, decision, number_text, signature)
            if result is None:  # another answer came first
                refusal = ServiceError(
                    "already_answered",
                    f"This request was already {_state_now(challenge)}.",
                    status=409,
                )
        if refusal is not None:
            audit_record(
                action="push.answer",
                outcome="failure",
                username=challenge.username if challenge else "",
                serial=serial if isinstance(serial, str) else "",
                source=source,
                ip=ip,
                challenge=str(pk),
                error=refusal.code,
            )
        else:
            audit_record(
                action="push.answer",
                outcome="success" if result.state == S.APPROVED else "info",
                username=challenge.username,
                serial=token.serial,
                source=source,
                ip=ip,
                challenge=str(pk),
                decision=decision,
                **({"reason": result.reason} if result.reason else {}),
            )
    if refusal is not None:
        raise refusal
    return result


def _proof_refusal(token: Token, otp: str, username: str, source: str):
    """For an approval: a version 2 proof must match (a wrong one counts as a
    failed passcode); a token that gave one before must give one again."""
    if not otp:
        if token.push_proof:
            return ServiceError(
                "proof_required",
                "This device must prove its PIN to approve (protocol version 2).",
                status=403,
            )
        return None
    if not token_proves_seed(token, otp):
        token_count_failure(token=token, username=username, source=source)
        return ServiceError(
            "wrong_pin",
            "The PIN is not right (or the phone's clock is off).",
            status=403,
        )
    if not token.push_proof:
        Token.objects.filter(pk=token.pk).update(push_proof=True)
    return None


def _state_now(challenge: PushChallenge) -> str:
    return (
        PushChallenge.objects.filter(pk=challenge.pk)
        .values_list("state", flat=True)
        .first()
        or "answered"
    )


def _decide(challenge, token, decision, number_text, signature) -> AnswerResult | None:
    """Record the answer if the challenge is still pending (the conditional
    UPDATE makes the first answer the only one); None if it was not."""
    reason = ""
    state = S.APPROVED if decision == "approve" else S.DENIED
    if decision == "fraud":
        reason = "fraud"
    elif state == S.APPROVED and challenge.number is not None:
        if number_text != str(challenge.number):
            state, reason = S.DENIED, "wrong_number"
    now = timezone.now()
    fields = {
        "state": state,
        "fraud": decision == "fraud",
        "answered_at": now,
        "answered_by": token,
        "response_signature": signature,
    }
    if not PushChallenge.objects.filter(pk=challenge.pk, state=S.PENDING).update(
        **fields
    ):
        return None
    for name, value in fields.items():
        setattr(challenge, name, value)
    if state == S.APPROVED:
        Token.objects.filter(pk=token.pk).update(
            last_used_at=now,
            enrolled_at=Coalesce(F("enrolled_at"), now),
            failure_count=0,
        )
    announce_push_state(
        challenge.pk,
        state,
        fraud=decision == "fraud",
        answered_by=token.serial if state == S.APPROVED else "",
    )
    if decision == "fraud":
        _report_fraud(challenge, token)
    return AnswerResult(challenge, state, reason)


def _report_fraud(challenge: PushChallenge, token: Token) -> None:
    user = token.user
    locked: list[str] = []
    if any(t.policy.push_fraud_lock for t in challenge.tokens.select_related("policy")):
        live = Token.objects.filter(user=user, state=Token.State.ACTIVE)
        locked = list(live.values_list("serial", flat=True))
        # Locked until an administrator unlocks them, whatever auto-unlock says.
        live.update(state=Token.State.LOCKED, locked_until=None)
    audit_record(
        action="push.fraud",
        outcome="failure",
        username=challenge.username,
        serial=token.serial,
        source=challenge.source,
        ip=challenge.ip,
        challenge=str(challenge.pk),
        application=challenge.application,
        locked=locked,
    )
    if user.email:
        send_templated(
            to=user.email,
            template="push_fraud",
            context={
                "user": user,
                "challenge": challenge,
                "locked": locked,
            },
            username=user.get_username(),
        )


def push_for_client(challenge_id, client: str) -> PushChallenge | None:
    """A relying application's own challenge (others' ids look unknown)."""
    try:
        pk = uuid.UUID(str(challenge_id))
    except ValueError:
        return None
    return PushChallenge.objects.filter(pk=pk, client=client, source="api").first()


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
