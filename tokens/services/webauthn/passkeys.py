"""Passkeys and security keys: the portal's second kind of authenticator.

Guarantees:
- options are made here and their challenge is kept by the caller (the
  session) for one use; a response is verified with py_webauthn against that
  challenge, SITE_URL's origin and rp id, and the policy's user verification;
- a credential belongs to one user: a login names the user (after the
  password) and accepts only that user's passkeys; a passwordless login finds
  the passkey by its id, checks the user handle, and counts as both factors
  only when the authenticator verified the user;
- sign counts never go backwards (a cloned key is refused), and every
  registration, use, failure, rename and removal is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tokens.models import Passkey, Policy
from tokens.selectors import policy_default
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.webauthn.common import (
    WEBAUTHN_PROBLEMS,
    expected_origin,
    relying_party_id,
)

# Names of common authenticators by AAGUID (the FIDO metadata service is not
# reachable from every deployment; the user can rename anything).
KNOWN_AAGUIDS = {
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (managed)",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
    "cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5",
    "ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 NFC",
    "fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 NFC",
    "2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 NFC",
    "149a2021-8ef6-4133-96b8-81f8d5b7f1f5": "Security Key by Yubico",
}
_VERIFICATION = {
    Policy.PasskeyVerification.REQUIRED: UserVerificationRequirement.REQUIRED,
    Policy.PasskeyVerification.PREFERRED: UserVerificationRequirement.PREFERRED,
    Policy.PasskeyVerification.DISCOURAGED: UserVerificationRequirement.DISCOURAGED,
}


def _refusal(detail: str) -> ServiceError:
    return ServiceError("passkey_refused", detail, status=403)


def user_handle(user) -> bytes:
    """A stable, opaque user id for authenticators (never the username)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"tessera/passkey-user|{user.pk}".encode(), "sha256").digest()[
        :16
    ]


def _verification() -> str:
    return policy_default().passkey_user_verification


def passkey_registration_options(*, user) -> tuple[str, bytes]:
    """(options as JSON for parseCreationOptionsFromJSON, the challenge)."""
    options = generate_registration_options(
        rp_id=relying_party_id(),
        rp_name="Tessera",
        user_id=user_handle(user),
        user_name=user.get_username(),
        user_display_name=user.get_full_name() or user.get_username(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=_VERIFICATION[_verification()],
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in Passkey.objects.filter(user=user)
        ],
    )
    # credProps: the browser says whether the passkey is discoverable.
    text = json.dumps(
        {**json.loads(options_to_json(options)), "extensions": {"credProps": True}}
    )
    return text, options.challenge


def _default_name(aaguid: str, attachment: str | None) -> str:
    if aaguid in KNOWN_AAGUIDS:
        return KNOWN_AAGUIDS[aaguid]
    return "Security key" if attachment == "cross-platform" else "Passkey"


def passkey_register(
    *, user, credential, challenge: bytes, name: str = "", ip=None
) -> Passkey:
    """Verify a registration response and keep the passkey."""
    required = _verification() == Policy.PasskeyVerification.REQUIRED
    try:
        if not isinstance(credential, dict):
            raise ValueError("not a credential")
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=relying_party_id(),
            expected_origin=expected_origin(),
            require_user_verification=required,
        )
    except WEBAUTHN_PROBLEMS as exc:
        audit_record(
            action="passkey.register",
            outcome="failure",
            username=user.get_username(),
            source="portal",
            ip=ip,
            reason=type(exc).__name__,
        )
        raise _refusal("The passkey could not be verified. Try again.") from exc
    props = (credential.get("clientExtensionResults") or {}).get("credProps") or {}
    passkey = Passkey.objects.create(
        user=user,
        name=(
            name.strip()[:64]
            or _default_name(verified.aaguid, credential.get("authenticatorAttachment"))
        ),
        confirmed=True,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        discoverable=bool(props.get("rk")),
        user_verified=verified.user_verified,
        transports=list((credential.get("response") or {}).get("transports") or [])[:8],
    )
    audit_record(
        action="passkey.register",
        outcome="success",
        username=user.get_username(),
        source="portal",
        ip=ip,
        passkey=passkey.pk,
        name=passkey.name,
        aaguid=passkey.aaguid,
    )
    return passkey


