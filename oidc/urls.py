"""``/o/``: django-oauth-toolkit's OpenID Connect provider, the parts Tessera
offers: discovery (``/o/.well-known/openid-configuration``), JWKS, the
authorization endpoint (Tessera's, on the portal's login), token, userinfo,
revocation, RP-initiated logout, and the user's own list of the applications
they allowed. Not offered: applications registered by users or dynamically
(only administrators register them), the device flow, introspection."""

from django.urls import path, re_path
from oauth2_provider import views

from oidc.views import AuditedTokenDeleteView, TesseraAuthorizationView

app_name = "oauth2_provider"  # the names django-oauth-toolkit reverses

urlpatterns = [
    path("authorize/", TesseraAuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", views.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", views.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    path(
        "authorized_tokens/",
        views.AuthorizedTokensListView.as_view(),
        name="authorized-token-list",
    ),
    path(
        "authorized_tokens/<slug:pk>/delete/",
        AuditedTokenDeleteView.as_view(),
        name="authorized-token-delete",
    ),
]
