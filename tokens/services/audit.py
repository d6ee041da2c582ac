"""One function writes every audit event, so nothing forgets to."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tokens.models import AuditEvent
from tokens.prepared import insert_returning_pk


def audit_record(**event: Any) -> AuditEvent:
    """Append an audit event (``audit_values``' fields). Never pass a secret
    in its detail.

    Audit rows are written on every validation, so the INSERT is written once
    from the model (``tokens.prepared``), not compiled per call.
    """
    values = audit_values(**event)
    pk = insert_returning_pk(AuditEvent, values)
    return AuditEvent(pk=pk, **values)


def audit_values(
    *,
    action: str,
    outcome: str,
    actor: str = "",
    username: str = "",
    serial: str = "",
    source: str = "",
    ip: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """An audit event's row (field name -> value): ``detail`` is every other
    keyword. For ``audit_record`` and for a caller that writes the row with
    another change (``tokens.prepared.update_then_insert``). Text that came
    from outside (a 4,000-character serial, say) is cut to the column, so a
    refusal is recorded on every database, never turned into an error."""
    return {
        "created_at": timezone.now(),
        "action": action[:40],
        "outcome": outcome,
        "actor": actor[:150],
        "username": username[:150],
        "serial": serial[:16],
        "source": source[:40],
        "ip": ip or None,
        "detail": detail,
    }


def audit_token_act(
    *, action: str, token, actor: str, outcome: str = "success", **detail: Any
) -> AuditEvent:
    """An act on one token by ``actor`` (an admin, the user, a command)."""
    return audit_record(
        action=action[:40],
        outcome=outcome,
        actor=actor,
        username=token.user.get_username(),
        serial=token.serial,
        **detail,
    )


def audit_server_error(sender=None, request=None, **kwargs) -> None:
    """``got_request_exception``: record that a request failed with a 500.

    Only the path and the exception's type: a message or traceback could carry
    a secret from the request. Written in its own transaction (the request's
    may have been rolled back), and never raising, so the 500 page still goes
    out if the database itself is what failed.
    """
    import sys

    from django.db import transaction

    from tokens.addresses import request_ip

    kind = sys.exc_info()[0]
    try:
        with transaction.atomic():
            audit_record(
                action="server.error",
                outcome="failure",
                source="http",
                ip=request_ip(request) if request is not None else None,
                path=(request.path if request is not None else "")[:200],
                exception=kind.__name__ if kind else "",
            )
    except Exception:  # noqa: BLE001,S110 - the 500 must still be answered
        pass
