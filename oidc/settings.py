"""django-oauth-toolkit's settings for Tessera (read once by
``config.settings``; no Django import here)."""

from __future__ import annotations

from pathlib import Path


def oidc_settings(*, site_url: str, private_key: str, old_keys_file: str, https: bool):
    """OpenID Connect on when there is a signing key. Old signing keys (the
    PEMs in ``old_keys_file``) stay in the JWKS until the tokens they signed
    have expired; then remove them."""
    old = (
        [
            "-----BEGIN" + part
            for part in Path(old_keys_file).read_text().split("-----BEGIN")[1:]
        ]
        if old_keys_file
        else []
    )
    return {
        "OIDC_ENABLED": bool(private_key),
        "OIDC_RSA_PRIVATE_KEY": private_key,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": old,
        "OIDC_ISS_ENDPOINT": site_url + "/o",
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
        "OAUTH2_VALIDATOR_CLASS": "oidc.validator.TesseraValidator",
        "APPLICATION_ADMIN_CLASS": "oidc.admin.TesseraApplicationAdmin",
        "SCOPES": {
            "openid": "Sign you in",
            "profile": "Your name and username",
            "email": "Your email address",
            "offline_access": "Stay signed in (refresh tokens)",
        },
        "DEFAULT_SCOPES": ["openid"],
        "PKCE_REQUIRED": True,  # for public clients; see oidc.validator
        "ACCESS_TOKEN_EXPIRE_SECONDS": 600,
        "ID_TOKEN_EXPIRE_SECONDS": 600,
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
        "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
        "ROTATE_REFRESH_TOKEN": True,
        "REQUEST_APPROVAL_PROMPT": "auto",
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if https else ["https", "http"],
        # The OAuth 2.0 Security BCP (RFC 9700), all of it: no implicit or
        # password grants, S256 only, no tokens in URLs, the iss parameter
        # in authorization responses, tokens stored as digests, and a
        # replayed refresh token revokes its whole family.
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
    }
