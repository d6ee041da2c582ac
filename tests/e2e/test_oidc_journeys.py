"""A web application nobody here wrote the OIDC side of signs its users in
through Tessera, in Chromium: a small relying party (a WSGI app in this
process) on authlib's OAuth 2.0 client (authorization code + PKCE S256, the
ID token checked with authlib's JOSE against Tessera's JWKS, the nonce
checked), and the user logging in on Tessera's portal by push and by
passcode; ``prompt=login`` makes them log in again."""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.cookies import SimpleCookie
from io import StringIO
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from django.core.management import call_command
from oauth2_provider.models import Application
from playwright.sync_api import expect

from tests.e2e.steps import (
    activated,
    add_virtual_authenticator,
    next_step_code,
    presence,
    walk_intro,
    wizard_to_choice,
)
from tests.e2e.test_push_journeys import PASSWORD, activate_phone
from tests.servers import free_port
from tokens.services.enrollment import token_assign


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class RelyingParty:
    """``/login`` starts a sign-in (``?prompt=login`` passes on), ``/callback``
    finishes it and shows the verified ID token's claims in ``#claims``."""

    def __init__(self, tessera: str, client_id: str, secret: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.discovery = requests.get(
            tessera + "/o/.well-known/openid-configuration", timeout=10
        ).json()
        self.client_id, self.secret = client_id, secret
        self.pending: dict[str, dict] = {}
        self.server = make_server(
            "127.0.0.1", self.port, self.app, handler_class=_Quiet
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def session(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.secret,
            scope="openid profile email",
            redirect_uri=self.url + "/callback",
            code_challenge_method="S256",
        )

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path == "/login":
            verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
            extra = {"prompt": query["prompt"][0]} if "prompt" in query else {}
            url, state = self.session().create_authorization_url(
                self.discovery["authorization_endpoint"],
                code_verifier=verifier,
                nonce=nonce,
                **extra,
            )
            self.pending[state] = {"verifier": verifier, "nonce": nonce}
            start_response(
                "302 Found", [("Location", url), ("Set-Cookie", f"rp={state}")]
            )
            return [b""]
        if path == "/callback":
            cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
            mine = self.pending.pop(cookie["rp"].value)
            assert query["state"][0] == cookie["rp"].value
            token = self.session().fetch_token(
                self.discovery["token_endpoint"],
                authorization_response=self.url
                + "/callback?"
                + environ["QUERY_STRING"],
                code_verifier=mine["verifier"],
            )
            keys = JsonWebKey.import_key_set(
                requests.get(self.discovery["jwks_uri"], timeout=10).json()
            )
            claims = jwt.decode(
                token["id_token"],
                keys,
                claims_options={
                    "iss": {"essential": True, "value": self.discovery["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                    "nonce": {"essential": True, "value": mine["nonce"]},
                },
            )
            claims.validate()
            body = (
                "<!doctype html><title>RP</title><h1>Signed in</h1>"
                f"<pre id='claims'>{json.dumps(dict(claims))}</pre>"
            )
            start_response("200 OK", [("Content-Type", "text/html")])
            return [body.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def relying_party(live):
    client_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    call_command(
        "createapplication",
        "confidential",
        "authorization-code",
        "--name",
        "Wiki",
        f"--client-id={client_id}",  # an id may start with "-"
        f"--client-secret={secret}",
        "--redirect-uris",
        "http://127.0.0.1/callback",  # replaced below by the RP's own
        "--algorithm",
        "RS256",
        "--skip-authorization",
        stdout=StringIO(),
    )
    rp = RelyingParty(live, client_id, secret)
    # The redirect URI was registered for the port the RP got.
    Application.objects.filter(client_id=client_id).update(
        redirect_uris=rp.url + "/callback"
    )
    yield rp
    rp.stop()


def claims_of(desktop) -> dict:
    expect(desktop.locator("#claims")).to_be_visible()
    return json.loads(desktop.locator("#claims").inner_text())


def portal_password(desktop):
    desktop.fill("#id_username", "alice")
    desktop.click("#submit")
    desktop.fill("#id_password", PASSWORD)
    desktop.click("#submit")


def test_an_application_signs_the_user_in_by_push(
    live, desktop, page, user, push_policy, relying_party, shot
):
    activate_phone(page, live, user, push_policy)
    desktop.goto(relying_party.url + "/login")
    expect(desktop.locator("#id_username")).to_be_visible()  # Tessera's portal
    shot(desktop, "1-tessera-login")
    portal_password(desktop)
    expect(desktop.locator("#push-number")).to_have_text(re.compile(r"^\d\d$"))
    page.click(f"#number-{desktop.locator('#push-number').inner_text()}")
    claims = claims_of(desktop)
    shot(desktop, "2-signed-in-at-the-application")
    assert claims["amr"] == ["pwd", "swk", "mfa"]
    assert claims["acr"] == "urn:tessera:mfa"
    assert claims["preferred_username"] == "alice"
    first = claims["auth_time"]
    # prompt=login: a fresh second factor, whatever the session says.
    desktop.goto(relying_party.url + "/login?prompt=login")
    portal_password(desktop)
    page.click(f"#number-{desktop.locator('#push-number').inner_text()}")
    again = claims_of(desktop)
    assert again["auth_time"] >= first and again["amr"] == ["pwd", "swk", "mfa"]


def test_an_application_signs_the_user_in_by_passcode(
    live, desktop, page, user, make_policy, relying_party, shot
):
    policy = make_policy(push_enabled=False, pin_mode="none", fingerprint="disabled")
    issued = token_assign(user=user, policy=policy, actor="test")
    page.clock.install()  # next_step_code moves the app's clock a step on
    page.goto(issued.activation_link)
    walk_intro(page, push=False)
    activated(page)
    expect(page.locator("li.token")).to_have_count(1)
    desktop.goto(relying_party.url + "/login")
    portal_password(desktop)
    desktop.fill("#id_passcode", next_step_code(page))
    desktop.click("#submit")
    claims = claims_of(desktop)
    shot(desktop, "signed-in")
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_an_application_signs_the_user_in_by_passkey_and_passwordless(
    live, desktop, user, mail_dir, relying_party, shot
):
    cdp, authenticator = add_virtual_authenticator(desktop.context, desktop)

    wizard_to_choice(desktop, live, mail_dir, PASSWORD)
    desktop.check("#kind-passkey")
    desktop.click("#submit")
    desktop.fill("#passkey-name", "Work laptop")
    desktop.click("#passkey-create")
    expect(desktop.locator("#passkeys")).to_contain_text("Work laptop")
    desktop.click("text=Log out")
    # Password, then the passkey.
    presence(cdp, authenticator, False)
    desktop.goto(relying_party.url + "/login")
    portal_password(desktop)
    expect(desktop.locator("#passkey-login")).to_be_visible()
    presence(cdp, authenticator, True)
    desktop.click("#passkey-login")
    claims = claims_of(desktop)
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]
    # Passwordless: the login page's username field offers the passkey.
    desktop.goto(relying_party.url + "/login?prompt=login")
    again = claims_of(desktop)
    shot(desktop, "passwordless")
    assert again["amr"] == ["hwk", "user", "mfa"]
    assert again["auth_time"] >= claims["auth_time"]
