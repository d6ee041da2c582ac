"""The directory in the admin: which group gives which policy (first match
wins, in the order set here), where each directory user comes from, and
finding people in the directory to assign them a token before they ever
logged in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path

from directory.models import DirectoryAccount, GroupRule
from tokens.services.enrollment import token_assign
from tokens.services.errors import ServiceError


@admin.register(GroupRule)
class GroupRuleAdmin(admin.ModelAdmin):
    list_display = ("order", "group_dn", "policy")
    list_display_links = ("group_dn",)
    list_editable = ("order",)


class SearchForm(forms.Form):
    q = forms.CharField(label="Name, username or email", max_length=80)


@admin.register(DirectoryAccount)
class DirectoryAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "dn", "policy_group", "synced_at", "missing_since")
    search_fields = ("user__username", "dn")
    readonly_fields = (
        "user",
        "directory_id",
        "dn",
        "policy_group",
        "groups",
        "synced_at",
        "missing_since",
    )

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "search/",
                self.admin_site.admin_view(self.search_view),
                name="directory_search",
            ),
            *super().get_urls(),
        ]

    def search_view(self, request):
        """Find people in the directory; "Assign token" makes their user if
        they never logged in and assigns a token (their group's policy)."""
        from directory.people import directory_search, directory_user_ensure

        configured = bool(getattr(settings, "TESSERA_LDAP_URL", ""))
        if not configured:
            messages.error(request, "No directory is configured (TESSERA_LDAP_URL).")
        form = SearchForm(request.GET or None)
        people = []
        issued = []
        try:
            if request.method == "POST" and request.POST.get("username"):
                user = directory_user_ensure(request.POST["username"])
                if user is None:
                    messages.error(request, "That person is not in the directory.")
                else:
                    issued.append(
                        token_assign(
                            user=user, actor=f"admin:{request.user.get_username()}"
                        )
                    )
            elif form.is_valid() and configured:
                people = directory_search(form.cleaned_data["q"])
        except ServiceError as exc:
            messages.error(request, exc.detail)
        if issued:
            return TemplateResponse(
                request,
                "admin/tokens/issued.html",
                {
                    **self.admin_site.each_context(request),
                    "issued": issued,
                    "title": "Token assigned",
                },
            )
        return TemplateResponse(
            request,
            "admin/directory/search.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "people": people,
                "searched": form.is_bound,
                "title": "Find people in the directory",
                "opts": self.model._meta,
            },
        )
