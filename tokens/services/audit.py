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
    """Append an audit event. Never pass a secret in ``detail``."""
    return AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        actor=actor[:150],
        username=username[:150],
        serial=serial,
        source=source[:40],
        ip=ip or None,
        detail=detail,
    )
