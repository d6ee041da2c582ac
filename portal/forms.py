"""The portal's forms: shapes of input only, no rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# The browser's password manager fills the account's current password.
PASSWORD = forms.PasswordInput(attrs={"autocomplete": "current-password"})


class UsernameForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        # "webauthn": the browser may offer a passkey in the suggestions.
        widget=forms.TextInput(attrs={"autocomplete": "username webauthn"}),
    )


class PushLoginForm(forms.Form):
    password = forms.CharField(label=_("Password"), widget=PASSWORD, max_length=256)


class LoginForm(forms.Form):
    password = forms.CharField(label=_("Password"), widget=PASSWORD, max_length=256)
    passcode = forms.RegexField(
        r"^[A-Za-z0-9]{6,24}$",
        label=_("Passcode"),
        max_length=24,
        error_messages={"invalid": _("A passcode is 6 to 24 letters or digits.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text"}
        ),
    )

    def __init__(
        self, *args, need_password: bool = True, server_pin: bool = False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        if not need_password:  # typed a moment ago, on the one password form
            del self.fields["password"]
        if server_pin:  # only where the user's token has one
            self.fields["passcode"].help_text = _(
                "Type your PIN, then the passcode, with nothing in between."
            )


class CodeForm(forms.Form):
    code = forms.RegexField(
        r"^\s*\d{6}\s*$",
        label=_("Verification code"),
        max_length=12,
        error_messages={"invalid": _("The code has six digits.")},
    )


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("Password"), widget=PASSWORD, max_length=256)


class RenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)


class BackupLoginForm(forms.Form):
    """A backup code, with the password when this session has not typed it."""

    password = forms.CharField(label=_("Password"), widget=PASSWORD, max_length=256)
    code = forms.CharField(
        label=_("Backup code"),
        max_length=24,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
        help_text=_("One of the codes you saved when you enrolled. Each works once."),
    )

    def __init__(self, *args, need_password: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not need_password:
            del self.fields["password"]


class LostForm(forms.Form):
    """ "I lost my phone": the password, when this session has not typed it."""

    password = forms.CharField(label=_("Password"), widget=PASSWORD, max_length=256)

    def __init__(self, *args, need_password: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not need_password:
            del self.fields["password"]
