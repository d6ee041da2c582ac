"""A device confirms its activation (PROTOCOL §3): it proves the device key
and the seed; the token becomes active on it."""

from __future__ import annotations

import copy
import time

from django.db import transaction
from django.utils import timezone

from tokens import crypto, oath
from tokens.events import announce_token_state
from tokens.models import Enrollment, Policy, Token
from tokens.services import keys
from tokens.services.enrollment.activate import audit_device_step, is_move
from tokens.services.errors import ServiceError
from tokens.services.pins import pin_rule_error
from tokens.services.tokeninfo import announce_unbound
from tokens.services.webauthn.uv import uv_registration, uv_required
from tokens.services.webpush import NO_SUBSCRIPTION


def _confirm_refusal(
    token: Token | None, otp, server_pin, signature
) -> ServiceError | None:
    if token is None or token.state != Token.State.ASSIGNED or not token.seed_encrypted:
        return ServiceError(
            "invalid_confirmation", "There is no activation waiting for this token."
        )
    if not isinstance(otp, str) or not otp.isdigit() or len(otp) != token.policy.digits:
        return ServiceError(
            "invalid_request", f"otp must be {token.policy.digits} digits."
        )
    if not isinstance(server_pin, str):
        return ServiceError("invalid_request", "server_pin must be a string.")
    message = f"tessera/v1/confirm|{token.serial}|{otp}|{server_pin}"
    if not crypto.verify_signature_text(
        bytes(token.device_public_key), signature, message
    ):
        return ServiceError(
            "invalid_signature", "The signature does not match this device's key."
        )
    if token.policy.pin_mode == Policy.PinMode.SERVER:
        problem = pin_rule_error(token.policy, server_pin)
        if problem:
            return ServiceError("invalid_pin", problem)
    elif server_pin != "":
        return ServiceError(
            "invalid_pin", "This token's policy has no server PIN; send an empty one."
        )
    return None


def _confirm_step(token: Token, otp: str, now: float) -> int | None:
    """The time step (TOTP) or counter (HOTP, always 0) that ``otp`` proves."""
    policy = token.policy
    seed = keys.open_seed(token.seed_encrypted, serial=token.serial)
    if policy.otp_kind == Policy.OtpKind.EVENT:
        code = oath.hotp(seed, 0, digits=policy.digits, algorithm=policy.algorithm)
        return 0 if crypto.constant_time_equal(code, otp) else None
    step = oath.time_step(now, policy.period)
    for t in range(step - policy.otp_window, step + policy.otp_window + 1):
        code = oath.hotp(seed, t, digits=policy.digits, algorithm=policy.algorithm)
        if crypto.constant_time_equal(code, otp):
            return t
    return None


def token_confirm(
    *,
    serial: str,
    otp: str,
    server_pin: str,
    signature: str,
    webauthn=None,
    ip: str | None = None,
    now: float | None = None,
) -> Token:
    """Run PROTOCOL §3: the device proves its key and its seed; token active.

    Under a ``user_verification: required`` policy the confirm also carries a
    platform credential (PROTOCOL §7), verified before the token activates.
    """
    now = time.time() if now is None else now
    refusal: ServiceError | None = None
    with transaction.atomic():
        token = (
            Token.objects.select_for_update()
            .select_related("policy", "user")
            .filter(serial=serial if isinstance(serial, str) else "")
            .first()
        )
        staged = _staged_enrollment(token)
        candidate = _as_staged(token, staged) if staged else token
        refusal = _confirm_refusal(candidate, otp, server_pin, signature)
        step = None
        if refusal is None:
            step = _confirm_step(candidate, otp, now)
            if step is None:
                refusal = (
                    _count_staged_failure(staged)
                    if staged
                    else _count_confirm_failure(token)
                )
        uv_fields = {}
        if refusal is None and uv_required(candidate):
            try:
                uv_fields = uv_registration(
                    token=candidate, otp=otp, credential=webauthn
                )
            except ServiceError as exc:
                refusal = exc
        if refusal is None:
            if staged:
                _move(token, staged)
            _activate(token, step, server_pin)
            if uv_fields:
                Token.objects.filter(pk=token.pk).update(**uv_fields)
        audit_device_step("enrollment.confirm", token, refusal, ip)
    if refusal:
        raise refusal
    token.refresh_from_db()
    return token


