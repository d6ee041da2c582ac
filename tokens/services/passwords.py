"""Passwords at the doors that are not the portal (RADIUS today): one check,
throttled and audited the same way for every door.

The password is checked by Django's authentication backends, so a directory
(LDAP) answers for its users with a live bind. Guesses are bounded per user
and door and per address before any hash is computed, every refusal is
audited, and a password is never logged.

``password_and_passcode`` takes what VPN clients send in one field: the
password followed by the passcode, or, for a token with a server PIN, that
PIN followed by the passcode (as the validate API takes it). It costs the
same work whether or not the user exists.
"""

from __future__ import annotations

from django.contrib.auth import authenticate

from tokens.models import Policy, Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.otp import Outcome, validate_passcode
from tokens.services.throttle import allow

GUESSES_PER_USER = 30  # per door, in WINDOW seconds, from all addresses
GUESSES_PER_ADDRESS = 60  # per door and address, whatever the usernames
WINDOW = 300


def password_check(*, username: str, password: str, door: str, ip=None, **seen):
    """The active user whose password this is, or None (audited). Raises
    ``ServiceError("throttled")`` past the limits, before any hash. ``ip`` is
    the end user's address where the door knows it (a NAS's own address
    would make one user's guesses everyone's)."""
    if not (
        (
            ip is None
            or allow(
                f"password-{door}-ip", ip, limit=GUESSES_PER_ADDRESS, window=WINDOW
            )
        )
        and allow(f"password-{door}", username, limit=GUESSES_PER_USER, window=WINDOW)
    ):
        audit_record(
            action=f"{door}.throttled",
            outcome="failure",
            username=username[:150],
            source=door,
            ip=ip,
            **seen,
        )
        raise ServiceError("throttled", "Too many attempts. Wait a few minutes.", 429)
    user = authenticate(None, username=username, password=password)
    if user is None or not user.is_active:
        audit_record(
            action=f"{door}.password",
            outcome="failure",
            username=username[:150],
            source=door,
            ip=ip,
            **seen,
        )
        return None
    return user


def _lengths_and_server_pin(username: str) -> tuple[list[int], bool]:
    """The passcode lengths of the user's usable tokens, and whether one of
    them takes a server PIN in front of the passcode (none: the default's)."""
    policies = list(
        Policy.objects.filter(
            tokens__user__username=username,
            tokens__user__is_active=True,
            tokens__state__in=(Token.State.ACTIVE, Token.State.LOCKED),
        ).values_list("digits", "pin_mode")
    )
    digits = sorted({d for d, _ in policies}) or [6]
    return digits, any(mode == Policy.PinMode.SERVER for _, mode in policies)


def password_and_passcode(
    *, username: str, field: str, door: str, ip=None, client: str = "", **seen
) -> Outcome:
    """Password (or server PIN) and passcode typed in one field: accept only
    when both are right. Which one failed is audited, never told."""
    digits, server_pin = _lengths_and_server_pin(username)
    if server_pin:  # PIN + passcode: the validate API's own path
        return validate_passcode(
            username=username, passcode=field, source=door, ip=ip, client=client
        )
    for length in digits:
        password, passcode = field[:-length], field[-length:]
        if len(field) > length and passcode.isdigit():
            user = password_check(
                username=username, password=password, door=door, ip=ip, **seen
            )
            if user is not None:
                return validate_passcode(
                    username=username,
                    passcode=passcode,
                    source=door,
                    ip=ip,
                    client=client,
                )
            break
    # A wrong password (or no passcode in the field): the same passcode work
    # as a wrong code, so the answer's time tells nothing.
    validate_passcode(
        username="", passcode=field[-digits[0] :], source=door, ip=ip, client=client
    )
    return Outcome(False)
