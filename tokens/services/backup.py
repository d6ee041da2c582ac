"""Backup codes: one-time codes for when the phone is not at hand.

They live in django-otp's static tokens (one ``StaticDevice`` per user), so a
login with one is an OTP-verified session like any other; but the stored
``StaticToken.token`` is a keyed digest of the code, never the code, and a
code is spent by one conditional DELETE, so two logins racing with the same
code cannot both pass (django-otp's own ``verify_token`` reads, then deletes).

A code is 10 characters from an alphabet without look-alikes, always with a
letter, so it can never be mistaken for a numeric passcode. The portal takes
backup codes when the policy offers them; the validate API only when a policy
of the user's tokens says ``backup_codes_validate``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.throttle import allow

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 10
DEVICE_NAME = "Backup codes"


def normalize(code: str) -> str:
    return "".join(str(code).split()).replace("-", "").lower()


def looks_like_backup_code(code: str) -> bool:
    code = normalize(code)
    return (
        len(code) == LENGTH
        and all(c in ALPHABET for c in code)
        and any(c.isalpha() for c in code)
    )


def _digest(user, code: str) -> str:
    """16 hex characters (StaticToken.token's width): 64 bits of an HMAC
    keyed with the server's PIN key, bound to the user (or to nobody)."""
    uid = user.pk if user is not None else ""
    message = f"tessera/backup|{uid}|{normalize(code)}".encode()
    return hmac.new(settings.TESSERA_PIN_KEY, message, hashlib.sha256).hexdigest()[:16]


def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if any(c.isalpha() for c in code):
            return code


def backup_codes_offered(user) -> int:
    """How many codes the user's policies offer (the largest; 0: none)."""
    counts = Token.objects.filter(user=user).exclude(state=Token.State.REVOKED)
    return max(counts.values_list("policy__backup_codes", flat=True), default=0)


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user).count()


@transaction.atomic
def backup_codes_generate(*, user, actor: str) -> list[str]:
    """New codes for ``user`` (the old ones stop working); shown once."""
    count = backup_codes_offered(user)
    if not count:
        raise ServiceError(
            "backup_codes_off", "Your administrator does not offer backup codes."
        )
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=DEVICE_NAME, defaults={"confirmed": True}
    )
    StaticToken.objects.filter(device=device).delete()
    codes = [_new_code() for _ in range(count)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=_digest(user, c)) for c in codes
    )
    audit_record(
        action="backup.generate",
        outcome="success",
        actor=actor,
        username=user.get_username(),
        count=count,
    )
    return codes


GUESSES = 10  # per user in WINDOW seconds, across every door and address
WINDOW = 300


def backup_code_use(
    *, user, code: str, source: str, ip: str | None = None, **seen: str
) -> StaticDevice | None:
    """Spend ``code``; the user's backup device if it was one of theirs.

    Guesses are bounded per user (``GUESSES`` in ``WINDOW`` seconds, whatever
    the door or address): past that, ``ServiceError("throttled")`` and no
    code is tried. ``user`` may be ``None`` (an unknown user or one whose
    policy refuses the door): the same statements run and match nothing, so
    the answer takes the same work for everyone.
    """
    name = seen.pop("name", "")
    username = user.get_username() if user is not None else name
    if not allow("backup", username, limit=GUESSES, window=WINDOW):
        audit_record(
            action="backup.use",
            outcome="failure",
            username=username[:150],
            source=source,
            ip=ip,
            **{k: v for k, v in seen.items() if v},
            reason="throttled",
        )
        raise ServiceError(
            "throttled", "Too many attempts. Wait a few minutes and try again."
        )
    device = StaticDevice.objects.filter(
        user_id=user.pk if user is not None else None, name=DEVICE_NAME
    ).first()
    digest = _digest(user, code) if looks_like_backup_code(code) else ""
    spent, _ = StaticToken.objects.filter(
        device_id=device.pk if device is not None else None, token=digest
    ).delete()
    if user is not None:
        audit_record(
            action="backup.use",
            outcome="success" if spent else "failure",
            username=username,
            source=source,
            ip=ip,
            **{k: v for k, v in seen.items() if v},  # client, rp_ip
            **({"left": backup_codes_left(user)} if spent else {}),
        )
    return device if spent else None


def backup_code_validate(
    *, username: str, code: str, ip=None, client: str = "", rp_ip=None
) -> bool:
    """The validate API's backup path: only where a policy allows it. Unknown
    users and refusing policies do the same work as a wrong code."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    allowed = Token.objects.filter(
        user_id=user.pk if user is not None else None,
        state__in=(Token.State.ACTIVE, Token.State.LOCKED, Token.State.SUSPENDED),
        policy__backup_codes_validate=True,
    ).exists()
    seen = {"client": client, "rp_ip": rp_ip or ""}
    try:
        spent = backup_code_use(
            user=user if allowed else None,
            code=code,
            source="api",
            ip=ip,
            name=username,
            **seen,
        )
    except ServiceError:
        return False
    if not allowed:
        audit_record(
            action="backup.use",
            outcome="failure",
            username=username[:150],
            source="api",
            ip=ip,
            client=client,
            **({"rp_ip": rp_ip} if rp_ip else {}),
            reason="backup codes are not accepted by relying applications",
        )
    return spent is not None
