"""The audit log and push requests in the admin (read only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from tokens.admin.common import ReadOnlyAdmin
from tokens.models import (
    AuditEvent,
    PushChallenge,
)


class SourceFilter(admin.SimpleListFilter):
    """The door an event came through; events with none are named, so no
    filter link is left without a text."""

    title = "source"
    parameter_name = "source"
    NONE = "(none)"

    def lookups(self, request, model_admin):
        values = (
            model_admin.get_queryset(request)
            .order_by("source")
            .values_list("source", flat=True)
            .distinct()
        )
        named = (value or self.NONE for value in values)
        return [(name, name) for name in named]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(source="" if value == self.NONE else value)


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
    list_filter = ("outcome", "action", SourceFilter, "created_at")
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
    list_filter = ("state", "fraud", SourceFilter, "created_at")
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
