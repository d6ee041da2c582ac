from django.urls import path

from portal import views
from portal.views import passkeys, recovery

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_username, name="login"),
    path("login/continue/", views.login_continue, name="login-continue"),
    path("login/push/", views.login_push, name="login-push"),
    path("login/passkey/", passkeys.login_passkey, name="login-passkey"),
    path(
        "login/passkey/options",
        passkeys.login_passkey_options,
        name="login-passkey-options",
    ),
    path(
        "login/passkey/finish",
        passkeys.login_passkey_finish,
        name="login-passkey-finish",
    ),
    path("passkey/options", passkeys.passwordless_options, name="passwordless-options"),
    path("passkey/finish", passkeys.passwordless_finish, name="passwordless-finish"),
    path("login/backup/", recovery.login_backup, name="login-backup"),
    path("login/lost/", recovery.lost_start, name="login-lost"),
    path("login/lost/verify/", recovery.lost_verify, name="login-lost-verify"),
    path("logout/", views.logout_view, name="logout"),
    path("add/", views.add_start, name="add"),
    path("add/verify/", views.add_verify, name="add-verify"),
    path("add/password/", views.add_password, name="add-password"),
    path("add/app/", views.add_app, name="add-app"),
    path("add/platform/", views.add_platform, name="add-platform"),
    path("add/passkey/", passkeys.add_passkey, name="add-passkey"),
    path(
        "add/passkey/options", passkeys.add_passkey_options, name="add-passkey-options"
    ),
    path("add/passkey/finish", passkeys.add_passkey_finish, name="add-passkey-finish"),
    path("add/setup/", views.add_setup, name="add-setup"),
    path("add/setup/finish/", views.add_finish, name="add-finish"),
    path("enroll/<str:code>/", views.enroll_link, name="enroll"),
    path("authenticators/", views.dashboard, name="dashboard"),
    path("authenticators/backup-codes/", recovery.backup_codes, name="backup-codes"),
    path(
        "authenticators/<str:serial>/rename/", views.token_rename, name="token-rename"
    ),
    path(
        "authenticators/<str:serial>/remove/", views.token_remove, name="token-remove"
    ),
    path("authenticators/<str:serial>/move/", recovery.token_move, name="token-move"),
    path("passkeys/<int:pk>/rename/", passkeys.passkey_rename, name="passkey-rename"),
    path("passkeys/<int:pk>/remove/", passkeys.passkey_remove, name="passkey-remove"),
]
