"""The authorization endpoint, on the portal's login.

A session counts only when the portal completed both factors there (the
portal keeps what they were); ``prompt=login`` and ``max_age`` send the user
through the portal's login again; ``prompt=none`` never shows a page
(``login_required``, ``consent_required``). Untrusted applications get a
consent page in the portal's style; trusted ones (``skip_authorization``)
skip it. Every authorization and refusal is audited.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from oauth2_provider.views import AuthorizationView, AuthorizedTokenDeleteView

from oidc.models import LoginRecord
from oidc.validator import current_request
from tokens.addresses import request_ip
from tokens.services.audit import audit_record
from tokens.services.factors import ACR_MFA, session_login


class TesseraAuthorizationView(AuthorizationView):
    template_name = "oidc/authorize.html"

    def _login(self):
        if not (self.request.user.is_authenticated and self.request.user.is_verified()):
            return None
        return session_login(self.request.session)

    def dispatch(self, request, *args, **kwargs):
        challenge = "code_challenge" in request.GET
        if challenge and request.GET.get("code_challenge_method") != "S256":
            return HttpResponseBadRequest(
                "PKCE: only code_challenge_method=S256 is accepted.",
                content_type="text/plain",
            )
        token = current_request.set(request)  # for prompt=none (validator)
        try:
            return self._dispatch(request, *args, **kwargs)
        finally:
            current_request.reset(token)

    def _dispatch(self, request, *args, **kwargs):
        found = self._login() if request.user.is_authenticated else None
        if request.user.is_authenticated and found is None:
            # Logged in some other way (a password alone): not enough.
            return self.handle_no_permission()
        if found is not None and self._too_old(found):
            return self.handle_prompt_login()
        return super().dispatch(request, *args, **kwargs)

    def _too_old(self, found) -> bool:
        max_age = self.request.GET.get("max_age", "")
        return max_age.isdigit() and time.time() - found["at"] > int(max_age)

    def get_login_url(self):
        return "/login/"

    def redirect(self, redirect_to, application):
        """Back to the application by a page that navigates there itself: a
        302 after the portal's or the consent page's form would be refused
        by the pages' Content-Security-Policy (``form-action 'self'`` covers
        a form's redirects). The URL is django-oauth-toolkit's, checked
        against the application's allowed schemes."""
        checked = super().redirect(redirect_to, application)
        response = render(
            self.request,
            "oidc/continue.html",
            {"url": checked.url, "application": application},
        )
        response["Cache-Control"] = "no-store"
        return response

    def create_authorization_response(self, request, scopes, credentials, allow):
        found = self._login()
        if allow and found is not None:
            # Which factors the ID tokens of this grant will name, and when.
            self.record = LoginRecord.objects.create(
                user=request.user,
                amr=found["amr"],
                acr=ACR_MFA if "mfa" in found["amr"] else "",
                auth_time=timezone.datetime.fromtimestamp(
                    found["at"], tz=timezone.get_current_timezone()
                ),
            )
            credentials = {**credentials, "tessera_login": self.record}
        response = super().create_authorization_response(
            request, scopes, credentials, allow
        )
        audit_record(
            action="oidc.authorize",
            outcome="success" if allow else "failure",
            username=request.user.get_username(),
            source="oidc",
            ip=request_ip(request),
            client=credentials.get("client_id", "")[:40],
            scope=scopes,
            **({} if allow else {"reason": "the user did not consent"}),
        )
        return response

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        prompt = set(request.GET.get("prompt", "").split())
        if "none" in prompt and response.status_code == 200 and self.oauth2_data:
            # The consent page would show: prompt=none shows no page.
            data = self.oauth2_data
            query = {"error": "consent_required"}
            if data.get("state"):
                query["state"] = data["state"]
            separator = "&" if "?" in data["redirect_uri"] else "?"
            return self.redirect(
                data["redirect_uri"] + separator + urlencode(query),
                data["application"],
            )
        return response

    def error_response(self, error, application, **kwargs):
        audit_record(
            action="oidc.authorize",
            outcome="failure",
            username=self.request.user.get_username()
            if self.request.user.is_authenticated
            else "",
            source="oidc",
            ip=request_ip(self.request),
            reason=str(getattr(error, "error", error))[:200],
        )
        return super().error_response(error, application, **kwargs)


class AuditedTokenDeleteView(AuthorizedTokenDeleteView):
    """The user revokes an application's access from their list; audited."""

    def form_valid(self, form):
        token = self.get_object()
        audit_record(
            action="oidc.revoke",
            outcome="success",
            actor=f"user:{self.request.user.get_username()}",
            username=self.request.user.get_username(),
            source="portal",
            client=token.application.name if token.application else "",
        )
        return super().form_valid(form)
