"""Which applications must use PKCE: public ones (no secret) always; a
confidential one may, and its verifier is then checked."""

from __future__ import annotations

from oauth2_provider.models import get_application_model


def pkce_required(client_id: str) -> bool:
    application = get_application_model().objects.filter(client_id=client_id).first()
    return application is None or (application.client_type == application.CLIENT_PUBLIC)
