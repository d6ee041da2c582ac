"""Passkeys and security keys in the portal: add one, log in with one (after
the password, or passwordless), rename and remove.

The browser side is ``static/portal/passkey.js``: it asks for options (JSON),
runs ``navigator.credentials``, and posts the result as JSON. The challenge
lives in the session for one use and five minutes.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth import authenticate
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import PasswordForm, RenameForm
from portal.views.account import after_removal
from portal.views.common import (
    LOGIN_USERNAME,
    PASSKEY_CHALLENGE,
    WIZARD,
    client_ip,
    otp_required,
)
from portal.views.login import complete_login, password_ok_user, send_push
from portal.views.wizard import wizard_ready
from tokens.models import Passkey
from tokens.services.errors import ServiceError
from tokens.services.push import push_tokens
from tokens.services.throttle import allow
from tokens.services.webauthn import passkeys as service
from tokens.wire import loads_bounded

LIFETIME = 300  # seconds a challenge may be answered in


def _remember(request, purpose: str, challenge: bytes, user=None) -> None:
    request.session[PASSKEY_CHALLENGE] = {
        "purpose": purpose,
        "uid": user.pk if user is not None else None,
        "challenge": challenge.hex(),
        "at": time.time(),
    }


def _take(request, purpose: str, user=None) -> bytes | None:
    """This session's challenge for ``purpose``, once, and only for the
    user it was made for (``None``: passwordless, made for nobody)."""
    state = request.session.pop(PASSKEY_CHALLENGE, None)
    if (
        not isinstance(state, dict)
        or state.get("purpose") != purpose
        or state.get("uid") != (user.pk if user is not None else None)
        or time.time() - state.get("at", 0) > LIFETIME
    ):
        return None
    return bytes.fromhex(state["challenge"])


def _body(request) -> dict:
    if len(request.body) > 16 * 1024:
        return {}
    try:
        data = loads_bounded(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _options(json_text: str) -> JsonResponse:
    return JsonResponse({"options": json_text}, headers={"Cache-Control": "no-store"})


def _refused(detail: str, status: int = 400) -> JsonResponse:
    return JsonResponse(
        {"error": "passkey_refused", "detail": str(detail)}, status=status
    )


# --- adding one (the Add Authenticator wizard, or a logged-in user) -------------


@never_cache
def add_passkey(request):
    user, _state = wizard_ready(request)
    if user is None:
        return redirect("portal:add")
    return render(request, "portal/add_passkey.html")


@require_POST
def add_passkey_options(request):
    user, _state = wizard_ready(request)
    if user is None:
        return _refused(_("Start Add Authenticator again."), 403)
    options, challenge = service.passkey_registration_options(user=user)
    _remember(request, "register", challenge, user)
    return _options(options)


@require_POST
def add_passkey_finish(request):
    user, _state = wizard_ready(request)
    challenge = _take(request, "register", user)
    if user is None or challenge is None:
        return _refused(_("This request expired. Start again."), 403)
    body = _body(request)
    try:
        passkey = service.passkey_register(
            user=user,
            credential=body.get("credential"),
            challenge=challenge,
            name=str(body.get("name") or "")[:64],
            ip=client_ip(request),
        )
    except ServiceError as exc:
        return _refused(exc.detail)
    request.session.pop(WIZARD, None)
    if request.user.is_authenticated and request.user.is_verified():
        messages.success(request, _("Your passkey was added."))
        return JsonResponse({"next": reverse("portal:dashboard")})
    # A new user's first authenticator: the password and the email code were
    # checked by the wizard, and the passkey was just made by its owner.
    return JsonResponse({"next": complete_login(request, user, passkey, "passkey")})


# --- logging in with one ------------------------------------------------------------


@never_cache
def login_passkey(request):
    """After the password: "Use your passkey", with the app as alternatives."""
    user = password_ok_user(request)
    if user is None:
        return redirect("portal:login-continue")
    if request.method == "POST" and request.POST.get("method") == "push":
        return send_push(request, user)
    return render(
        request,
        "portal/login_passkey.html",
        {"username": user.get_username(), "push": bool(push_tokens(user))},
    )


@require_POST
def login_passkey_options(request):
    user = password_ok_user(request)
    if user is None:
        return _refused(_("Type your password again."), 403)
    options, challenge = service.passkey_authentication_options(user=user)
    _remember(request, "login", challenge, user)
    return _options(options)


@require_POST
def login_passkey_finish(request):
    user = password_ok_user(request)
    challenge = _take(request, "login", user)
    if user is None or challenge is None:
        return _refused(_("This request expired. Type your password again."), 403)
    return _finish_login(request, challenge, user)


@require_POST
def passwordless_options(request):
    options, challenge = service.passkey_authentication_options()
    _remember(request, "passwordless", challenge)
    return _options(options)


@require_POST
def passwordless_finish(request):
    challenge = _take(request, "passwordless")
    if challenge is None:
        return _refused(_("This request expired. Try again."), 403)
    if not allow("passwordless", client_ip(request) or "", limit=20, window=300):
        return _refused(_("Too many attempts. Wait a few minutes."), 429)
    return _finish_login(request, challenge, None)


def _finish_login(request, challenge: bytes, user):
    try:
        passkey = service.passkey_authenticate(
            credential=_body(request).get("credential"),
            challenge=challenge,
            user=user,
            ip=client_ip(request),
        )
    except ServiceError as exc:
        return _refused(exc.detail, 403)
    request.session.pop(LOGIN_USERNAME, None)
    return JsonResponse(
        {
            "next": complete_login(
                request, passkey.user, passkey, "passkey", password=user is not None
            )
        }
    )


# --- managing them ------------------------------------------------------------------


def _own_passkey(request, pk: int) -> Passkey:
    passkey = Passkey.objects.filter(pk=pk, user=request.user).first()
    if passkey is None:
        raise Http404
    return passkey


@otp_required
@never_cache
@require_http_methods(["GET", "POST"])
def passkey_rename(request, pk: int):
    passkey = _own_passkey(request, pk)
    form = RenameForm(request.POST or None, initial={"name": passkey.name})
    if request.method == "POST" and form.is_valid():
        try:
            service.passkey_rename(
                passkey=passkey,
                name=form.cleaned_data["name"],
                actor=f"user:{request.user.get_username()}",
            )
        except ServiceError as exc:
            form.add_error("name", exc.detail)
        else:
            return redirect("portal:dashboard")
    return render(
        request, "portal/passkey_rename.html", {"form": form, "token": passkey}
    )


@otp_required
@never_cache
@require_http_methods(["GET", "POST"])
def passkey_remove(request, pk: int):
    """Removal needs a fresh verification: the password, typed now."""
    passkey = _own_passkey(request, pk)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = request.user.get_username()
        if not allow("password", username, limit=5, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        elif authenticate(
            request, username=username, password=form.cleaned_data["password"]
        ):
            device_id = passkey.persistent_id  # before the row is gone
            service.passkey_remove(
                passkey=passkey, actor=f"user:{username}", ip=client_ip(request)
            )
            messages.success(request, _("The passkey was removed."))
            return after_removal(request, device_id)
        else:
            form.add_error("password", _("That password is not right."))
    return render(
        request, "portal/passkey_remove.html", {"form": form, "passkey": passkey}
    )
