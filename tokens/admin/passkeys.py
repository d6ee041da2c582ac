"""Admin for passkeys and security keys: see them, revoke them (audited)."""

from __future__ import annotations

from django.contrib import admin, messages

from tokens.models import Passkey
from tokens.services.webauthn.passkeys import passkey_remove


@admin.register(Passkey)
class PasskeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "aaguid",
        "discoverable",
        "created_at",
        "last_used_at",
    )
    list_filter = ("discoverable", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = (
        "user",
        "name",
        "aaguid",
        "discoverable",
        "user_verified",
        "transports",
        "sign_count",
        "created_at",
        "last_used_at",
    )
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # users add their own, in the portal

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: it is audited

    @admin.action(description="Revoke selected passkeys")
    def revoke(self, request, queryset):
        count = 0
        for passkey in queryset.select_related("user"):
            passkey_remove(
                passkey=passkey, actor=f"admin:{request.user.get_username()}"
            )
            count += 1
        self.message_user(request, f"Revoked {count} passkey(s).", messages.SUCCESS)
