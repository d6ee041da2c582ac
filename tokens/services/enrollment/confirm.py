"""A device confirms its activation (PROTOCOL §3): it proves the device key
and the seed; the token becomes active on it."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from tokens import crypto, oath
from tokens.events import announce_token_state
from tokens.models import Policy, Token
from tokens.services import keys
from tokens.services.enrollment.activate import audit_device_step
from tokens.services.errors import ServiceError
from tokens.services.pins import pin_rule_error
from tokens.services.webauthn.uv import uv_registration, uv_required


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
        refusal = _confirm_refusal(token, otp, server_pin, signature)
        step = None
        if refusal is None:
            step = _confirm_step(token, otp, now)
            if step is None:
                refusal = _count_confirm_failure(token)
        uv_fields = {}
        if refusal is None and uv_required(token):
            try:
                uv_fields = uv_registration(token=token, otp=otp, credential=webauthn)
            except ServiceError as exc:
                refusal = exc
        if refusal is None:
            _activate(token, step, server_pin)
            if uv_fields:
                Token.objects.filter(pk=token.pk).update(**uv_fields)
        audit_device_step("enrollment.confirm", token, refusal, ip)
    if refusal:
        raise refusal
    token.refresh_from_db()
    return token


def _count_confirm_failure(token: Token) -> ServiceError:
    failures = token.failure_count + 1
    if failures >= token.policy.activation_attempts:
        # Too many wrong confirmations: forget the device and its seed, so
        # the user has to start a new activation.
        Token.objects.filter(pk=token.pk).update(
            seed_encrypted="", device_public_key=None, failure_count=0
        )
        return ServiceError(
            "too_many_attempts",
            "Too many wrong passcodes. Ask for a new activation string.",
        )
    Token.objects.filter(pk=token.pk).update(failure_count=failures)
    return ServiceError(
        "invalid_otp",
        "The passcode does not match. Check the device's clock and try again.",
    )


def _activate(token: Token, step: int, server_pin: str) -> None:
    announce_token_state(token.serial, Token.State.ACTIVE)
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
