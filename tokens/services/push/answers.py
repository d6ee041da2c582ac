"""Signed answers (PROTOCOL §5): the first valid one decides."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tokens.events import announce_push_state
from tokens.models import (
    LOCK_FRAUD,
    TAKES_PUSH,
    AuditEvent,
    Policy,
    PushChallenge,
    Token,
)
from tokens.prepared import PreparedSelect, update_then_insert
from tokens.services.audit import audit_record, audit_values
from tokens.services.devicekeys import signed_by
from tokens.services.errors import ServiceError
from tokens.services.lockout import token_count_failure
from tokens.services.notify import send_templated
from tokens.services.otp import token_proves_seed
from tokens.services.push.challenges import ChallengeLink, S, challenge_expire
from tokens.services.webauthn.uv import uv_check_approval, uv_required

DECISIONS = ("approve", "deny", "fraud")


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


def _parse_answer(challenge_id, serial, decision, number):
    if not isinstance(serial, str) or not 1 <= len(serial) <= 16:
        raise ServiceError("invalid_request", "serial is 1 to 16 characters.")
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


# The challenge and the answering token (with its user and policy), when the
# challenge went to that token: an answer's look-up, compiled once.
_link_of = PreparedSelect(
    lambda serial, pk: ChallengeLink.objects.select_related(
        "pushchallenge", "token", "token__user", "token__policy"
    ).filter(pushchallenge_id=pk, token__serial=serial),
    "serial",
    typed={"pk": PushChallenge._meta.pk},
)


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
    webauthn=None,
) -> AnswerResult:
    """PROTOCOL §5: verify a device's signed answer; the first valid one decides.

    A version 2 answer also carries ``otp``, a current code of the token,
    signed with the rest: approving then proves that the token PIN opened the
    right seed. Once a token has answered so, its version 1 approvals are
    refused (no downgrade). Under ``user_verification: required`` an approval
    also carries ``webauthn``, an assertion over the signed text (§7).
    """
    pk, number_text = _parse_answer(challenge_id, serial, decision, number)
    if otp not in (None, "") and not (isinstance(otp, str) and otp.isdigit()):
        raise ServiceError("invalid_request", "otp must be digits.")
    otp = otp or ""
    # One query for the challenge and the answering token, when the challenge
    # went to that token; anything else is "no such request". Read outside a
    # transaction: the answer's UPDATE holds only while the request is
    # pending, so the first answer decides whatever was read.
    link = next(iter(_link_of(pk=pk, serial=serial)), None)
    challenge = link.pushchallenge if link else None
    token = link.token if link else None
    message = (
        f"tessera/v2/answer|{pk}|{decision}|{number_text}|{otp}"
        if otp
        else f"tessera/v1/answer|{pk}|{decision}|{number_text}"
    )
    audit = {
        "action": "push.answer",
        "username": challenge.username if challenge else "",
        "serial": serial,
        "source": source,
        "ip": ip,
        "challenge": str(pk),
        "version": 2 if otp else 1,
    }
    refusal = _refusal_by_sender(link, signature, message)
    result: AnswerResult | None = None
    if refusal is None:
        # Only a genuine device's proof is checked (it opens the seed).
        proves = bool(otp) and token_proves_seed(token, otp)
        # A plain answer is one statement with its audit row (one round trip
        # on PostgreSQL); one that writes more first (a wrong PIN's count,
        # the first proof, a fingerprint's count, an expiry, a fraud report)
        # is one transaction.
        # One moment for both, so an expiry seen is an expiry planned for.
        now = timezone.now()
        writes_more = _writes_more(challenge, token, decision, otp, proves, now)
        with transaction.atomic() if writes_more else nullcontext():
            refusal = _refusal_by_state(
                challenge, token, decision, otp, proves, message, webauthn, source, now
            )
            if refusal is None:
                decided = {
                    **audit,
                    "decision": decision,
                    "pin_proof": bool(otp),
                    "webauthn": decision == "approve" and uv_required(token),
                }
                result = _decide(
                    challenge, token, decision, number_text, signature, decided
                )
                if result is None:  # another answer came first
                    refusal = ServiceError(
                        "already_answered",
                        f"This request was already {_state_now(challenge)}.",
                        status=409,
                    )
            if refusal is not None:
                audit_record(**audit, outcome="failure", error=refusal.code)
    else:
        audit_record(**audit, outcome="failure", error=refusal.code)
    if refusal is not None:
        raise refusal
    return result


def _refusal_by_sender(link, signature, message: str) -> ServiceError | None:
    """Refusals that write nothing but their audit row: no such request for
    this token, a token that can no longer answer, a wrong signature."""
    if link is None:
        return ServiceError(
            "unknown_challenge", "There is no such request.", status=404
        )
    token = link.token
    if not token.takes_push or not token.device_public_key or not token.user.is_active:
        return ServiceError(
            "token_unusable", "This token can no longer answer.", status=403
        )
    if not signed_by(token, signature, message):
        return ServiceError(
            "invalid_signature",
            "The signature does not match this device's key.",
            status=403,
        )
    return None


def _writes_more(challenge, token, decision: str, otp: str, proves: bool, now) -> bool:
    """Whether answering may write more than the answer and its audit row."""
    if challenge.state != S.PENDING:
        return False  # refused as already answered: its audit row alone
    return bool(
        decision == "fraud"
        or challenge.expires_at <= now
        or (otp and decision == "approve" and not (proves and token.push_proof))
        or (decision == "approve" and uv_required(token))
    )


def _refusal_by_state(
    challenge, token, decision, otp, proves, message, webauthn, source, now
) -> ServiceError | None:
    """Refusals by the request's time, the PIN's proof and the fingerprint."""
    if challenge.state != S.PENDING:
        return None  # _decide finds it answered
    if challenge.expires_at <= now:
        challenge_expire(challenge)
        return ServiceError("expired", "This request has expired.", status=410)
    # A fraud report locks tokens: a copy of the phone's storage must not do
    # that without the PIN either.
    if decision in ("approve", "fraud") and (
        problem := _proof_refusal(token, otp, proves, challenge.username, source)
    ):
        return problem
    if decision == "approve":
        return _uv_refusal(token, message, webauthn)
    return None


def _proof_refusal(token: Token, otp: str, proves: bool, username: str, source: str):
    """For an approval: a version 2 proof must match (a wrong one counts as a
    failed passcode). A token whose policy has a token PIN must give one from
    its first approval (a copy of the phone's storage can sign a version 1
    answer without the PIN), and so must a token that gave one before."""
    if not otp:
        if token.push_proof or token.policy.pin_mode == Policy.PinMode.TOKEN:
            return ServiceError(
                "proof_required",
                "This token has a token PIN: approving or reporting needs the "
                "PIN's proof (a version 2 answer with a current code).",
                status=403,
            )
        return None
    if not proves:
        token_count_failure(token=token, username=username, source=source)
        return ServiceError(
            "wrong_pin",
            "The PIN is not right (or the phone's clock is off).",
            status=403,
        )
    if not token.push_proof:
        Token.objects.filter(pk=token.pk).update(push_proof=True)
    return None


def _uv_refusal(token: Token, signed_text: str, credential):
    """§7: an approval of a ``required`` token carries a fresh assertion; its
    sign count moves on only if no other answer moved it first."""
    if not uv_required(token):
        return None
    try:
        count = uv_check_approval(
            token=token, signed_text=signed_text, credential=credential
        )
    except ServiceError as exc:
        return exc
    moved = Token.objects.filter(pk=token.pk, uv_sign_count=token.uv_sign_count).update(
        uv_sign_count=count
    )
    if not moved:
        return ServiceError(
            "user_verification_required",
            "This fingerprint check was already used.",
            status=403,
        )
    return None


def _state_now(challenge: PushChallenge) -> str:
    return (
        PushChallenge.objects.filter(pk=challenge.pk)
        .values_list("state", flat=True)
        .first()
        or "answered"
    )


def _decide(
    challenge, token, decision, number_text, signature, audit: dict
) -> AnswerResult | None:
    """Record the answer and its audit row if the challenge is still pending
    (the conditional UPDATE makes the first answer the only one); None if it
    was not."""
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
    approved = {"last_used_at": now, "failure_count": 0, "lockouts": 0}
    if token.enrolled_at is None:  # the first use dates the enrollment; two
        approved["enrolled_at"] = now  # at once write the same moment
    # First answer wins: the UPDATE holds only while the request is pending.
    if not update_then_insert(
        PushChallenge,
        set_values={**fields, "answered_by": token.pk},
        where={"pk": ("=", challenge.pk), "state": ("=", S.PENDING)},
        also=[(Token, approved, {"pk": ("=", token.pk)})]
        if state == S.APPROVED
        else [],
        insert=(
            AuditEvent,
            audit_values(
                **audit,
                outcome="success" if state == S.APPROVED else "info",
                **({"reason": reason} if reason else {}),
            ),
        ),
    ):
        return None
    for name, value in fields.items():
        setattr(challenge, name, value)
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
        live = Token.objects.filter(TAKES_PUSH, user=user)
        locked = list(live.values_list("serial", flat=True))
        # Locked until an administrator unlocks them, whatever auto-unlock
        # says, and closed to login requests too.
        live.update(state=Token.State.LOCKED, locked_until=None, lock_reason=LOCK_FRAUD)
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
