"""Applications in the admin (django-oauth-toolkit's, with one more action):
revoke every token of an application at once, audited."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tokens.services.audit import audit_record


class TesseraApplicationAdmin(ApplicationAdmin):
    actions = ["revoke_tokens"]

    @admin.action(description="Revoke all their tokens now (users sign in again)")
    def revoke_tokens(self, request, queryset):
        for application in queryset:
            with transaction.atomic():
                refresh = get_refresh_token_model().objects.filter(
                    application=application, revoked__isnull=True
                )
                for token in refresh:
                    token.revoke()
                access, _ = (
                    get_access_token_model()
                    .objects.filter(application=application)
                    .delete()
                )
                audit_record(
                    action="oidc.revoke",
                    outcome="success",
                    actor=f"admin:{request.user.get_username()}",
                    source="admin",
                    client=application.name,
                    all_tokens=True,
                    access_tokens=access,
                )
            self.message_user(
                request,
                f"{application.name}: every token revoked.",
                messages.SUCCESS,
            )
