"""PROTOCOL §7: user verification the server checks on push approvals.

Guarantees:
- a token whose policy says ``user_verification: required`` is confirmed only
  with a platform credential that verified the user (UV flag), made for this
  server (rp id and origin from SITE_URL) over the challenge derived from the
  confirm's own serial and code, so no extra round trip is needed;
- each approval of such a token must carry an assertion of that credential
  over SHA-256 of the answer's signed text (version 1 or 2, as signed), with
  UV set and a sign count that never goes backwards when non-zero: an answer
  signed with a copied device key, without the phone's authenticator, is
  refused (``user_verification_required``), and so is a replayed assertion.
"""

from __future__ import annotations

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import bytes_to_base64url

from tokens.models import Policy, Token
from tokens.services.errors import ServiceError
from tokens.services.webauthn.common import (
    WEBAUTHN_PROBLEMS,
    expected_origin,
    relying_party_id,
    text_challenge,
)


def uv_required(token: Token) -> bool:
    return token.policy.user_verification == Policy.UserVerification.REQUIRED


def _refusal(detail: str) -> ServiceError:
    return ServiceError("user_verification_required", detail, status=403)


def uv_registration(*, token: Token, otp: str, credential) -> dict:
    """Verify the confirm's ``webauthn`` credential; the Token fields to keep."""
    if not isinstance(credential, dict):
        raise _refusal(
            "This token needs a fingerprint or face unlock registered with the "
            "server: confirm with a WebAuthn credential (PROTOCOL §7)."
        )
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=text_challenge(
                f"tessera/v1/uv-register|{token.serial}|{otp}"
            ),
            expected_rp_id=relying_party_id(),
            expected_origin=expected_origin(),
            require_user_verification=True,
        )
    except WEBAUTHN_PROBLEMS as exc:
        raise _refusal(
            "The fingerprint or face credential could not be verified."
        ) from exc
    return {
        "uv_credential_id": bytes_to_base64url(verified.credential_id),
        "uv_public_key": verified.credential_public_key,
        "uv_sign_count": verified.sign_count,
    }


def uv_check_approval(*, token: Token, signed_text: str, credential) -> int:
    """Verify an approval's assertion; returns the new sign count."""
    if not token.uv_credential_id or not token.uv_public_key:
        raise _refusal("This token has no verified fingerprint credential.")
    if (
        not isinstance(credential, dict)
        or credential.get("id") != token.uv_credential_id
    ):
        raise _refusal(
            "Approving needs your fingerprint or face unlock (a WebAuthn "
            "assertion of this token's credential)."
        )
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=text_challenge(signed_text),
            expected_rp_id=relying_party_id(),
            expected_origin=expected_origin(),
            credential_public_key=bytes(token.uv_public_key),
            credential_current_sign_count=token.uv_sign_count,
            require_user_verification=True,
        )
    except WEBAUTHN_PROBLEMS as exc:
        raise _refusal(
            "The fingerprint or face check could not be verified for this request."
        ) from exc
    return verified.new_sign_count
