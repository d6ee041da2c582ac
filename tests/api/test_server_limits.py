"""What a live server refuses or adds on every answer, without a proxy in
front: bodies over the limit are refused before they are read, the API's
answers are never cached, the long-poll carries the pages' security headers,
and sessions end."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from tests.servers import free_port, start_daphne, stop
from tokens.services.apiclients import api_client_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    port = free_port()
    process = start_daphne(
        port,
        {"SITE_URL": f"http://localhost:{port}", "TESSERA_MAX_BODY_BYTES": "65536"},
        "limits.log",
    )
    yield port
    stop(process)


def raw_request(port: int, head: bytes, body_chunks=()) -> bytes:
    """Send ``head`` (and what of the body the server lets through); return
    what the server answered before it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection: it will read no more
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
    return answer


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(server):
    head = (
        b"POST /api/v1/auth/validate HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n"
    )
    answer = raw_request(server, head)  # not one byte of the 200 MB is sent
    assert answer.startswith(b"HTTP/1.1 413")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "request_too_large"


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(server):
    head = (
        b"POST /api/v1/auth/validate HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"8000\r\n" + b"x" * 0x8000 + b"\r\n"
    answer = raw_request(server, head, [chunk] * 64)  # 2 MB offered
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_body_within_the_limit_is_served(server):
    body = json.dumps({"username": "alice", "passcode": "123456"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/api/v1/auth/validate",
        body,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 401  # read and answered: no key
    assert answer.value.headers["Cache-Control"] == "no-store"


def test_the_validate_answer_is_never_cached(rp):
    response = rp.post(
        "/api/v1/auth/validate",
        {"username": "alice", "passcode": "123456"},
        format="json",
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_the_long_poll_carries_the_pages_security_headers(server):
    _, key = api_client_create(name="VPN", actor="test")
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/api/v1/auth/push/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {key}"},
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    headers = answer.value.headers
    page = urllib.request.urlopen(f"http://127.0.0.1:{server}/login/", timeout=10)
    for name in (
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    ):
        assert headers[name] == page.headers[name], name
    assert headers["Cache-Control"] == "no-store"


def test_hsts_on_the_long_poll_when_the_request_was_https(settings):
    from tokens.api.push_wait import security_headers

    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    settings.SECURE_HSTS_PRELOAD = False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = {"scheme": "http", "headers": [(b"x-forwarded-proto", b"https")]}
    plain = {"scheme": "http", "headers": []}
    assert (b"Strict-Transport-Security", b"max-age=3600") in security_headers(proxied)
    assert not any(
        name == b"Strict-Transport-Security" for name, _ in security_headers(plain)
    )


def test_sessions_last_twelve_hours_by_default():
    from django.conf import settings

    assert settings.SESSION_COOKIE_AGE == 12 * 3600
