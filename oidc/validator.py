"""django-oauth-toolkit's validator, telling the truth about the login.

- ``sub`` is stable and opaque: an HMAC of the user's id with a key of this
  server, the same for every application (the user's id is not exposed);
- ``preferred_username``, ``name`` (``profile``) and ``email`` (``email``)
  by scope;
- the ID token's ``auth_time`` is when the second factor finished, ``amr``
  what was used (RFC 8176) and ``acr`` ``urn:tessera:mfa``; they come from
  the login that authorized the grant (``LoginRecord``), and stay those of
  that login in ID tokens refreshed from it;
- token issues and revocations are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from oidc.models import LoginRecord
from oidc.policy import pkce_required
from tokens.services.audit import audit_record
from tokens.services.factors import session_login

# The Django request of the authorization endpoint, for prompt=none's checks
# (oauthlib asks the validator; the validator sees only oauthlib's request).
current_request: ContextVar = ContextVar("tessera_oidc_request", default=None)

CLAIM_SCOPE = {
    "sub": "openid",
    "preferred_username": "profile",
    "name": "profile",
    "given_name": "profile",
    "family_name": "profile",
    "email": "email",
    "email_verified": "email",
    "amr": "openid",
    "acr": "openid",
}


def subject(user) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(
        key, f"tessera/oidc/sub|{user.pk}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TesseraValidator(OAuth2Validator):
    oidc_claim_scope = CLAIM_SCOPE

    def get_claim_dict(self, request):
        user = request.user
        claims = {
            "sub": subject(user),
            "preferred_username": user.get_username(),
            "name": user.get_full_name() or user.get_username(),
            "given_name": user.first_name,
            "family_name": user.last_name,
            "email": user.email,
            "email_verified": bool(user.email),
        }
        record = getattr(request, "tessera_login", None)
        if record is not None:
            claims["amr"] = record.amr
            claims["acr"] = record.acr
        return {k: v for k, v in claims.items() if v not in ("", None)}

    def validate_silent_login(self, request):
        """prompt=none: a session that completed both factors, or
        ``login_required``."""
        web = current_request.get()
        return bool(
            web is not None
            and web.user.is_authenticated
            and web.user.is_verified()
            and session_login(web.session)
        )

    def validate_silent_authorization(self, request):
        """prompt=none: a trusted application, or one the user already
        allowed these scopes; else ``consent_required``."""
        web = current_request.get()
        client = request.client
        if client is None or web is None or not web.user.is_authenticated:
            return False
        if client.skip_authorization:
            return True
        scopes = request.scopes or []
        return any(
            token.allow_scopes(scopes)
            for token in get_access_token_model().objects.filter(
                user=web.user, application=client, expires__gt=timezone.now()
            )
        )

    def is_pkce_required(self, client_id, request):
        """Public applications (no secret) must use PKCE (S256); a
        confidential one may, and its verifier is then checked."""
        return pkce_required(client_id)

    def get_discovery_claims(self, request):
        return list(CLAIM_SCOPE)

    # --- which login a grant or refresh token belongs to ----------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        record = getattr(request, "tessera_login", None)
        if record is not None:  # set by the authorization view
            get_grant_model().objects.filter(code=code["code"]).update(
                claims=_with_login(request, record)
            )
            LoginRecord.objects.filter(pk=record.pk).update(
                code_digest=_digest(code["code"])
            )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        valid = super().validate_code(client_id, code, client, request, *args, **kwargs)
        claims = getattr(request, "claims", None) or {}
        login = claims.pop("tessera_login", None) if isinstance(claims, dict) else None
        if valid and login:
            request.tessera_login = LoginRecord.objects.filter(pk=login).first()
        if not valid:
            _revoke_after_code_reuse(code, client)
        return valid

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        valid = super().validate_refresh_token(
            refresh_token, client, request, *args, **kwargs
        )
        found = getattr(request, "refresh_token_instance", None)
        lifetime = timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
        if valid and found is not None and found.created + lifetime < timezone.now():
            # django-oauth-toolkit leaves expiry to its cleanup command: a
            # refresh token past its life is refused here, at once.
            audit_record(
                action="oidc.refresh_expired",
                outcome="failure",
                username=found.user.get_username(),
                source="oidc",
                client=getattr(client, "name", ""),
            )
            return False
        if valid:
            request.tessera_login = LoginRecord.objects.filter(
                refresh_digest=_digest(refresh_token)
            ).first()
        return valid

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expires = super().get_id_token_dictionary(token, token_handler, request)
        record = getattr(request, "tessera_login", None)
        if record is not None:
            claims["auth_time"] = int(record.auth_time.timestamp())
        return claims, expires

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        record = getattr(request, "tessera_login", None)
        if record is not None and token.get("refresh_token"):
            LoginRecord.objects.filter(pk=record.pk).update(
                refresh_digest=_digest(token["refresh_token"])
            )
        audit_record(
            action="oidc.token",
            outcome="success",
            username=request.user.get_username() if request.user else "",
            source="oidc",
            client=getattr(request.client, "name", ""),
            grant=request.grant_type,
            scope=token.get("scope", ""),
            refresh=bool(token.get("refresh_token")),
        )

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        audit_record(
            action="oidc.revoke",
            outcome="success",
            source="oidc",
            client=getattr(getattr(request, "client", None), "name", ""),
            hint=token_type_hint or "",
        )


def _revoke_after_code_reuse(code: str, client) -> None:
    """A spent code came back (RFC 6749 §4.1.2): whoever holds it may have
    stolen it, so the tokens issued from it are revoked, and it is audited."""
    record = LoginRecord.objects.filter(code_digest=_digest(code)).first()
    if record is None or client is None:
        return
    issued = get_access_token_model().objects.filter(
        user=record.user, application=client, created__gte=record.created_at
    )
    for token in issued:
        token.revoke()  # and its refresh token
    refresh = get_refresh_token_model().objects.filter(
        user=record.user,
        application=client,
        created__gte=record.created_at,
        revoked__isnull=True,
    )
    for token in refresh:
        token.revoke()
    audit_record(
        action="oidc.code_reuse",
        outcome="failure",
        username=record.user.get_username(),
        source="oidc",
        client=client.name,
        reason="a spent authorization code was presented again: tokens revoked",
    )


def _with_login(request, record) -> str:
    claims = getattr(request, "claims", None) or {}
    if not isinstance(claims, dict):
        claims = {}
    return json.dumps({**claims, "tessera_login": str(record.pk)})
