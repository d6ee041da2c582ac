"""OpenID Connect against a live Tessera, with a relying party nobody here
wrote: authlib's OAuth2Session (authorization code + PKCE S256) and its JOSE
to check the ID token's signature against the JWKS. The user logs in through
the portal's own steps in the same cookie jar, as a browser would."""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import BadSignatureError
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.servers import free_port, start_daphne, stop
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"
CALLBACK = "http://rp.example/callback"


@pytest.fixture(scope="module")
def server_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("oidc-cache")


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker, server_cache):
    port = free_port()
    process = start_daphne(
        port,
        {
            "SITE_URL": f"http://localhost:{port}",
            "TESSERA_TEST_SERVER_CACHE": str(server_cache),
        },
        "oidc.log",
    )
    yield f"http://localhost:{port}"
    stop(process)


@pytest.fixture(autouse=True)
def _fresh_server_throttles(server_cache):
    """Each test's logins start with the live server's throttles empty."""
    for entry in server_cache.iterdir():
        entry.unlink()


@pytest.fixture
def discovery(live):
    return requests.get(live + "/o/.well-known/openid-configuration", timeout=10).json()


@pytest.fixture
def alice(transactional_db, enroll, make_policy):
    user = get_user_model().objects.create_user(
        "alice", "alice@example.com", PASSWORD, first_name="Alice", last_name="L"
    )
    device = enroll(
        user, make_policy(push_enabled=False, pin_mode="none", otp_kind="hotp")
    )
    return user, device


def application(*options) -> tuple[str, str]:
    secret = secrets.token_urlsafe(32)
    client_id = secrets.token_urlsafe(16)
    call_command(
        "createapplication",
        "confidential",
        "authorization-code",
        "--name",
        "Grafana",
        f"--client-id={client_id}",  # an id may start with "-"
        f"--client-secret={secret}",
        "--redirect-uris",
        CALLBACK,
        "--algorithm",
        "RS256",
        *options,
        stdout=StringIO(),
    )
    return client_id, secret


