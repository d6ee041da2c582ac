"""Start, login (push by default, or password + passcode) and logout."""

from __future__ import annotations

import time

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import LoginForm, PushLoginForm, UsernameForm
from portal.trusted import trust_this_browser, trusted_id
from portal.views.common import (
    LOGIN_NEXT,
    LOGIN_USERNAME,
    PASSWORD_CHECKED,
    begin_login,
    browser_of,
    client_ip,
    remember_push,
    save_wizard,
    session_push,
)
from tokens.consumers import PUSH_SESSION_KEY
from tokens.models import PushChallenge
from tokens.services import portal as portal_service
from tokens.services.alerts import attack_alert_send
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.factors import login_amr, remember_login
from tokens.services.push import push_cancel
from tokens.services.throttle import allow


def home(request):
    if request.user.is_authenticated and request.user.is_verified():
        return redirect("portal:dashboard")
    return render(request, "portal/start.html")


@never_cache
@require_http_methods(["GET", "POST"])
def login_username(request):
    form = UsernameForm(request.POST or None)
    next_url = request.GET.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session[LOGIN_NEXT] = next_url  # e.g. /admin/ (its login is ours)
    if request.method == "POST" and form.is_valid():
        begin_login(request, form.cleaned_data["username"])
        return redirect("portal:login-continue")
    return render(request, "portal/login_username.html", {"form": form})


def _admin_login(request) -> bool:
    return request.session.get(LOGIN_NEXT, "").startswith(reverse("admin:index"))


