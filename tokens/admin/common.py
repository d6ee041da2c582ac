"""What the admin's modules share: who acts, read-only admins."""

from __future__ import annotations

from django.contrib import admin


def actor_of(request) -> str:
    return f"admin:{request.user.get_username()}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are written by services only: listed, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