def passkey_authentication_options(*, user=None) -> tuple[str, bytes]:
    """Options for a login: with ``user``, that user's passkeys; without, a
    passwordless login with any discoverable passkey (user verified)."""
    allowed = (
        [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in Passkey.objects.filter(user=user)
        ]
        if user is not None
        else []
    )
    verification = (
        UserVerificationRequirement.REQUIRED
        if user is None
        else _VERIFICATION[_verification()]
    )
    options = generate_authentication_options(
        rp_id=relying_party_id(),
        allow_credentials=allowed,
        user_verification=verification,
    )
    return options_to_json(options), options.challenge


def passkey_authenticate(
    *, credential, challenge: bytes, user=None, ip=None, source: str = "portal"
) -> Passkey:
    """Verify a login assertion; the passkey used. Without ``user`` this is a
    passwordless login, which needs the user verified (both factors)."""
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    passkey = (
        Passkey.objects.select_related("user")
        .filter(credential_id=credential_id if isinstance(credential_id, str) else "")
        .first()
    )
    username = user.get_username() if user is not None else ""
    problem = None
    if passkey is None or not passkey.user.is_active:
        problem = "unknown passkey"
    elif user is not None and passkey.user_id != user.pk:
        problem = "another user's passkey"
    elif user is None and not _handle_matches(credential, passkey.user):
        problem = "user handle"
    verified = None
    if problem is None:
        required = (
            user is None or _verification() == Policy.PasskeyVerification.REQUIRED
        )
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=relying_party_id(),
                expected_origin=expected_origin(),
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=required,
            )
        except WEBAUTHN_PROBLEMS as exc:
            problem = type(exc).__name__
    if problem is None:
        with transaction.atomic():
            moved = Passkey.objects.filter(
                pk=passkey.pk, sign_count=passkey.sign_count
            ).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
        if not moved:
            problem = "replayed"
    audit_record(
        action="passkey.use",
        outcome="failure" if problem else "success",
        username=passkey.user.get_username() if passkey else username,
        source=source,
        ip=ip,
        passwordless=user is None,
        **({"passkey": passkey.pk} if passkey else {}),
        **({"reason": problem} if problem else {}),
    )
    if problem:
        raise _refusal("That passkey could not be verified.")
    passkey.sign_count = verified.new_sign_count
    return passkey


def _handle_matches(credential: dict, user) -> bool:
    handle = (credential.get("response") or {}).get("userHandle")
    if not handle:
        return True  # not every authenticator returns it; the id decides
    try:
        return hmac.compare_digest(base64url_to_bytes(handle), user_handle(user))
    except (ValueError, TypeError):
        return False


def passkey_rename(*, passkey: Passkey, name: str, actor: str) -> Passkey:
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise ServiceError("invalid_name", "A name has 1 to 64 characters.")
    Passkey.objects.filter(pk=passkey.pk).update(name=name)
    passkey.name = name
    audit_record(
        action="passkey.rename",
        outcome="success",
        actor=actor,
        username=passkey.user.get_username(),
        passkey=passkey.pk,
    )
    return passkey


def passkey_remove(*, passkey: Passkey, actor: str, ip=None) -> None:
    """Remove (the user) or revoke (an admin) a passkey; the audit keeps it."""
    audit_record(
        action="passkey.remove",
        outcome="success",
        actor=actor,
        username=passkey.user.get_username(),
        ip=ip,
        passkey=passkey.pk,
        name=passkey.name,
        credential=hashlib.sha256(passkey.credential_id.encode()).hexdigest()[:16],
    )
    passkey.delete()
