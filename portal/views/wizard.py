"""The Add Authenticator wizard, in the order of SafeNet's self-enrollment."""

from __future__ import annotations

import django_otp
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.forms import CodeForm, LoginForm, PasswordForm
from portal.trusted import trust_this_browser
from portal.views.common import (
    LOGIN_NEXT,
    PLATFORMS,
    WIZARD,
    browser_of,
    client_ip,
    platforms_here_first,
    remember_push,
    save_wizard,
    session_push,
    setup_context,
    wizard_state,
    wizard_user_id,
)
from tokens.consumers import PUSH_SESSION_KEY
from tokens.models import PushChallenge, Token
from tokens.services import portal as portal_service
from tokens.services.enrollment import token_assign
from tokens.services.errors import ServiceError
from tokens.services.factors import login_amr, remember_login
from tokens.services.throttle import allow
from tokens.services.verification import verification_check, verification_send


def _wizard_user(request):
    """Whose Add Authenticator this is: the logged-in user, or the person
    this session's wizard state was proven for (by id and name)."""
    if request.user.is_authenticated and request.user.is_verified():
        return request.user
    uid = wizard_user_id(request)
    if uid is None:
        return None
    user = get_user_model().objects.filter(pk=uid, is_active=True).first()
    return user if wizard_state(request, user) else None


@never_cache
@require_http_methods(["GET", "POST"])
def add_start(request):
    user = _wizard_user(request)
    if user is None:
        return redirect("portal:login")
    if request.user.is_authenticated and request.user.is_verified():
        state = {**wizard_state(request, user), "verified": True, "password_ok": False}
        save_wizard(request, user, state)
        return redirect("portal:add-password")
    if request.method == "POST":
        state, refusal = verification_send(
            user=user, state=wizard_state(request, user), ip=client_ip(request)
        )
        save_wizard(request, user, state)
        if refusal:
            messages.error(request, refusal)
        return redirect("portal:add-verify")
    return render(request, "portal/add_start.html", {"username": user.get_username()})


