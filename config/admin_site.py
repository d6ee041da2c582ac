"""The admin behind Tessera's own second factor (django-otp's OTPAdminSite).

The admin can issue a new activation for anyone, so it takes what the portal
takes: the password, then a push approval or a passcode. Its login page is the
portal's (one set of throttles, audit records and factors); a staff user with
no authenticator yet is led through Add Authenticator first.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class TesseraAdminSite(OTPAdminSite):
    site_header = "Tessera administration"
    site_title = "Tessera admin"

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def login(self, request, extra_context=None):
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return redirect(index)
        if request.user.is_authenticated and request.user.is_verified():
            messages.error(request, "This account may not use the admin.")
            return redirect("portal:dashboard")
        next_url = request.GET.get("next") or index
        return redirect(reverse("portal:login") + "?" + urlencode({"next": next_url}))
