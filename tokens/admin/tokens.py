"""Tokens in the admin: the list, the lifecycle actions, resync, new activations."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template.response import TemplateResponse

from tokens.admin.common import actor_of
from tokens.models import (
    Enrollment,
    Token,
)
from tokens.services import lifecycle
from tokens.services.enrollment import enrollment_issue
from tokens.services.errors import ServiceError
from tokens.services.portal import token_rename
from tokens.services.resync import token_resync


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fields = ("created_at", "expires_at", "attempts", "used_at", "voided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


class ResyncForm(forms.Form):
    first = forms.RegexField(r"^\d{6,8}$", label="First passcode")
    second = forms.RegexField(r"^\d{6,8}$", label="Next passcode")


def _run_lifecycle(modeladmin, request, queryset, fn, verb):
    done = 0
    for token in queryset:
        try:
            fn(token=token, actor=actor_of(request))
            done += 1
        except ServiceError as exc:
            modeladmin.message_user(request, exc.detail, messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{verb} {done} token(s).", messages.SUCCESS)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    # What fits a 1280 px screen beside the admin's menu; the device's name
    # is in the token's name, the rest on its page.
    list_display = (
        "serial",
        "user",
        "name",
        "policy",
        "state",
        "wakes",
        "last_used",
    )
    list_filter = ("state", "policy", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("serial", "user__username", "user__email", "name", "device_name")
    list_select_related = ("user", "policy")
    readonly_fields = (
        "serial",
        "user",
        "state",
        "failure_count",
        "locked_until",
        "device_name",
        "platform",
        "created_at",
        "activated_at",
        "enrolled_at",
        "last_used_at",
        "has_server_pin",
        "can_be_woken",
        "webpush_at",
    )
    fields = ("name", "policy", *readonly_fields)
    inlines = [EnrollmentInline]
    actions = [
        "suspend",
        "resume",
        "revoke",
        "unlock",
        "resync",
        "reset_server_pin",
        "issue_enrollment",
    ]

    def has_add_permission(self, request):
        return False  # tokens are assigned from the user list ("Assign token")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:  # audited, and the app hears
            token_rename(token=obj, name=obj.name, actor=actor_of(request))

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps its serials

    @admin.display(
        boolean=True, description="Can be woken (Web Push)", ordering="webpush_at"
    )
    def can_be_woken(self, obj):
        return obj.can_be_woken

    @admin.display(boolean=True, description="Web Push", ordering="webpush_at")
    def wakes(self, obj):
        return obj.can_be_woken

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, obj):
        return naturaltime(obj.last_used_at) if obj.last_used_at else "never"

    @admin.display(boolean=True, description="Server PIN set")
    def has_server_pin(self, obj):
        return bool(obj.server_pin_digest)

    @admin.action(description="Suspend selected tokens")
    def suspend(self, request, queryset):
        _run_lifecycle(self, request, queryset, lifecycle.token_suspend, "Suspended")

    @admin.action(description="Resume selected tokens")
    def resume(self, request, queryset):
        _run_lifecycle(self, request, queryset, lifecycle.token_resume, "Resumed")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        _run_lifecycle(self, request, queryset, lifecycle.token_revoke, "Revoked")

    @admin.action(description="Unlock selected tokens (reset failures)")
    def unlock(self, request, queryset):
        _run_lifecycle(self, request, queryset, lifecycle.token_unlock, "Unlocked")

    @admin.action(description="Reset server PIN")
    def reset_server_pin(self, request, queryset):
        _run_lifecycle(
            self,
            request,
            queryset,
            lifecycle.token_reset_server_pin,
            "Reset the PIN of",
        )

    @admin.action(
        description="Replace device: issue a new activation (the old device "
        "works until the new one activates)"
    )
    def issue_enrollment(self, request, queryset):
        issued = []
        for token in queryset.select_related("user", "policy"):
            try:
                issued.append(enrollment_issue(token=token, actor=actor_of(request)))
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
                "title": "New activations",
            },
        )

    @admin.action(description="Resynchronise (two consecutive passcodes)")
    def resync(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Resync one token at a time.", messages.WARNING)
            return None
        token = queryset.select_related("policy", "user").get()
        form = ResyncForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            ok = token_resync(
                token=token,
                first=form.cleaned_data["first"],
                second=form.cleaned_data["second"],
                actor=actor_of(request),
            )
            if ok:
                self.message_user(request, f"{token.serial} resynchronised.")
            else:
                self.message_user(
                    request,
                    f"Those passcodes do not follow each other on {token.serial}.",
                    messages.ERROR,
                )
            return None
        return TemplateResponse(
            request,
            "admin/tokens/resync.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "token": token,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "title": "Resync token",
            },
        )
