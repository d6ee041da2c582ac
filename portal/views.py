"""The user portal: login, the Add Authenticator wizard, the self-enrollment
link page and the dashboard. Views validate, call one service, render."""

from __future__ import annotations

from functools import wraps

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.browser import describe_browser
from portal.throttle import allow
from tokens.consumers import PUSH_SESSION_KEY, WATCH_SESSION_KEY
from tokens.models import PushChallenge, Token
from tokens.qr import qr_svg
from tokens.selectors import policy_default
from tokens.services import portal as portal_service
from tokens.services.enrollment import (
    enrollment_by_link,
    enrollment_reveal,
    token_assign,
)
from tokens.services.errors import ServiceError
from tokens.services.push import push_tokens
from tokens.services.verification import verification_check, verification_send

PLATFORMS = {
    "android": _("Android phone or tablet"),
    "ios": _("iPhone or iPad"),
    "windows": _("Windows"),
    "macos": _("macOS"),
    "linux": _("Linux"),
}
WIZARD = "tessera_wizard"
LOGIN_USERNAME = "tessera_login_username"


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _wizard(request) -> dict:
    return request.session.get(WIZARD, {})


def _save_wizard(request, state: dict) -> None:
    request.session[WIZARD] = state


def _watch(request, serial: str) -> None:
    serials = [s for s in request.session.get(WATCH_SESSION_KEY, []) if s != serial]
    request.session[WATCH_SESSION_KEY] = [*serials, serial][-5:]


def _browser(request) -> str:
    return describe_browser(request.META.get("HTTP_USER_AGENT", ""))


def _remember_push(request, challenge, purpose: str) -> None:
    request.session[PUSH_SESSION_KEY] = {
        "id": str(challenge.pk),
        "username": challenge.username,
        "purpose": purpose,
    }


def _session_push(request, purpose: str, username: str) -> PushChallenge | None:
    """This browser's own push of ``purpose`` for ``username``, if any."""
    state = request.session.get(PUSH_SESSION_KEY)
    if not (
        isinstance(state, dict)
        and state.get("purpose") == purpose
        and state.get("username") == username
    ):
        return None
    return PushChallenge.objects.filter(pk=state["id"], username=username).first()


def otp_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_authenticated and request.user.is_verified()):
            return redirect("portal:login")
        return view(request, *args, **kwargs)

    return wrapper


def _setup_context(request, enrollment, platform: str) -> dict:
    """What a set-up screen shows: QR code, activation string, same-device link."""
    text = enrollment_reveal(enrollment=enrollment, ip=_ip(request))
    token = enrollment.token
    link = f"{settings.SITE_URL}/app/#activate={text}"
    _watch(request, token.serial)
    return {
        "token": token,
        "platform": platform,
        "platform_name": PLATFORMS.get(platform, ""),
        "activation_string": text,
        "activation_link": link,
        "qr": qr_svg(link) if token.policy.qr_enrollment else None,
        "app_url": f"{settings.SITE_URL}/app/",
    }


# --- start and login --------------------------------------------------------


class UsernameForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)


class PushLoginForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, max_length=256
    )


class LoginForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, max_length=256
    )
    passcode = forms.RegexField(
        r"^[A-Za-z0-9]{6,24}$",
        label=_("Passcode"),
        max_length=24,
        help_text=_("With a server PIN, type the PIN then the passcode."),
        error_messages={"invalid": _("A passcode is 6 to 24 letters or digits.")},
    )


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
        _save_wizard(request, {"username": username})
        return redirect("portal:add")
    # Push is the default. Unknown users see the same password form, so the
    # page does not tell who exists.
    if request.GET.get("method") != "passcode" and (user is None or push_tokens(user)):
        return _login_with_push(request, username)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not allow("login", _ip(request) or "", username, limit=10, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        else:
            user, token = portal_service.portal_login_check(
                request=request, username=username, ip=_ip(request), **form.cleaned_data
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


def _login_with_push(request, username: str):
    """Password, then a push: the default for users with a push token."""
    form = PushLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not allow("login", _ip(request) or "", username, limit=10, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        else:
            try:
                user, challenge = portal_service.portal_push_start(
                    request=request,
                    username=username,
                    password=form.cleaned_data["password"],
                    ip=_ip(request),
                    browser=_browser(request),
                )
            except ServiceError as exc:
                own = _session_push(request, "login", username)
                if own is not None and own.state == PushChallenge.State.PENDING:
                    return redirect("portal:login-push")  # e.g. after a reload
                form.add_error(None, exc.detail)
            else:
                if user is not None:
                    _remember_push(request, challenge, "login")
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
    challenge = _session_push(request, "login", username)
    if challenge is None:
        return redirect("portal:login")
    if request.method == "POST":
        token = portal_service.portal_push_finish(
            challenge_id=challenge.pk, username=username, ip=_ip(request)
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


# --- the Add Authenticator wizard --------------------------------------------


def _wizard_user(request):
    if request.user.is_authenticated and request.user.is_verified():
        return request.user
    username = _wizard(request).get("username")
    if not username:
        return None
    return get_user_model().objects.filter(username=username, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def add_start(request):
    user = _wizard_user(request)
    if user is None:
        return redirect("portal:login")
    if request.user.is_authenticated and request.user.is_verified():
        state = {
            **_wizard(request),
            "username": user.get_username(),
            "verified": True,
            "password_ok": False,
        }
        _save_wizard(request, state)
        return redirect("portal:add-password")
    if request.method == "POST":
        state, refusal = verification_send(
            user=user, state=_wizard(request), ip=_ip(request)
        )
        state["username"] = user.get_username()
        _save_wizard(request, state)
        if refusal:
            messages.error(request, refusal)
        return redirect("portal:add-verify")
    return render(request, "portal/add_start.html", {"username": user.get_username()})


class CodeForm(forms.Form):
    code = forms.RegexField(
        r"^\s*\d{6}\s*$",
        label=_("Verification code"),
        max_length=12,
        error_messages={"invalid": _("The code has six digits.")},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def add_verify(request):
    user = _wizard_user(request)
    if user is None or not _wizard(request).get("sent_at"):
        return redirect("portal:add")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        state, refusal = verification_check(
            user=user,
            state=_wizard(request),
            code=form.cleaned_data["code"],
            ip=_ip(request),
        )
        _save_wizard(request, state)
        if not refusal:
            return redirect("portal:add-password")
        form.add_error("code", refusal)
    return render(request, "portal/add_verify.html", {"form": form})


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, max_length=256
    )


@never_cache
@require_http_methods(["GET", "POST"])
def add_password(request):
    user = _wizard_user(request)
    state = _wizard(request)
    if user is None or not state.get("verified"):
        return redirect("portal:add")
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not allow("password", user.get_username(), limit=5, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        elif (
            authenticate(
                request,
                username=user.get_username(),
                password=form.cleaned_data["password"],
            )
            is not None
        ):
            _save_wizard(request, {**state, "password_ok": True})
            return redirect("portal:add-app")
        else:
            form.add_error("password", _("That password is not right."))
    return render(request, "portal/add_password.html", {"form": form})


def _wizard_ready(request):
    user = _wizard_user(request)
    state = _wizard(request)
    if user is None or not (state.get("verified") and state.get("password_ok")):
        return None, state
    return user, state


@never_cache
@require_http_methods(["GET", "POST"])
def add_app(request):
    user, state = _wizard_ready(request)
    if user is None:
        return redirect("portal:add")
    if request.method == "POST":
        return redirect("portal:add-platform")
    return render(request, "portal/add_app.html")


@never_cache
@require_http_methods(["GET", "POST"])
def add_platform(request):
    user, state = _wizard_ready(request)
    if user is None:
        return redirect("portal:add")
    platform = request.POST.get("platform")
    if request.method == "POST" and platform in PLATFORMS:
        try:
            issued = token_assign(
                user=user,
                policy=policy_default(),
                actor=f"self:{user.get_username()}",
                notify=False,
            )
        except ServiceError as exc:
            messages.error(request, exc.detail)
            return redirect(
                "portal:dashboard" if request.user.is_authenticated else "portal:add"
            )
        _save_wizard(
            request, {**state, "serial": issued.token.serial, "platform": platform}
        )
        return redirect("portal:add-setup")
    return render(request, "portal/add_platform.html", {"platforms": PLATFORMS})


def _wizard_token(user, state) -> Token | None:
    serial = state.get("serial")
    if not serial:
        return None
    return (
        Token.objects.filter(user=user, serial=serial).select_related("policy").first()
    )


@never_cache
def add_setup(request):
    user, state = _wizard_ready(request)
    token = _wizard_token(user, state) if user else None
    if token is None:
        return redirect("portal:add")
    if token.state == Token.State.ACTIVE:
        return redirect("portal:add-finish")
    enrollment = token.enrollments.filter(
        used_at__isnull=True, voided_at__isnull=True
    ).first()
    if enrollment is None or not enrollment.is_open:
        messages.error(
            request, _("That activation can no longer be used. Start again.")
        )
        return redirect("portal:add-platform")
    context = _setup_context(request, enrollment, state.get("platform", "android"))
    return render(request, "portal/add_setup.html", {**context, "next_url": "finish/"})


def _enrollment_push(request, user, token) -> PushChallenge | None:
    """The first push to the new token: this session's, or a new one."""
    own = _session_push(request, "enroll", user.get_username())
    if own is not None and own.state == PushChallenge.State.PENDING:
        if own.tokens.filter(pk=token.pk).exists():
            return own
    try:
        challenge = portal_service.enrollment_push_start(
            token=token, ip=_ip(request), browser=_browser(request)
        )
    except ServiceError:
        return None  # fatigue limits: the passcode still works
    if challenge is not None:
        _remember_push(request, challenge, "enroll")
    return challenge


def _enrolled(request, user, token):
    request.session.pop(WIZARD, None)
    request.session.pop(PUSH_SESSION_KEY, None)
    if not request.user.is_authenticated:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    django_otp.login(request, Token.objects.get(pk=token.pk))
    messages.success(
        request,
        _("Your authenticator %(serial)s is enrolled.") % {"serial": token.serial},
    )
    return redirect("portal:dashboard")


@never_cache
@require_http_methods(["GET", "POST"])
def add_finish(request):
    user, state = _wizard_ready(request)
    token = _wizard_token(user, state) if user else None
    if token is None:
        return redirect("portal:add")
    if request.method == "POST" and "push" in request.POST:
        own = _session_push(request, "enroll", user.get_username())
        approved = own is not None and portal_service.portal_push_finish(
            challenge_id=own.pk,
            username=user.get_username(),
            ip=_ip(request),
            source="portal-enroll",
        )
        if approved and approved.pk == token.pk:
            return _enrolled(request, user, token)
        messages.error(request, _("The request was not approved. Enter a passcode."))
        return redirect("portal:add-finish")
    passcode_form = LoginForm(request.POST or None)
    passcode_form.fields.pop("password")
    if request.method == "POST" and passcode_form.is_valid():
        if not allow("finish", user.get_username(), limit=10, window=300):
            passcode_form.add_error(None, _("Too many attempts. Wait a few minutes."))
        elif portal_service.token_finish_enrollment(
            token=token,
            passcode=passcode_form.cleaned_data["passcode"],
            ip=_ip(request),
        ):
            return _enrolled(request, user, token)
        else:
            passcode_form.add_error(
                "passcode", _("That passcode is not right. Try the next one.")
            )
    challenge = _enrollment_push(request, user, token)
    return render(
        request,
        "portal/add_finish.html",
        {"form": passcode_form, "token": token, "challenge": challenge},
    )


# --- the self-enrollment page of the notification email -----------------------


@never_cache
def enroll_link(request, code):
    enrollment = enrollment_by_link(code)
    if enrollment is None:
        return render(request, "portal/link_invalid.html", status=404)
    platform = request.GET.get("platform")
    if platform not in PLATFORMS:
        return render(
            request,
            "portal/enroll_platforms.html",
            {"platforms": PLATFORMS, "token": enrollment.token},
        )
    context = _setup_context(request, enrollment, platform)
    return render(request, "portal/enroll_link.html", context)


# --- dashboard ------------------------------------------------------------------


@otp_required
def dashboard(request):
    tokens = Token.objects.filter(user=request.user).exclude(state=Token.State.REVOKED)
    return render(
        request, "portal/dashboard.html", {"tokens": tokens.order_by("created_at")}
    )


def _own_token(request, serial) -> Token:
    token = (
        Token.objects.filter(user=request.user, serial=serial)
        .exclude(state=Token.State.REVOKED)
        .first()
    )
    if token is None:
        raise Http404
    return token


class RenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)


@otp_required
@require_http_methods(["GET", "POST"])
def token_rename(request, serial):
    token = _own_token(request, serial)
    form = RenameForm(request.POST or None, initial={"name": token.name})
    if request.method == "POST" and form.is_valid():
        portal_service.token_rename(
            token=token,
            name=form.cleaned_data["name"],
            actor=f"self:{request.user.get_username()}",
        )
        return redirect("portal:dashboard")
    return render(request, "portal/token_rename.html", {"form": form, "token": token})


@otp_required
@require_http_methods(["GET", "POST"])
def token_remove(request, serial):
    token = _own_token(request, serial)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not allow("password", request.user.get_username(), limit=5, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        elif (
            authenticate(
                request,
                username=request.user.get_username(),
                password=form.cleaned_data["password"],
            )
            is not None
        ):
            portal_service.token_remove(
                token=token, actor=f"self:{request.user.get_username()}"
            )
            messages.success(request, _("%(serial)s was removed.") % {"serial": serial})
            return redirect("portal:dashboard")
        else:
            form.add_error("password", _("That password is not right."))
    return render(request, "portal/token_remove.html", {"form": form, "token": token})
