"""The audit log and push requests in the admin (read only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from tokens.admin.common import ReadOnlyAdmin
from tokens.models import (
    AuditEvent,
    PushChallenge,
)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "action",
        "outcome",
        "username",
        "serial",
        "actor",
        "source",
        "ip",
    )
    list_filter = ("outcome", "action", "source", "created_at")
    search_fields = ("username", "serial", "actor", "ip")
    date_hierarchy = "created_at"


@admin.register(PushChallenge)
class PushChallengeAdmin(ReadOnlyAdmin):
    """Push requests, read-only: what was asked, of whom, and the answer."""

    list_display = (
        "created_at",
        "username",
        "application",
        "outcome",
        "fraud",
        "ip",
        "browser",
        "answered_by",
        "source",
        "client",
    )
    list_filter = ("state", "fraud", "source", "created_at")
    search_fields = ("username", "application", "ip")
    date_hierarchy = "created_at"
    exclude = ("tokens",)

    @admin.display(description="state", ordering="state")
    def outcome(self, obj):
        # Expiry is written when someone next looks at the request; until then
        # a pending request past its time is shown as what it is.
        if (
            obj.state == PushChallenge.State.PENDING
            and obj.expires_at <= timezone.now()
        ):
            return "expired"
        return obj.state