@never_cache
@require_http_methods(["GET", "POST"])
def add_verify(request):
    user = _wizard_user(request)
    if user is None or not wizard_state(request, user).get("sent_at"):
        return redirect("portal:add")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        state, refusal = verification_check(
            user=user,
            state=wizard_state(request, user),
            code=form.cleaned_data["code"],
            ip=client_ip(request),
        )
        save_wizard(request, user, state)
        if not refusal:
            return redirect("portal:add-password")
        form.add_error("code", refusal)
    return render(request, "portal/add_verify.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def add_password(request):
    user = _wizard_user(request)
    state = wizard_state(request, user)
    if user is None or not state.get("verified"):
        return redirect("portal:add")
    if state.get("password_ok"):  # typed at login, before the wizard began
        return redirect("portal:add-app")
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
            save_wizard(request, user, {**state, "password_ok": True})
            return redirect("portal:add-app")
        else:
            form.add_error("password", _("That password is not right."))
    return render(request, "portal/add_password.html", {"form": form})


def wizard_ready(request):
    user = _wizard_user(request)
    state = wizard_state(request, user)
    if user is None or not (state.get("verified") and state.get("password_ok")):
        return None, state
    return user, state


@never_cache
@require_http_methods(["GET", "POST"])
def add_app(request):
    user, state = wizard_ready(request)
    if user is None:
        return redirect("portal:add")
    if request.method == "POST":
        if request.POST.get("kind") == "passkey":
            return redirect("portal:add-passkey")
        return redirect("portal:add-platform")
    return render(request, "portal/add_app.html")


@never_cache
@require_http_methods(["GET", "POST"])
def add_platform(request):
    user, state = wizard_ready(request)
    if user is None:
        return redirect("portal:add")
    platform = request.POST.get("platform")
    if request.method == "POST" and platform in PLATFORMS:
        try:
            issued = token_assign(
                user=user,
                actor=f"self:{user.get_username()}",
                notify=False,
            )
        except ServiceError as exc:
            messages.error(request, exc.detail)
            return redirect(
                "portal:dashboard" if request.user.is_authenticated else "portal:add"
            )
        save_wizard(
            request,
            user,
            {**state, "serial": issued.token.serial, "platform": platform},
        )
        return redirect("portal:add-setup")
    # This browser's platform first: on a phone, the user most likely
    # activates on that phone.
    ordered, here, suggested = platforms_here_first(request)
    return render(
        request,
        "portal/add_platform.html",
        {"platforms": ordered, "here": here, "suggested": suggested},
    )


def _wizard_token(user, state) -> Token | None:
    serial = state.get("serial")
    if not serial:
        return None
    return (
        Token.objects.filter(user=user, serial=serial).select_related("policy").first()
    )


@never_cache
def add_setup(request):
    user, state = wizard_ready(request)
    token = _wizard_token(user, state) if user else None
    if token is None:
        return redirect("portal:add")
    if token.state == Token.State.ACTIVE:
        return redirect("portal:add-finish")
    # An activation a device began but never confirmed can be restarted.
    enrollment = token.enrollments.filter(voided_at__isnull=True).last()
    if enrollment is None or not enrollment.is_open:
        messages.error(
            request, _("That activation can no longer be used. Start again.")
        )
        return redirect("portal:add-platform")
    context = setup_context(request, enrollment, state.get("platform", "android"))
    return render(request, "portal/add_setup.html", {**context, "next_url": "finish/"})


def _enrollment_push(request, user, token) -> PushChallenge | None:
    """The first push to the new token: this session's, or a new one."""
    own = session_push(request, "enroll", user.get_username())
    if own is not None and own.state == PushChallenge.State.PENDING:
        if own.tokens.filter(pk=token.pk).exists():
            return own
    try:
        challenge = portal_service.enrollment_push_start(
            token=token, ip=client_ip(request), browser=browser_of(request)
        )
    except ServiceError:
        return None  # fatigue limits: the passcode still works
    if challenge is not None:
        remember_push(request, challenge, "enroll")
    return challenge


def _enrolled(request, user, token, method: str):
    request.session.pop(WIZARD, None)
    request.session.pop(PUSH_SESSION_KEY, None)
    if request.user.pk != user.pk:  # Django's login flushes another's session
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    token = Token.objects.select_related("policy").get(pk=token.pk)
    django_otp.login(request, token)
    remember_login(request.session, login_amr(method=method, device=token))
    trust_this_browser(request, user.get_username())
    messages.success(
        request,
        _("Your authenticator %(serial)s is enrolled.") % {"serial": token.serial},
    )
    # The first admin came for the admin: it is where they land.
    next_url = request.session.pop(LOGIN_NEXT, "")
    if user.is_staff and next_url.startswith(reverse("admin:index")):
        return redirect(next_url)
    return redirect("portal:dashboard")  # which offers backup codes if none yet


@never_cache
@require_http_methods(["GET", "POST"])
def add_finish(request):
    user, state = wizard_ready(request)
    token = _wizard_token(user, state) if user else None
    if token is None:
        return redirect("portal:add")
    if token.state != Token.State.ACTIVE:
        # "I have activated it" before the device did: say so, keep waiting.
        messages.error(
            request,
            _(
                "Your token is not active yet: activate it in the Tessera app on "
                "your device first. This page moves on when it is."
            ),
        )
        return redirect("portal:add-setup")
    if request.method == "POST" and "push" in request.POST:
        own = session_push(request, "enroll", user.get_username())
        approved = own is not None and portal_service.portal_push_finish(
            challenge_id=own.pk,
            username=user.get_username(),
            ip=client_ip(request),
            source="portal-enroll",
        )
        if approved and approved.pk == token.pk:
            return _enrolled(request, user, token, "push")
        messages.error(request, _("The request was not approved. Enter a passcode."))
        return redirect("portal:add-finish")
    passcode_form = LoginForm(
        request.POST or None,
        need_password=False,
        server_pin=token.policy.pin_mode == "server",
    )
    if request.method == "POST" and passcode_form.is_valid():
        if not allow("finish", user.get_username(), limit=10, window=300):
            passcode_form.add_error(None, _("Too many attempts. Wait a few minutes."))
        elif portal_service.token_finish_enrollment(
            token=token,
            passcode=passcode_form.cleaned_data["passcode"],
            ip=client_ip(request),
        ):
            return _enrolled(request, user, token, "passcode")
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
