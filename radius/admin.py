"""RADIUS clients in the admin: the secret is generated and shown once; a
client that does not require Message-Authenticator is flagged."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from radius.clients import radius_client_delete, radius_client_save
from radius.models import RadiusClient, validate_networks
from radius.server import parse_address


class RadiusClientForm(forms.ModelForm):
    class Meta:
        model = RadiusClient
        fields = (
            "name",
            "networks",
            "mode",
            "push_wait_seconds",
            "require_message_authenticator",
        )

    def clean_networks(self):
        value = self.cleaned_data["networks"]
        validate_networks(value)
        return value


@admin.register(RadiusClient)
class RadiusClientAdmin(admin.ModelAdmin):
    form = RadiusClientForm
    list_display = (
        "name",
        "networks",
        "mode",
        "push_wait_seconds",
        "require_message_authenticator",
        "updated_at",
    )
    readonly_fields = ("created_at", "updated_at")
    actions = ["new_secret"]

    def get_readonly_fields(self, request, obj=None):
        # The name keys the client's audit and its pushes' application.
        return (*self.readonly_fields, "name") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        client, secret = radius_client_save(
            name=obj.name,
            networks=data["networks"],
            mode=data["mode"],
            push_wait_seconds=data["push_wait_seconds"],
            require_message_authenticator=data["require_message_authenticator"],
            actor=f"admin:{request.user.get_username()}",
        )
        obj.pk, obj.secret_sealed = client.pk, client.secret_sealed
        request._radius_secret = secret
        if not client.require_message_authenticator:
            messages.warning(
                request,
                f"{client.name} does not require Message-Authenticator: its "
                "requests can be forged by anyone on the path (BlastRADIUS). "
                "Turn it back on as soon as the NAS can send one.",
            )

    def delete_model(self, request, obj):
        radius_client_delete(client=obj, actor=f"admin:{request.user.get_username()}")

    def delete_queryset(self, request, queryset):
        for client in queryset:
            self.delete_model(request, client)

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_secret(request, obj, request._radius_secret)

    def _show_secret(self, request, client, secret):
        address = parse_address(settings.TESSERA_RADIUS_ADDRESS)
        response = TemplateResponse(
            request,
            "admin/radius/secret.html",
            {
                **self.admin_site.each_context(request),
                "client": client,
                "secret": secret,
                "port": address[1] if address else "(RADIUS is off)",
                "title": f"Shared secret for {client.name}",
                "opts": self.model._meta,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="New shared secret (the old one stops working)")
    def new_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "One client at a time.", messages.WARNING)
            return None
        client = queryset.get()
        client, secret = radius_client_save(
            name=client.name,
            networks=client.networks,
            mode=client.mode,
            actor=f"admin:{request.user.get_username()}",
            new_secret=True,
        )
        return self._show_secret(request, client, secret)