def _staged_enrollment(token: Token | None) -> Enrollment | None:
    """The open activation of a new device for a token that still works on
    its old one (a move), if one is waiting for its confirmation."""
    if token is None or not is_move(token):
        return None
    staged = (
        Enrollment.objects.filter(token=token, staged_device_key__isnull=False)
        .order_by("-pk")
        .first()
    )
    return staged if staged is not None and staged.is_open else None


def _as_staged(token: Token, staged: Enrollment) -> Token:
    """The token as it will be on the new device (not saved)."""
    candidate = copy.copy(token)
    candidate.state = Token.State.ASSIGNED
    candidate.device_public_key = bytes(staged.staged_device_key)
    candidate.seed_encrypted = staged.staged_seed
    candidate.failure_count = staged.attempts
    return candidate


def _count_staged_failure(staged: Enrollment) -> ServiceError:
    """Wrong confirmations of a move count on its activation (the token's own
    failure count belongs to the old device's passcodes); too many end it."""
    attempts = staged.attempts + 1
    if attempts >= staged.token.policy.activation_attempts:
        _unstage(staged, attempts=attempts)
        return _too_many()
    Enrollment.objects.filter(pk=staged.pk).update(attempts=attempts)
    return _wrong_otp()


def _unstage(staged: Enrollment, **fields) -> None:
    Enrollment.objects.filter(pk=staged.pk).update(
        staged_device_key=None,
        staged_seed="",
        staged_info_key="",
        code_sealed="",
        **fields,
    )


def _move(token: Token, staged: Enrollment) -> None:
    """The new device takes the token over; the old one is told it stops."""
    announce_unbound(token)  # signed with the old binding's key
    announce_token_state(token.serial, "moved")  # the move page's cue
    Token.objects.filter(pk=token.pk).update(
        seed_encrypted=staged.staged_seed,
        info_key_sealed=staged.staged_info_key,
        device_public_key=bytes(staged.staged_device_key),
        device_name=staged.staged_device_name,
        platform=staged.staged_platform,
        drift=0,
        lock_reason="",
        **NO_SUBSCRIPTION,  # the new device subscribes for itself
    )
    _unstage(staged)


def _count_confirm_failure(token: Token) -> ServiceError:
    failures = token.failure_count + 1
    if failures >= token.policy.activation_attempts:
        # Too many wrong confirmations: forget the device and its seed, so
        # the user has to start a new activation.
        Token.objects.filter(pk=token.pk).update(
            seed_encrypted="", device_public_key=None, failure_count=0
        )
        return _too_many()
    Token.objects.filter(pk=token.pk).update(failure_count=failures)
    return _wrong_otp()


def _too_many() -> ServiceError:
    return ServiceError(
        "too_many_attempts",
        "Too many wrong passcodes. Ask for a new activation string.",
    )


def _wrong_otp() -> ServiceError:
    return ServiceError(
        "invalid_otp",
        "The passcode does not match. Check the device's clock and try again.",
    )


def _activate(token: Token, step: int, server_pin: str) -> None:
    announce_token_state(token.serial, Token.State.ACTIVE)
    # Its activation is spent: the sealed code need not be kept.
    Enrollment.objects.filter(token=token).exclude(code_sealed="").update(
        code_sealed=""
    )
    is_event = token.policy.otp_kind == Policy.OtpKind.EVENT
    Token.objects.filter(pk=token.pk).update(
        state=Token.State.ACTIVE,
        confirmed=True,
        activated_at=timezone.now(),
        failure_count=0,
        last_t=-1 if is_event else step,
        counter=1 if is_event else 0,
        server_pin_digest=(
            keys.server_pin_digest(server_pin, serial=token.serial)
            if server_pin
            else ""
        ),
    )
