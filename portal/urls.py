from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_username, name="login"),
    path("login/continue/", views.login_continue, name="login-continue"),
    path("login/push/", views.login_push, name="login-push"),
    path("logout/", views.logout_view, name="logout"),
    path("add/", views.add_start, name="add"),
    path("add/verify/", views.add_verify, name="add-verify"),
    path("add/password/", views.add_password, name="add-password"),
    path("add/app/", views.add_app, name="add-app"),
    path("add/platform/", views.add_platform, name="add-platform"),
    path("add/setup/", views.add_setup, name="add-setup"),
    path("add/setup/finish/", views.add_finish, name="add-finish"),
    path("enroll/<str:code>/", views.enroll_link, name="enroll"),
    path("authenticators/", views.dashboard, name="dashboard"),
    path(
        "authenticators/<str:serial>/rename/", views.token_rename, name="token-rename"
    ),
    path(
        "authenticators/<str:serial>/remove/", views.token_remove, name="token-remove"
    ),
]
