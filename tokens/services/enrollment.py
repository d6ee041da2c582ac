"""Assigning tokens and activating them on a device (PROTOCOL.md §1–§3).

The seed never travels: both sides derive it from an ECDH exchange, and the
server keeps it only encrypted. Activation codes are stored as digests.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tokens import crypto, oath
from tokens.events import announce_token_state
from tokens.models import Enrollment, Policy, Token
from tokens.selectors import policy_default
from tokens.services import keys
from tokens.services.audit import audit_record, audit_token_act
from tokens.services.errors import ServiceError
from tokens.services.keys import info_key_label
from tokens.services.notify import enrollment_email_send
from tokens.services.pins import pin_rule_error
from tokens.services.tokeninfo import announce_unbound, token_names
from tokens.services.webauthn.uv import uv_registration, uv_required
from tokens.services.webpush import NO_SUBSCRIPTION, webpush_public_key

DEFAULT_NAME = "Tessera token"  # until a device activates it


@dataclass(frozen=True)
class IssuedEnrollment:
    """What a user needs to activate a token; shown once, never stored."""

    token: Token
    enrollment: Enrollment
    activation_string: str
    link_code: str

    @property
    def activation_link(self) -> str:
        return f"{settings.SITE_URL}/app/#activate={self.activation_string}"

    @property
    def enrollment_url(self) -> str:
        return f"{settings.SITE_URL}/enroll/{self.link_code}/"

    def as_dict(self) -> dict:
        return {
            "serial": self.token.serial,
            "enrollment_url": self.enrollment_url,
            "activation_string": self.activation_string,
            "activation_link": self.activation_link,
        }


def _new_serial() -> str:
    for _ in range(20):
        digits = f"{secrets.randbelow(10**8):08d}"
        serial = f"TSR-{digits[:4]}-{digits[4:]}"
        if not Token.objects.filter(serial=serial).exists():
            return serial
    raise RuntimeError("could not find a free serial")


def _live_token_count(user) -> int:
    return Token.objects.filter(user=user).exclude(state=Token.State.REVOKED).count()


@transaction.atomic
def token_assign(
    *,
    user,
    policy: Policy | None = None,
    actor: str,
    name: str = "",
    notify: bool = True,
) -> IssuedEnrollment:
    """Create a token for ``user`` under ``policy`` and issue its enrollment."""
    policy = policy or policy_default()
    if _live_token_count(user) >= policy.max_tokens_per_user:
        raise ServiceError(
            "token_limit",
            f"{user.get_username()} already has the most tokens the policy "
            f"allows ({policy.max_tokens_per_user}).",
        )
    serial = _new_serial()
    token = Token.objects.create(
        user=user,
        policy=policy,
        serial=serial,
        name=name or DEFAULT_NAME,
        confirmed=False,
    )
    audit_record(
        action="token.assign",
        outcome="success",
        actor=actor,
        username=user.get_username(),
        serial=serial,
        policy=policy.name,
    )
    return enrollment_issue(token=token, actor=actor, notify=notify)


@transaction.atomic
def enrollment_issue(
    *, token: Token, actor: str, notify: bool = True
) -> IssuedEnrollment:
    """Issue a fresh activation string and link code; void earlier ones.

    With ``notify`` the user is emailed the self-enrollment link (after commit).
    """
    if token.state == Token.State.REVOKED:
        raise ServiceError("revoked", "A revoked token cannot be enrolled again.")
    now = timezone.now()
    Enrollment.objects.filter(
        token=token, used_at__isnull=True, voided_at__isnull=True
    ).update(voided_at=now)
    activation, activation_string = crypto.new_activation()
    link_code = secrets.token_urlsafe(24)
    enrollment = Enrollment.objects.create(
        token=token,
        enrollment_id=activation.enrollment_id.hex(),
        code_digest=crypto.sha256_hex(activation.code),
        link_digest=crypto.sha256_hex(link_code.encode()),
        expires_at=now + token.policy.enrollment_lifetime,
    )
    audit_token_act(
        action="enrollment.issue",
        token=token,
        actor=actor,
        expires=enrollment.expires_at.isoformat(),
    )
    issued = IssuedEnrollment(token, enrollment, activation_string, link_code)
    if notify:
        enrollment_email_send(issued)
    return issued


def enrollment_by_link(link_code: str) -> Enrollment | None:
    """The open enrollment a self-enrollment link names, or None."""
    if not isinstance(link_code, str) or not 10 <= len(link_code) <= 64:
        return None
    enrollment = (
        Enrollment.objects.select_related("token__policy", "token__user")
        .filter(link_digest=crypto.sha256_hex(link_code.encode()))
        .first()
    )
    if enrollment is None or not enrollment.is_open:
        return None
    return enrollment


@transaction.atomic
def enrollment_reveal(*, enrollment: Enrollment, ip: str | None = None) -> str:
    """A fresh activation string for a page that shows one (link page, wizard).

    Only a digest of the code is kept, so showing the string means minting a
    new code; the one shown before stops working.
    """
    activation, text = crypto.new_activation()
    Enrollment.objects.filter(pk=enrollment.pk).update(
        enrollment_id=activation.enrollment_id.hex(),
        code_digest=crypto.sha256_hex(activation.code),
    )
    audit_record(
        action="enrollment.reveal",
        outcome="info",
        username=enrollment.token.user.get_username(),
        serial=enrollment.token.serial,
        source="portal",
        ip=ip,
    )
    return text


def _audit_device_step(
    action: str, token: Token | None, refusal: ServiceError | None, ip, **detail
) -> None:
    audit_record(
        action=action,
        outcome="failure" if refusal else "success",
        username=token.user.get_username() if token else "",
        serial=token.serial if token else "",
        source="device-api",
        ip=ip,
        **({"error": refusal.code} if refusal else detail),
    )


def _decode_public_key(value, field: str) -> bytes:
    try:
        raw = crypto.b64u_decode(value)
        crypto.load_p256_public(raw)
    except ValueError as exc:
        raise ServiceError(
            "invalid_request",
            f"{field} must be a base64url P-256 public key (65-byte point).",
        ) from exc
    return raw


def _enrollment_refusal(enrollment: Enrollment) -> ServiceError | None:
    restart = enrollment.used_at and enrollment.awaits_confirmation
    if (enrollment.used_at and not restart) or enrollment.voided_at:
        return ServiceError(
            "already_used",
            "This activation string has been used or replaced. "
            "Ask for a new one from the self-enrollment page or your administrator.",
        )
    if enrollment.expires_at <= timezone.now():
        return ServiceError(
            "expired",
            "This activation string has expired. Ask for a new one.",
        )
    if enrollment.attempts >= enrollment.token.policy.activation_attempts:
        return ServiceError(
            "too_many_attempts",
            "This activation string was tried too many times. Ask for a new one.",
        )
    return None


def enrollment_activate(
    *,
    activation: str,
    ecdh_public_key: str,
    device_public_key: str,
    device_name: str = "",
    platform: str = "",
    ip: str | None = None,
) -> dict:
    """Run PROTOCOL §2 for a device; return the answer body.

    A wrong code counts an attempt (committed even though the call fails);
    a right one binds the token to the device key and a freshly derived seed.
    """
    try:
        parsed = crypto.activation_parse(activation)
    except crypto.ActivationStringError as exc:
        raise ServiceError(exc.code, str(exc)) from exc
    ecdh_raw = _decode_public_key(ecdh_public_key, "ecdh_public_key")
    device_raw = _decode_public_key(device_public_key, "device_public_key")

    refusal: ServiceError | None = None
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update()
            .select_related("token__policy", "token__user")
            .filter(enrollment_id=parsed.enrollment_id.hex())
            .first()
        )
        if enrollment is None:
            refusal = ServiceError(
                "invalid_activation",
                "This activation string is not known here. Check that it is for "
                "this server, or ask for a new one.",
            )
        else:
            refusal = _enrollment_refusal(enrollment)
        if refusal is None and not crypto.constant_time_equal(
            enrollment.code_digest, crypto.sha256_hex(parsed.code)
        ):
            Enrollment.objects.filter(pk=enrollment.pk).update(
                attempts=F("attempts") + 1
            )
            refusal = ServiceError(
                "invalid_activation",
                "This activation string is not valid. Check it, or ask for a new one.",
            )
        if refusal is None:
            if enrollment.used_at:  # a restart: it counts, so restarts are few
                Enrollment.objects.filter(pk=enrollment.pk).update(
                    attempts=F("attempts") + 1
                )
            response = _bind_device(
                enrollment, ecdh_raw, device_raw, device_name[:64], platform[:32]
            )
        _audit_device_step(
            "enrollment.activate",
            enrollment.token if enrollment else None,
            refusal,
            ip,
            device=device_name[:64],
            **({"restart": True} if enrollment and enrollment.used_at else {}),
        )
    if refusal:
        raise refusal
    return response


def _bind_device(
    enrollment: Enrollment,
    ecdh_raw: bytes,
    device_raw: bytes,
    device_name: str,
    platform: str,
) -> dict:
    token = enrollment.token
    policy = token.policy
    server_key = ec.generate_private_key(ec.SECP256R1())
    seed, info_key = crypto.derive_keys(
        private_key=server_key,
        peer_public=crypto.load_p256_public(ecdh_raw),
        enrollment_id=bytes.fromhex(enrollment.enrollment_id),
        serial=token.serial,
        algorithm=policy.algorithm,
    )
    announce_unbound(token)  # the device it was bound to, if any, stops here
    announce_token_state(token.serial, Token.State.ASSIGNED)  # pages that watch
    if token.name == DEFAULT_NAME:
        # Named for where it lives, so two tokens of one account differ.
        token.name = f"{device_name or 'Authenticator'} ({token.serial[-4:]})"
    Token.objects.filter(pk=token.pk).update(
        name=token.name,
        seed_encrypted=keys.seal_seed(seed, serial=token.serial),
        info_key_sealed=keys.seal_seed(info_key, serial=info_key_label(token.serial)),
        device_public_key=device_raw,
        device_name=device_name,
        platform=platform,
        state=Token.State.ASSIGNED,
        confirmed=False,
        last_t=-1,
        counter=0,
        drift=0,
        failure_count=0,
        server_pin_digest="",
        activated_at=None,
        **NO_SUBSCRIPTION,  # a new device subscribes for itself
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(used_at=timezone.now())
    return {
        "serial": token.serial,
        "label": token.user.email or token.user.get_username(),
        **token_names(token),
        "server_ecdh_public_key": crypto.b64u_encode(
            crypto.export_p256_public(server_key.public_key())
        ),
        "otp": policy.otp_description(),
        "policy": policy.device_policy(),
        **({"webpush_public_key": vapid} if (vapid := webpush_public_key()) else {}),
    }


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
        _audit_device_step("enrollment.confirm", token, refusal, ip)
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
