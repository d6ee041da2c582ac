"""A device activates a token (PROTOCOL §2): the enrollment is checked, the
device key bound, and the seed derived on both sides, never sent."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tokens import crypto
from tokens.events import announce_token_state
from tokens.models import Enrollment, Token
from tokens.services import keys
from tokens.services.audit import audit_record
from tokens.services.enrollment.assign import DEFAULT_NAME
from tokens.services.errors import ServiceError
from tokens.services.keys import info_key_label
from tokens.services.tokeninfo import announce_unbound, token_names
from tokens.services.webpush import NO_SUBSCRIPTION, webpush_public_key


def audit_device_step(
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


def is_move(token: Token) -> bool:
    """Whether activating ``token`` now moves it: it works on a device."""
    return token.state in (Token.State.ACTIVE, Token.State.LOCKED) and bool(
        token.device_public_key
    )


def device_token_name(token: Token, device_name: str) -> str:
    """A token's name once a device holds it: what it is for (its policy,
    unless the default one, else the deployment), then the device, so a
    person tells a user's tokens apart; the serial's last digits only when
    another of the user's tokens already has that name."""
    policy = token.policy
    service = settings.TESSERA_ISSUER if policy.is_default else policy.name
    name = f"{service} · {device_name or 'Authenticator'}"[:56]
    taken = (
        Token.objects.filter(user_id=token.user_id, name=name)
        .exclude(pk=token.pk)
        .exclude(state=Token.State.REVOKED)
        .exists()
    )
    return f"{name} ({token.serial[-4:]})" if taken else name


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
        audit_device_step(
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
    seed_sealed = keys.seal_seed(seed, serial=token.serial)
    info_sealed = keys.seal_seed(info_key, serial=info_key_label(token.serial))
    if is_move(token):
        # The new device is staged; the old one keeps working until the new
        # one confirms (§3).
        Enrollment.objects.filter(pk=enrollment.pk).update(
            used_at=timezone.now(),
            staged_device_key=device_raw,
            staged_seed=seed_sealed,
            staged_info_key=info_sealed,
            staged_device_name=device_name,
            staged_platform=platform,
        )
    else:
        announce_unbound(token)  # the device it was bound to, if any, stops here
        announce_token_state(token.serial, Token.State.ASSIGNED)  # pages that watch
        if token.name == DEFAULT_NAME:
            token.name = device_token_name(token, device_name)
        Token.objects.filter(pk=token.pk).update(
            name=token.name,
            seed_encrypted=seed_sealed,
            info_key_sealed=info_sealed,
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
