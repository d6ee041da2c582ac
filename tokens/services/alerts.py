"""Telling a user that someone is guessing at their account.

Sent when wrong passcodes lock a user's tokens, and when the per-user limit
of wrong passwords from unknown browsers is reached; at most one email an
hour per user, so the guesser cannot flood the inbox either. Audited.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from tokens.services.audit import audit_record
from tokens.services.notify import send_templated
from tokens.services.throttle import allow

ALERTS_PER_HOUR = 1


def attack_alert_send(
    *, username: str, what: str, serials: list[str] = (), ip: str | None = None
) -> bool:
    """Email ``username`` (when they exist and have an address) that wrong
    ``what`` (``"passcodes"`` or ``"passwords"``) are being tried; False when
    nothing was sent (unknown user, no address, or one sent this hour)."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user.email:
        return False
    if not allow("attack-alert", username, limit=ALERTS_PER_HOUR, window=3600):
        return False
    send_templated(
        to=user.email,
        template="under_attack",
        context={"user": user, "what": what, "serials": list(serials)},
        username=username,
    )
    audit_record(
        action="account.under_attack",
        outcome="info",
        username=username,
        ip=ip,
        what=what,
        **({"serials": list(serials)} if serials else {}),
    )
    return True
