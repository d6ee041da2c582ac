"""Django admin as the operator's console. Actions call services only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from tokens.models import (
    ApiClient,
    AuditEvent,
    Enrollment,
    Policy,
    PushChallenge,
    Token,
)
from tokens.selectors import policy_default
from tokens.services import lifecycle
from tokens.services.apiclients import api_client_create, api_client_rotate_key
from tokens.services.enrollment import enrollment_issue, token_assign
from tokens.services.errors import ServiceError
from tokens.services.otp import token_resync
from tokens.services.portal import token_rename

User = get_user_model()


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "is_default",
        "otp_kind",
        "digits",
        "period",
        "algorithm",
        "pin_mode",
        "push_enabled",
        "number_matching",
        "fingerprint",
    )
    list_filter = ("otp_kind", "pin_mode", "push_enabled", "fingerprint")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "is_default")}),
        (
            "Passcodes",
            {"fields": ("otp_kind", "digits", "period", "algorithm", "otp_window")},
        ),
        (
            "PIN",
            {
                "fields": (
                    "pin_mode",
                    "pin_min_length",
                    "pin_max_length",
                    "pin_charset",
                    "pin_max_attempts",
                )
            },
        ),
        (
            "Push and fingerprint",
            {
                "fields": (
                    "push_enabled",
                    "number_matching",
                    "push_lifetime_seconds",
                    "push_deny_cooldown_seconds",
                    "push_fraud_lock",
                    "fingerprint",
                )
            },
        ),
        (
            "Enrollment",
            {
                "fields": (
                    "qr_enrollment",
                    "enrollment_link_hours",
                    "activation_attempts",
                    "max_tokens_per_user",
                    "backup_codes",
                    "backup_codes_validate",
                )
            },
        ),
        (
            "Lockout",
            {
                "fields": (
                    "lockout_threshold",
                    "auto_unlock_minutes",
                    "auto_unlock_max_minutes",
                )
            },
        ),
    )


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
            fn(token=token, actor=_actor(request))
            done += 1
        except ServiceError as exc:
            modeladmin.message_user(request, exc.detail, messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{verb} {done} token(s).", messages.SUCCESS)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = (
        "serial",
        "user",
        "name",
        "policy",
        "state",
        "failure_count",
        "device_name",
        "can_be_woken",
        "activated_at",
        "last_used_at",
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
            token_rename(token=obj, name=obj.name, actor=_actor(request))

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps its serials

    @admin.display(
        boolean=True, description="Can be woken (Web Push)", ordering="webpush_at"
    )
    def can_be_woken(self, obj):
        return obj.can_be_woken

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
                issued.append(enrollment_issue(token=token, actor=_actor(request)))
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
                actor=_actor(request),
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


class TokenInline(admin.TabularInline):
    model = Token
    fk_name = "user"
    fields = ("serial", "name", "policy", "state", "device_name", "last_used_at")
    readonly_fields = ("serial", "policy", "state", "device_name", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AssignForm(forms.Form):
    policy = forms.ModelChoiceField(Policy.objects.all(), empty_label=None)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [*BaseUserAdmin.inlines, TokenInline]
    actions = ["assign_token"]
    list_display = [*BaseUserAdmin.list_display, "overview"]

    @admin.display(description="Overview")
    def overview(self, user):
        url = reverse("admin:tessera_user", args=[user.pk])
        return format_html('<a href="{}">Tokens and activity</a>', url)

    @admin.action(description="Assign token")
    def assign_token(self, request, queryset):
        form = AssignForm(
            request.POST if "apply" in request.POST else None,
            initial={"policy": policy_default()},
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
                        actor=_actor(request),
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are written by services only: listed, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


class ApiClientAddForm(forms.Form):
    name = forms.CharField(max_length=80)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "is_active", "created_at", "last_used_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at")
    fields = ("name", "is_active", *readonly_fields)
    actions = ["rotate_key"]

    def add_view(self, request, form_url="", extra_context=None):
        form = ApiClientAddForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                client, key = api_client_create(
                    name=form.cleaned_data["name"], actor=_actor(request)
                )
            except ServiceError as exc:
                form.add_error("name", exc.detail)
            else:
                return self._show_key(request, client, key)
        return TemplateResponse(
            request,
            "admin/tokens/apiclient_add.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": "Add API client",
                "opts": self.model._meta,
            },
        )

    def _show_key(self, request, client, key):
        response = TemplateResponse(
            request,
            "admin/tokens/apiclient_key.html",
            {
                **self.admin_site.each_context(request),
                "client": client,
                "key": key,
                "title": f"API key for {client.name}",
                "opts": self.model._meta,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Rotate key (the old key stops working)")
    def rotate_key(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one client at a time.", messages.WARNING)
            return None
        client = queryset.get()
        return self._show_key(
            request, client, api_client_rotate_key(client=client, actor=_actor(request))
        )


from tokens import admin_passkeys  # noqa: E402, F401 - registers PasskeyAdmin
