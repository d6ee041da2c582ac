"""Policies in the admin."""

from __future__ import annotations

from django.contrib import admin

from tokens.models import (
    Policy,
)


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
                    "user_verification",
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
        ("Passkeys", {"fields": ("passkey_user_verification",)}),
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
