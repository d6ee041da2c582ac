"""The admin behind Tessera's own second factor (django-otp's OTPAdminSite).

The admin can issue a new activation for anyone, so it takes what the portal
takes: the password, then a push approval or a passcode. Its login page is the
portal's (one set of throttles, audit records and factors); a staff user with
no authenticator yet is led through Add Authenticator first.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from django_otp.admin import OTPAdminSite

from config.charts import stacked_bars
from tokens.addresses import request_ip
from tokens.dashboard import dashboard_figures, user_overview
from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.lifecycle import token_unlock

PUSH_COLORS = {
    "approved": "#1a7f37",
    "denied": "#9a6700",
    "fraud": "#cf222e",
    "expired": "#8c959f",
}
FAILURE_COLORS = {"failed validations": "#cf222e"}
ADMIN_AUDITED = "tessera_admin_audited"  # session: the device audited for it


class TesseraAdminSite(OTPAdminSite):
    site_header = "Tessera administration"
    site_title = "Tessera admin"

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def has_permission(self, request) -> bool:
        """django-otp's check (staff, active, OTP-verified); the first admin
        request of each verified session is audited as ``admin.login``,
        whichever page the staff user logged in from."""
        allowed = super().has_permission(request)
        session = getattr(request, "session", None)
        device = getattr(request.user, "otp_device", None)
        mark = getattr(device, "persistent_id", "")
        if allowed and session is not None and session.get(ADMIN_AUDITED) != mark:
            session[ADMIN_AUDITED] = mark
            audit_record(
                action="admin.login",
                outcome="success",
                actor=request.user.get_username(),
                username=request.user.get_username(),
                serial=getattr(device, "serial", ""),
                source="portal",
                ip=request_ip(request),
                **({} if hasattr(device, "serial") else {"device": mark}),
            )
        return allowed

    def login(self, request, extra_context=None):
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return redirect(index)
        if request.user.is_authenticated and request.user.is_verified():
            messages.error(request, "This account may not use the admin.")
            return redirect("portal:dashboard")
        next_url = request.GET.get("next") or index
        return redirect(reverse("portal:login") + "?" + urlencode({"next": next_url}))

    def get_urls(self):
        return [
            path(
                "tessera/unlock/<int:pk>/",
                self.admin_view(require_POST(self.unlock_view)),
                name="tessera_unlock",
            ),
            path(
                "tessera/users/<int:pk>/",
                self.admin_view(self.user_overview_view),
                name="tessera_user",
            ),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        """The admin index opens with the state of the service at a glance."""
        figures = dashboard_figures()
        pushes = [(f"{day:%b %d}", counts) for day, counts in figures["pushes"]]
        failures = [
            (f"{hour:%H:00}", {"failed validations": n})
            for hour, n in figures["failures"]
        ]
        context = {
            "figures": figures,
            "push_chart": stacked_bars(
                pushes, PUSH_COLORS, label_every=2, title="Push requests, 14 days"
            ),
            "failure_chart": stacked_bars(
                failures,
                FAILURE_COLORS,
                label_every=6,
                title="Failed validations, 48 hours",
            ),
            "can_unlock": request.user.has_perm("tokens.change_token"),
            **(extra_context or {}),
        }
        return super().index(request, context)

    def unlock_view(self, request, pk: int):
        if not request.user.has_perm("tokens.change_token"):
            messages.error(request, "You may not change tokens.")
            return redirect("admin:index")
        token = get_object_or_404(Token, pk=pk)
        try:
            token_unlock(token=token, actor=f"admin:{request.user.get_username()}")
        except ServiceError as exc:
            messages.warning(request, exc.detail)
        else:
            messages.success(request, f"Unlocked {token.serial}.")
        if request.POST.get("back") == "user":
            return redirect("admin:tessera_user", token.user_id)
        return redirect("admin:index")

    def user_overview_view(self, request, pk: int):
        if not request.user.has_perm("auth.view_user"):
            messages.error(request, "You may not view users.")
            return redirect("admin:index")
        user = get_object_or_404(get_user_model(), pk=pk)
        context = {
            **self.each_context(request),
            "title": f"{user.get_full_name() or user.get_username()}",
            "subject": user,
            "overview": user_overview(user),
            "can_unlock": request.user.has_perm("tokens.change_token"),
        }
        return TemplateResponse(request, "admin/tessera/user.html", context)
