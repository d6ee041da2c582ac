"""Relying applications' API clients in the admin (keys shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from tokens.admin.common import actor_of
from tokens.models import (
    ApiClient,
)
from tokens.services.apiclients import api_client_create, api_client_rotate_key
from tokens.services.errors import ServiceError


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
                    name=form.cleaned_data["name"], actor=actor_of(request)
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
            request,
            client,
            api_client_rotate_key(client=client, actor=actor_of(request)),
        )