def complete_login(request, user, device, method: str, password: bool = True) -> str:
    """Both factors passed (``device``: a token or a passkey, used by
    ``method``): log in, remember what was proven (for the ID tokens of
    OpenID Connect), audit an admin login, and return where to go."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    django_otp.login(request, device)
    remember_login(
        request.session, login_amr(method=method, device=device, password=password)
    )
    trust_this_browser(request, user.get_username())
    request.session.pop(PASSWORD_CHECKED, None)
    next_url = request.session.pop(LOGIN_NEXT, "")
    if next_url.startswith(reverse("admin:index")) and not user.is_staff:
        # A staff login is audited by the admin itself, on its first page.
        audit_record(
            action="admin.login",
            outcome="failure",
            actor=user.get_username(),
            username=user.get_username(),
            serial=getattr(device, "serial", ""),
            source="portal",
            ip=client_ip(request),
            reason="not staff",
            **({"passkey": device.pk} if not hasattr(device, "serial") else {}),
        )
    return next_url or reverse("portal:dashboard")


def logged_in(request, user, device, method: str):
    return redirect(complete_login(request, user, device, method))


def _password_checked(request, username: str) -> None:
    """The password of ``username`` was right here, just now."""
    request.session[PASSWORD_CHECKED] = {"username": username, "at": time.time()}


def password_ok_user(request):
    """The user whose password this session typed in the last five minutes
    (the passkey page's alternatives need no second typing), or None."""
    state = request.session.get(PASSWORD_CHECKED)
    username = request.session.get(LOGIN_USERNAME)
    if not (
        isinstance(state, dict)
        and state.get("username") == username
        and time.time() - state.get("at", 0) < 300
    ):
        return None
    return get_user_model().objects.filter(username=username, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def login_continue(request):
    username = request.session.get(LOGIN_USERNAME)
    if not username:
        return redirect("portal:login")
    # Password first, the same form and the same work for everyone: unknown
    # users, users without an authenticator, push users and passcode-only
    # users cannot be told apart before the password is right (a GET looks
    # nobody up). The passcode form comes after it, or when chosen.
    if request.GET.get("method") != "passcode":
        return _login_with_push(request, username)
    checked = password_ok_user(request)
    form = LoginForm(
        request.POST or None,
        need_password=checked is None,
        # Known only once the password was right (nobody is looked up before).
        server_pin=checked is not None and portal_service.has_server_pin(checked),
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and not throttled(request, username, form)
    ):
        try:
            user, token = portal_service.portal_login_check(
                request=request,
                username=username,
                ip=client_ip(request),
                password=form.cleaned_data.get("password", ""),
                passcode=form.cleaned_data["passcode"],
                user=checked,
            )
        except ServiceError as exc:  # every token locked: say why, until when
            form.add_error(None, exc.detail)
        else:
            if user is not None:
                return logged_in(request, user, token, "passcode")
            _audit_failed_admin_login(request, username)
            form.add_error(None, _("The password or the passcode is not right."))
    return render(
        request,
        "portal/login_password.html",
        {"form": form, "username": username, "push": False},
    )


def _audit_failed_admin_login(request, username: str) -> None:
    if _admin_login(request):
        audit_record(
            action="admin.login",
            outcome="failure",
            username=username,
            source="portal",
            ip=client_ip(request),
        )


def throttled(request, username: str, form) -> bool:
    """Ten attempts per address and username, twenty per address whatever
    the names, and thirty per username from all addresses, in five minutes:
    spreading guesses over many addresses or names does not buy more of them
    (each costs a password hash), nor do all unknown browsers together make
    more than ``TESSERA_UNTRUSTED_LOGINS_PER_MINUTE`` password checks. A browser that logged in as ``username``
    before has its own ten instead (``portal.trusted``), so strangers using
    up the thirty do not lock the user out; when they do, the user is told
    by email. Refusals are audited."""
    ip = client_ip(request) or ""
    trusted = trusted_id(request, username)
    if trusted is not None:
        if allow("login-device", trusted, limit=10, window=300):
            return False
    elif (
        allow("login", ip, username, limit=10, window=300)
        # The hashing a stranger can cause, whatever names they type: per
        # address, and for all unknown browsers together.
        and allow("login-ip", ip, limit=settings.TESSERA_LOGIN_IP_LIMIT, window=300)
        and allow(
            "login-all", limit=settings.TESSERA_UNTRUSTED_LOGINS_PER_MINUTE, window=60
        )
    ):
        if allow("login-user", username, limit=30, window=300):
            return False
        attack_alert_send(username=username, what="passwords", ip=ip or None)
    audit_record(
        action="portal.throttled",
        outcome="failure",
        username=username,
        source="portal",
        ip=ip or None,
        step="login",
    )
    form.add_error(None, _("Too many attempts. Wait a few minutes and try again."))
    return True


def _login_with_push(request, username: str):
    """Password first; then a passkey (offered first when the user has one),
    a push (the default for users with a push token), or enrollment."""
    form = PushLoginForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and not throttled(request, username, form)
    ):
        try:
            user, step = portal_service.portal_password_step(
                request=request,
                username=username,
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
            if step == "push":
                return send_push(request, user)
        except ServiceError as exc:
            if exc.code == "use_passcode":  # the password was right
                _password_checked(request, username)
                return redirect(reverse("portal:login-continue") + "?method=passcode")
            form.add_error(None, exc.detail)
        else:
            if step == "enroll":
                # No authenticator yet: SafeNet's self-enrollment starts here,
                # with the password already checked.
                save_wizard(request, user, {"password_ok": True})
                return redirect("portal:add")
            if step == "passkey":
                _password_checked(request, username)
                return redirect("portal:login-passkey")
            _audit_failed_admin_login(request, username)
            form.add_error(None, _("That password is not right."))
    return render(
        request,
        "portal/login_password.html",
        {"form": form, "username": username, "push": True},
    )


def send_push(request, user):
    """Send the login's push and wait for it; a refused push (fatigue, locked)
    goes back to the password page with the reason."""
    username = user.get_username()
    try:
        challenge = portal_service.portal_push_send(
            user=user, ip=client_ip(request), browser=browser_of(request)
        )
    except ServiceError as exc:
        own = session_push(request, "login", username)
        if own is not None and own.state == PushChallenge.State.PENDING:
            return redirect("portal:login-push")  # e.g. after a reload
        if exc.code == "use_passcode":
            return redirect(reverse("portal:login-continue") + "?method=passcode")
        messages.error(request, exc.detail)
        return render(
            request,
            "portal/login_password.html",
            {"form": PushLoginForm(), "username": username, "push": True},
        )
    remember_push(request, challenge, "login")
    # The phone may be lost: a backup code or "I lost my phone" need no
    # second typing of the password for five minutes.
    _password_checked(request, username)
    return redirect("portal:login-push")


@never_cache
@require_http_methods(["GET", "POST"])
def login_push(request):
    """Waits for the phone (over /ws/push/), then completes the login."""
    username = request.session.get(LOGIN_USERNAME) or ""
    challenge = session_push(request, "login", username)
    if challenge is None:
        return redirect("portal:login")
    if request.method == "POST" and "cancel" in request.POST:
        push_cancel(challenge_id=challenge.pk, username=username)
        request.session.pop(PUSH_SESSION_KEY, None)
        messages.info(request, _("The login request was cancelled."))
        return redirect("portal:login-continue")
    if request.method == "POST":
        token = portal_service.portal_push_finish(
            challenge_id=challenge.pk, username=username, ip=client_ip(request)
        )
        if token is not None:
            request.session.pop(PUSH_SESSION_KEY, None)
            return logged_in(request, token.user, token, "push")
        challenge.refresh_from_db()
    return render(request, "portal/login_push.html", {"challenge": challenge})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("portal:home")
