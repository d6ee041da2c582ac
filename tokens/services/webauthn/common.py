"""What every WebAuthn check shares: the relying party, from SITE_URL."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)

# What a malformed or wrong credential raises inside py_webauthn: a refusal.
WEBAUTHN_PROBLEMS = (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
    InvalidJSONStructure,
    KeyError,
    TypeError,
    ValueError,
)


def relying_party_id() -> str:
    """The rp.id: SITE_URL's host (WebAuthn needs a domain: localhost, not
    127.0.0.1, when trying it on a laptop)."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def expected_origin() -> str:
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def text_challenge(text: str) -> bytes:
    """PROTOCOL §7's challenges: SHA-256 of a text both sides know."""
    return hashlib.sha256(text.encode()).digest()
