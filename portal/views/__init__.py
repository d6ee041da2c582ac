"""The user portal: login, the Add Authenticator wizard, the self-enrollment
link page and the dashboard. Views validate, call one service, render."""

from portal.views.account import dashboard, enroll_link, token_remove, token_rename
from portal.views.login import (
    home,
    login_continue,
    login_push,
    login_username,
    logout_view,
)
from portal.views.wizard import (
    add_app,
    add_finish,
    add_password,
    add_platform,
    add_setup,
    add_start,
    add_verify,
)

__all__ = [
    "add_app",
    "add_finish",
    "add_password",
    "add_platform",
    "add_setup",
    "add_start",
    "add_verify",
    "dashboard",
    "enroll_link",
    "home",
    "login_continue",
    "login_push",
    "login_username",
    "logout_view",
    "token_remove",
    "token_rename",
]
