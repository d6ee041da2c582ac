"""Start, login (push by default, or password + passcode) and logout."""

from __future__ import annotations

import django_otp
from django.contrib.auth import get_user_model, login, logout
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import LoginForm, PushLoginForm, UsernameForm
from portal.throttle import allow
from portal.views.common import (
    LOGIN_USERNAME,
    browser_of,
    client_ip,
    remember_push,
    save_wizard,
    session_push,
)
from tokens.consumers import PUSH_SESSION_KEY
from tokens.models import PushChallenge
from tokens.services import portal as portal_service
from tokens.services.errors import ServiceError
from tokens.services.push import push_tokens


def home(request):
    if request.user.is_authenticated and request.user.is_verified():
        return redirect("portal:dashboard")
    return render(request, "portal/start.html")


@never_cache
@require_http_methods(["GET", "POST"])
def login_username(request):
    form = UsernameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        request.session[LOGIN_USERNAME] = form.cleaned_data["username"]
        return redirect("portal:login-continue")
    return render(request, "portal/login_username.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def login_continue(request):
    username = request.session.get(LOGIN_USERNAME)
    if not username:
        return redirect("portal:login")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is not None and not portal_service.usable_tokens(user):
        # No authenticator yet: SafeNet's self-enrollment starts here.
        save_wizard(request, {"username": username})
        return redirect("portal:add")
    # Push is the default. Unknown users see the same password form, so the
    # page does not tell who exists.
    if request.GET.get("method") != "passcode" and (user is None or push_tokens(user)):
        return _login_with_push(request, username)
    form = LoginForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and not _throttled(request, username, form)
    ):
        user, token = portal_service.portal_login_check(
            request=request,
            username=username,
            ip=client_ip(request),
            **form.cleaned_data,
        )
        if user is not None:
            login(request, user)
            django_otp.login(request, token)
            return redirect("portal:dashboard")
        form.add_error(None, _("The password or the passcode is not right."))
    return render(
        request,
        "portal/login_password.html",
        {"form": form, "username": username, "push": False},
    )


def _throttled(request, username: str, form) -> bool:
    """Ten login attempts per address and username in five minutes."""
    if allow("login", client_ip(request) or "", username, limit=10, window=300):
        return False
    form.add_error(None, _("Too many attempts. Wait a few minutes and try again."))
    return True


def _login_with_push(request, username: str):
    """Password, then a push: the default for users with a push token."""
    form = PushLoginForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and not _throttled(request, username, form)
    ):
        try:
            user, challenge = portal_service.portal_push_start(
                request=request,
                username=username,
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                browser=browser_of(request),
            )
        except ServiceError as exc:
            own = session_push(request, "login", username)
            if own is not None and own.state == PushChallenge.State.PENDING:
                return redirect("portal:login-push")  # e.g. after a reload
            form.add_error(None, exc.detail)
        else:
            if user is not None:
                remember_push(request, challenge, "login")
                return redirect("portal:login-push")
            form.add_error(None, _("That password is not right."))
    return render(
        request,
        "portal/login_password.html",
        {"form": form, "username": username, "push": True},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def login_push(request):
    """Waits for the phone (over /ws/push/), then completes the login."""
    username = request.session.get(LOGIN_USERNAME) or ""
    challenge = session_push(request, "login", username)
    if challenge is None:
        return redirect("portal:login")
    if request.method == "POST":
        token = portal_service.portal_push_finish(
            challenge_id=challenge.pk, username=username, ip=client_ip(request)
        )
        if token is not None:
            request.session.pop(PUSH_SESSION_KEY, None)
            login(
                request, token.user, backend="django.contrib.auth.backends.ModelBackend"
            )
            django_otp.login(request, token)
            return redirect("portal:dashboard")
        challenge.refresh_from_db()
    return render(request, "portal/login_push.html", {"challenge": challenge})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("portal:home")
