"""WebAuthn, verified on the server with py_webauthn.

``uv`` is PROTOCOL §7: the platform credential an app registers at
confirmation, whose assertion every approval of a ``user_verification:
required`` token carries. ``passkeys`` are the portal's second kind of
authenticator (passkeys and security keys), and passwordless login.
"""

from tokens.services.webauthn.common import expected_origin, relying_party_id
from tokens.services.webauthn.uv import uv_check_approval, uv_registration

__all__ = [
    "expected_origin",
    "relying_party_id",
    "uv_check_approval",
    "uv_registration",
]
