"""Users in the admin: their tokens, and Assign token."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from tokens.admin.common import actor_of
from tokens.models import (
    Policy,
    Token,
)
from tokens.services.enrollment import token_assign
from tokens.services.errors import ServiceError

User = get_user_model()


class TokenInlineForm(forms.ModelForm):
    class Meta:
        model = Token
        fields = ("name",)
        # A table cell's field has no <label> of its own: name it.
        widgets = {"name": forms.TextInput(attrs={"aria-label": "Token name"})}


class TokenInline(admin.TabularInline):
    model = Token
    form = TokenInlineForm
    fk_name = "user"
    fields = ("serial", "name", "policy", "state", "device_name", "last_used_at")
    readonly_fields = ("serial", "policy", "state", "device_name", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AssignForm(forms.Form):
    policy = forms.ModelChoiceField(
        Policy.objects.all(),
        required=False,
        empty_label="Each user's own (from their directory group, else the default)",
    )


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [*BaseUserAdmin.inlines, TokenInline]
    # Plain multiple selects (the two-pane widget's labels break ARIA rules)
    # and dates that are records, not inputs (split date/time fields have
    # one label for two inputs).
    filter_horizontal = ()
    readonly_fields = ("last_login", "date_joined")
    actions = ["assign_token"]
    list_display = [*BaseUserAdmin.list_display, "source", "overview"]

    @admin.display(description="From")
    def source(self, user):
        """Local, or the directory (and the group that gave the policy)."""
        account = getattr(user, "directory", None)  # the directory app's link
        if account is None:
            return "local"
        if account.missing_since:
            return "directory (gone or disabled)"
        group = account.policy_group
        return f"directory, policy from {group}" if group else "directory"

    @admin.display(description="Overview")
    def overview(self, user):
        url = reverse("admin:tessera_user", args=[user.pk])
        return format_html('<a href="{}">Tokens and activity</a>', url)

    @admin.action(description="Assign token")
    def assign_token(self, request, queryset):
        form = AssignForm(
            request.POST if "apply" in request.POST else None,
        )
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/tokens/assign.html",
                {
                    **self.admin_site.each_context(request),
                    "form": form,
                    "users": queryset,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "title": "Assign token",
                },
            )
        issued = []
        for user in queryset:
            try:
                issued.append(
                    token_assign(
                        user=user,
                        policy=form.cleaned_data["policy"],
                        actor=actor_of(request),
                    )
                )
            except ServiceError as exc:
                self.message_user(request, exc.detail, messages.WARNING)
        if not issued:
            return None
        return TemplateResponse(
            request,
            "admin/tokens/issued.html",
            {
                **self.admin_site.each_context(request),
                "issued": issued,
                "title": "Tokens assigned",
            },
        )
