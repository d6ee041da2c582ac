"""Settings fail closed in production and pass check --deploy."""

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.pop("TESSERA_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = manage(
        "check",
        env={"SITE_URL": "https://mfa.example.com", "TESSERA_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr and "TESSERA_SEED_KEYS" in result.stderr
    assert not (tmp_path / "secrets.json").exists()


def test_production_settings_pass_check_deploy(tmp_path):
    key_file = tmp_path / "pin.key"
    key_file.write_text("p" * 40)
    env = {
        "DEBUG": "false",
        "TESSERA_DATA_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "x7!" * 20 + "Zq9",
        "TESSERA_SEED_KEYS": "k2:" + base64.b64encode(b"k" * 32).decode(),
        "TESSERA_PIN_KEY_FILE": str(key_file),
        "SITE_URL": "https://mfa.example.com",
        "TESSERA_VAPID_PRIVATE_KEY": "x" * 43,
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_first_run_generates_secrets_in_a_private_file(tmp_path):
    result = manage("check", env={"TESSERA_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    secrets = tmp_path / "secrets.json"
    assert secrets.exists() and oct(secrets.stat().st_mode & 0o777) == "0o600"


def test_assign_token_prints_only_json_on_stdout_while_the_email_goes_to_stderr(
    tmp_path,
):
    import json

    # Its own SQLite file, whatever DATABASE_URL the suite runs with: the
    # user it creates must not outlive the test.
    env = {"TESSERA_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    assert manage("migrate", "-v0", env=env).returncode == 0
    created = manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_user('bob', 'bob@example.com')",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    result = manage("assign_token", "bob", env=env)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {
        "serial",
        "enrollment_url",
        "activation_string",
        "activation_link",
    }
    assert "Enroll your Tessera token" in result.stderr  # the notification email


def test_debug_is_off_unless_a_developer_turns_it_on(tmp_path):
    show = "from django.conf import settings; print(settings.DEBUG)"
    env = {"TESSERA_DATA_DIR": str(tmp_path)}
    assert manage("shell", "-c", show, env=env).stdout.split()[-1] == "False"
    on = manage("shell", "-c", show, env={**env, "DEBUG": "true"})
    assert on.stdout.split()[-1] == "True"


def test_the_embedded_server_shows_no_debug_page_to_the_network(tmp_path):
    """bin/run's defaults on a non-loopback bind: an error page carries no
    traceback, URLconf or settings."""
    import urllib.error
    import urllib.request

    from tests.servers import free_port, stop

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "TESSERA_DATA_DIR": str(tmp_path),
    }
    env.pop("DEBUG", None)
    assert manage("migrate", "-v0", env=env).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "0.0.0.0", "-p", str(port)]
        + ["config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/no/such/page")
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
                body = exc.read().decode()
                break
            except OSError:
                import time

                time.sleep(0.1)
        assert body, "the server did not answer"
        for leak in ("URLconf", "Traceback", "DEBUG = True", "SECRET_KEY"):
            assert leak not in body
    finally:
        stop(server)


def test_database_urls_take_the_usual_forms(tmp_path, monkeypatch):
    from config.env import database_from_url

    embedded = database_from_url("", tmp_path / "t.sqlite3")
    assert embedded["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    given = database_from_url(f"sqlite:///{tmp_path}/other.db", tmp_path / "x")
    assert given["NAME"] == f"{tmp_path}/other.db"
    assert "journal_mode=WAL" in given["OPTIONS"]["init_command"]
    pg = database_from_url(
        "postgres://u:p%40ss@db.example:6543/tessera?sslmode=require", tmp_path
    )
    assert (pg["ENGINE"], pg["HOST"], pg["PORT"], pg["PASSWORD"], pg["NAME"]) == (
        "config.postgresql",  # Django's, with a health check without round trip
        "db.example",
        6543,
        "p@ss",
        "tessera",
    )
    assert pg["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,  # Django's default is never
    }
    assert pg["CONN_HEALTH_CHECKS"]
    monkeypatch.setenv("TESSERA_PG_PREPARE", "off")  # behind an old PgBouncer
    pooled = database_from_url("postgres://u:p@db.example/tessera", tmp_path / "x")
    assert "server_side_binding" not in pooled.get("OPTIONS", {})
    assert "prepare_threshold" not in pooled.get("OPTIONS", {})


def test_a_deployment_needs_a_vapid_key_unless_web_push_is_off(tmp_path):
    env = {
        "TESSERA_DATA_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "x7!" * 20 + "Zq9",
        "TESSERA_SEED_KEYS": "k2:" + base64.b64encode(b"k" * 32).decode(),
        "TESSERA_PIN_KEY": "p" * 40,
        "SITE_URL": "https://mfa.example.com",
    }
    refused = manage("check", env=env)
    assert refused.returncode != 0 and "TESSERA_VAPID_PRIVATE_KEY" in refused.stderr
    assert manage("check", env={**env, "TESSERA_WEBPUSH": "off"}).returncode == 0


def test_an_older_secrets_file_gains_a_vapid_key_and_keeps_the_rest(tmp_path):
    import json

    old = {
        "secret_key": "s" * 60,
        "seed_keys": "k1:" + "A" * 43 + "=",
        "pin_key": "p" * 40,
    }
    (tmp_path / "secrets.json").write_text(json.dumps(old))
    show = "from django.conf import settings; print(settings.TESSERA_VAPID_PRIVATE_KEY)"
    result = manage("shell", "-c", show, env={"TESSERA_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "secrets.json").read_text())
    assert {k: saved[k] for k in old} == old
    assert len(saved["vapid_private_key"]) == 43
    assert result.stdout.split()[-1] == saved["vapid_private_key"]


def test_bin_run_takes_host_and_port_and_manage_py_follows_its_site_url(tmp_path):
    """The banner says the real address; on a network address over plain http
    it says plainly what a phone needs; manage.py then makes links for the
    address bin/run serves (not a default of its own)."""
    import time

    from tests.servers import free_port, stop

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "TESSERA_DATA_DIR": str(tmp_path),
    }
    env.pop("SITE_URL", None)
    run = subprocess.Popen(
        [str(ROOT / "bin" / "run"), "--host", "0.0.0.0", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = run.stdout.readline()
        while "Tessera on" not in banner:
            assert run.poll() is None, run.stderr.read()
            banner = run.stdout.readline()
        assert f"Tessera on http://localhost:{port}/" in banner
        time.sleep(0.2)
    finally:
        stop(run)
    note = run.stderr.read()
    assert "adb reverse" in note and "plain http on a network address" in note
    show = "from django.conf import settings; print(settings.SITE_URL)"
    shown = manage("shell", "-c", show, env={"TESSERA_DATA_DIR": str(tmp_path)})
    assert shown.stdout.split()[-1] == f"http://localhost:{port}"


def test_the_default_address_is_localhost(tmp_path):
    show = "from django.conf import settings; print(settings.SITE_URL)"
    shown = manage("shell", "-c", show, env={"TESSERA_DATA_DIR": str(tmp_path)})
    assert shown.stdout.split()[-1] == "http://localhost:8000"
