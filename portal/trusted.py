"""Browsers that have logged in before keep their own allowance of password
guesses (OWASP's "device cookies").

A stranger who types wrong passwords for a user from many addresses uses up
the user's shared allowance for browsers it does not know, never the one of a
browser the user has logged in from: that browser carries a signed cookie
naming the user and a random id, and its guesses are counted for that id
alone. A guesser cannot forge one (it is signed with the server's key) and a
stolen one buys only its own small allowance.
"""

from __future__ import annotations

import secrets

from django.core import signing

COOKIE = "tessera_device"
SALT = "tessera.portal.device-cookie"
MAX_AGE = 365 * 24 * 3600
_MARK = "_tessera_trust_username"


def trusted_id(request, username: str) -> str | None:
    """The id of this browser's device cookie when it was given to
    ``username``'s login, else None."""
    value = request.COOKIES.get(COOKIE)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != username:
        return None
    return str(data.get("n", "")) or None


def trust_this_browser(request, username: str) -> None:
    """Both factors passed here: the response gives this browser a device
    cookie for ``username`` (``DeviceCookieMiddleware`` sets it)."""
    setattr(request, _MARK, username)


class DeviceCookieMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        username = getattr(request, _MARK, None)
        if username:
            value = signing.dumps(
                {"u": username, "n": secrets.token_urlsafe(16)}, salt=SALT
            )
            response.set_cookie(
                COOKIE,
                value,
                max_age=MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
