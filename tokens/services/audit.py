"""One function writes every audit event, so nothing forgets to."""

from __future__ import annotations

from typing import Any

from tokens.models import AuditEvent


def audit_record(
    *,
    action: str,
    outcome: str,
    actor: str = "",
    username: str = "",
    serial: str = "",
    source: str = "",
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append an audit event. Never pass a secret in ``detail``.

    ``bulk_create`` inserts without the model's save machinery: audit rows are
    written on every validation, and this keeps that insert cheap.
    """
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor=actor[:150],
        username=username[:150],
        serial=serial,
        source=source[:40],
        ip=ip or None,
        detail=detail,
    )
    return AuditEvent.objects.bulk_create([event])[0]


def audit_token_act(
    *, action: str, token, actor: str, outcome: str = "success", **detail: Any
) -> AuditEvent:
    """An act on one token by ``actor`` (an admin, the user, a command)."""
    return audit_record(
        action=action,
        outcome=outcome,
        actor=actor,
        username=token.user.get_username(),
        serial=token.serial,
        **detail,
    )