def form_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def portal_login(live, device, start: str) -> str:
    """A browser follows the authorization request into the portal's login
    and back; returns the callback URL the RP receives."""
    browser = requests.Session()
    answer = browser.get(start, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(
        "/login/"
    )
    page = browser.get(live + answer.headers["Location"]).text
    browser.post(
        live + "/login/",
        {"username": "alice", "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/"},
        allow_redirects=False,
    )
    page = browser.get(live + "/login/continue/").text
    step = browser.post(
        live + "/login/continue/",
        {"password": PASSWORD, "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/continue/"},
        allow_redirects=False,
    )
    page = browser.get(live + step.headers["Location"]).text
    done = browser.post(
        live + "/login/continue/?method=passcode",
        {"passcode": device.next_code(), "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/continue/?method=passcode"},
        allow_redirects=False,
    )
    back = browser.get(live + done.headers["Location"], allow_redirects=False)
    return back_to_application(back)


def back_to_application(response) -> str:
    """Where Tessera's page sends the browser back to the application (a
    page that navigates itself: a 302 after a form would break the CSP)."""
    assert response.status_code == 200, response.text[:500]
    found = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', response.text)
    return html.unescape(found.group(1))


def rp(discovery, client_id, secret, **kw) -> OAuth2Session:
    return OAuth2Session(
        client_id,
        secret,
        scope=kw.pop("scope", "openid profile email offline_access"),
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method=kw.pop("auth", "client_secret_basic"),
        **kw,
    )


def verify(id_token: str, discovery, client_id: str, nonce: str) -> dict:
    keys = JsonWebKey.import_key_set(
        requests.get(discovery["jwks_uri"], timeout=10).json()
    )
    claims = jwt.decode(
        id_token,
        keys,
        claims_options={
            "iss": {"essential": True, "value": discovery["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate()
    return claims


def test_an_application_signs_a_user_in_and_learns_how_they_logged_in(
    live, discovery, alice
):
    user, device = alice
    client_id, secret = application("--skip-authorization")
    assert discovery["issuer"] == live + "/o"
    assert "S256" in discovery["code_challenge_methods_supported"]
    session = rp(discovery, client_id, secret)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    start, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    before = int(time.time())
    callback = portal_login(live, device, start)
    assert callback.startswith(CALLBACK) and parse_qs(urlsplit(callback).query)[
        "state"
    ] == [state]
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
    )
    claims = verify(token["id_token"], discovery, client_id, nonce)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "urn:tessera:mfa"
    assert before <= claims["auth_time"] <= int(time.time())
    assert len(claims["sub"]) == 32 and str(user.pk) != claims["sub"]
    info = session.get(discovery["userinfo_endpoint"]).json()
    assert (info["sub"], info["preferred_username"], info["email"]) == (
        claims["sub"],
        "alice",
        "alice@example.com",
    )
    assert token.get("refresh_token")  # offline_access was asked for
    refreshed = session.refresh_token(discovery["token_endpoint"])
    again = jwt.decode(
        refreshed["id_token"],
        JsonWebKey.import_key_set(
            requests.get(discovery["jwks_uri"], timeout=10).json()
        ),
    )
    assert again["auth_time"] == claims["auth_time"] and again["amr"] == claims["amr"]
    assert AuditEvent.objects.filter(
        action="oidc.authorize", outcome="success"
    ).exists()
    assert AuditEvent.objects.filter(action="oidc.token").count() >= 2


def test_a_code_works_once_and_the_verifier_must_match(live, discovery, alice):
    _, device = alice
    client_id, secret = application("--skip-authorization")
    session = rp(discovery, client_id, secret, auth="client_secret_post")
    verifier, nonce = secrets.token_urlsafe(48), "n"
    start, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = portal_login(live, device, start)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    def exchange(with_verifier):
        return requests.post(
            discovery["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": client_id,
                "client_secret": secret,
                "code_verifier": with_verifier,
            },
            timeout=10,
        )

    wrong = exchange("x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    first = exchange(verifier)
    assert first.status_code == 200
    replay = exchange(verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_a_tampered_id_token_is_rejected_by_the_client(live, discovery, alice):
    _, device = alice
    client_id, secret = application("--skip-authorization")
    session = rp(discovery, client_id, secret)
    verifier, nonce = secrets.token_urlsafe(48), "n2"
    start, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=portal_login(live, device, start),
        code_verifier=verifier,
    )
    head, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    )
    forged = ".".join([head, forged_payload, signature])
    with pytest.raises(BadSignatureError):
        verify(forged, discovery, client_id, nonce)


def authorize(discovery, client_id: str, **params):
    """An authorization request from a browser with no session."""
    query = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": CALLBACK,
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        **params,
    }
    return requests.get(
        discovery["authorization_endpoint"],
        params=query,
        allow_redirects=False,
        timeout=10,
    )


def test_an_unregistered_redirect_uri_is_no_open_redirect(live, discovery):
    client_id, _ = application()
    answer = authorize(
        discovery,
        client_id,
        redirect_uri="https://evil.example/steal",
        prompt="none",
    )
    assert "evil.example" not in answer.headers.get("Location", "")
    assert "evil.example" not in answer.text


def test_prompt_none_without_a_session_answers_login_required(live, discovery):
    client_id, _ = application()
    answer = authorize(discovery, client_id, state="s1", prompt="none")
    query = parse_qs(urlsplit(back_to_application(answer)).query)
    assert query["error"] == ["login_required"] and query["state"] == ["s1"]


def test_plain_pkce_is_refused(live, discovery):
    client_id, _ = application()
    assert (
        authorize(discovery, client_id, code_challenge_method="plain").status_code
        == 400
    )


def test_the_user_sees_and_revokes_the_applications_they_allowed(
    live, discovery, alice
):
    from oauth2_provider.models import AccessToken

    _, device = alice
    client_id, secret = application()  # untrusted: the consent page shows
    session = rp(discovery, client_id, secret)
    verifier = secrets.token_urlsafe(48)
    start, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n3"
    )
    browser = requests.Session()
    first = browser.get(start, allow_redirects=False)
    assert first.headers["Location"].startswith("/login/")
    # The consent page comes after the portal's login (same steps as above).
    consent_url = portal_login_in(browser, live, device, start)
    page = browser.get(consent_url).text
    assert "Sign in to Grafana?" in page and 'id="allow"' in page
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    )
    answer = browser.post(
        consent_url,
        {**fields, "allow": "Authorize"},
        headers={"Referer": consent_url},
        allow_redirects=False,
    )
    callback = back_to_application(answer)
    session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
    )
    listing = browser.get(live + "/o/authorized_tokens/").text
    assert "Grafana" in listing
    token = AccessToken.objects.get(application__client_id=client_id)
    delete_url = f"{live}/o/authorized_tokens/{token.pk}/delete/"
    page = browser.get(delete_url).text
    browser.post(
        delete_url,
        {"csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": delete_url},
        allow_redirects=False,
    )
    assert not AccessToken.objects.filter(pk=token.pk).exists()


def portal_login_in(browser, live, device, start) -> str:
    """The portal's login in ``browser``; returns where it sends back to."""
    page = browser.get(
        live + browser.get(start, allow_redirects=False).headers["Location"]
    ).text
    browser.post(
        live + "/login/",
        {"username": "alice", "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/"},
    )
    page = browser.get(live + "/login/continue/").text
    browser.post(
        live + "/login/continue/",
        {"password": PASSWORD, "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/continue/"},
        allow_redirects=False,
    )
    page = browser.get(live + "/login/continue/?method=passcode").text
    done = browser.post(
        live + "/login/continue/?method=passcode",
        {"passcode": device.next_code(), "csrfmiddlewaretoken": form_token(page)},
        headers={"Referer": live + "/login/continue/?method=passcode"},
        allow_redirects=False,
    )
    return live + done.headers["Location"]


@pytest.mark.parametrize(
    "path",
    ["/o/applications/", "/o/applications/register/", "/o/register/", "/o/device/"],
)
def test_users_cannot_register_applications(live, path):
    assert (
        requests.get(live + path, timeout=10, allow_redirects=False).status_code == 404
    )


def test_amr_names_what_was_used():
    from types import SimpleNamespace

    from tokens.models import Passkey, Policy, Token
    from tokens.services.factors import login_amr

    policy = Policy(pin_mode="token", user_verification="required")
    token = Token(policy=policy, push_proof=True)
    assert login_amr(method="push", device=token)[:2] == ["pwd", "swk"]
    assert "pin" in login_amr(method="push", device=token)
    assert login_amr(
        method="passkey", device=Passkey(user_verified=True), password=False
    ) == [
        "hwk",
        "user",
        "mfa",
    ]
    assert login_amr(method="passcode", device=SimpleNamespace()) == [
        "pwd",
        "otp",
        "mfa",
    ]


def test_the_admin_revokes_every_token_of_an_application_at_once(admin_client):
    from oauth2_provider.models import AccessToken, Application, RefreshToken

    client = admin_client
    root = get_user_model().objects.get(username="root")
    client_id, _ = application()
    app = Application.objects.get(client_id=client_id)
    from datetime import timedelta

    from django.utils import timezone

    access = AccessToken.objects.create(
        user=root,
        application=app,
        token="a" * 40,
        expires=timezone.now() + timedelta(hours=1),
    )
    RefreshToken.objects.create(
        user=root, application=app, token="r" * 40, access_token=access
    )
    client.post(
        "/admin/oauth2_provider/application/",
        {"action": "revoke_tokens", "_selected_action": [app.pk]},
    )
    assert not AccessToken.objects.filter(application=app).exists()
    assert not RefreshToken.objects.filter(
        application=app, revoked__isnull=True
    ).exists()
    assert AuditEvent.objects.filter(
        action="oidc.revoke", detail__all_tokens=True
    ).exists()


def test_a_reused_code_revokes_the_tokens_issued_from_it(live, discovery, alice):
    _, device = alice
    client_id, secret = application("--skip-authorization")
    session = rp(discovery, client_id, secret)
    verifier = secrets.token_urlsafe(48)
    start, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n4"
    )
    callback = portal_login(live, device, start)
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    replay = requests.post(
        discovery["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
        timeout=10,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    info = requests.get(
        discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert info.status_code == 401  # the access token issued from it is revoked
    refreshed = requests.post(
        discovery["token_endpoint"],
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client_id, secret),
        timeout=10,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action="oidc.code_reuse").exists()


def test_a_revoked_or_expired_refresh_token_is_refused(live, discovery, alice):
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import RefreshToken

    _, device = alice
    client_id, secret = application("--skip-authorization")

    def signed_in():
        session = rp(discovery, client_id, secret)
        verifier = secrets.token_urlsafe(48)
        start, _ = session.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce="n5"
        )
        return session.fetch_token(
            discovery["token_endpoint"],
            authorization_response=portal_login(live, device, start),
            code_verifier=verifier,
        )

    def refresh(value):
        return requests.post(
            discovery["token_endpoint"],
            {"grant_type": "refresh_token", "refresh_token": value},
            auth=(client_id, secret),
            timeout=10,
        )

    token = signed_in()
    revoked = requests.post(
        live + "/o/revoke_token/",
        {"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    assert refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    later = signed_in()
    RefreshToken.objects.filter(revoked__isnull=True).update(
        created=timezone.now() - timedelta(days=31)
    )
    assert refresh(later["refresh_token"]).json()["error"] == "invalid_grant"


def test_an_old_signing_key_stays_in_the_jwks_after_rotation(settings, client):
    """Rotation as the README says: the new key signs, the old key's public
    half stays published until the tokens it signed have expired."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from oauth2_provider.settings import oauth2_settings

    def pem():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    old, new = pem(), pem()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": new,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old],
    }
    oauth2_settings.reload()
    try:
        keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    finally:
        oauth2_settings.reload()
    assert len(keys) == 2 and len({k["kid"] for k in keys}) == 2


def test_the_users_own_revocation_is_audited(live, discovery, alice):
    from oauth2_provider.models import AccessToken

    _, device = alice
    client_id, secret = application("--skip-authorization")
    session = rp(discovery, client_id, secret)
    verifier = secrets.token_urlsafe(48)
    start, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n6"
    )
    browser = requests.Session()
    callback = back_to_application(
        browser.get(
            portal_login_in(browser, live, device, start), allow_redirects=False
        )
    )
    session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
    )
    token = AccessToken.objects.get(application__client_id=client_id)
    url = f"{live}/o/authorized_tokens/{token.pk}/delete/"
    page = browser.get(url).text
    browser.post(
        url, {"csrfmiddlewaretoken": form_token(page)}, headers={"Referer": url}
    )
    assert AuditEvent.objects.filter(
        action="oidc.revoke", actor="user:alice", detail__client="Grafana"
    ).exists()


def test_rp_initiated_logout_redirects_only_to_registered_uris(client, alice):
    user, _ = alice
    application()
    client.force_login(user)
    answer = client.get(
        "/o/logout/", {"post_logout_redirect_uri": "https://evil.example/after"}
    )
    assert "evil.example" not in answer.headers.get("Location", "")
