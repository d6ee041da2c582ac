"""A real directory for the tests: Debian's slapd in a temporary folder on
the loopback, with StartTLS (a CA and a server certificate made here), people
and groups loaded by python-ldap; and Tessera's settings pointed at it."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from pathlib import Path

import ldap
import ldap.modlist
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port

SUFFIX = "dc=example,dc=org"
ROOT_DN, ROOT_PW = f"cn=admin,{SUFFIX}", "directory admin secret"
PEOPLE, GROUPS = f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}"
PASSWORDS = {"alice": "alice's directory pw", "bob": "bob's directory pw"}
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificates(folder: Path) -> Path:
    """A CA, and a certificate for localhost signed by it; returns the CA."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Tessera test CA"))
        .issuer_name(_name("Tessera test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            # libldap checks a "localhost" URL against the machine's own name.
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name)
                    for name in {"localhost", socket.gethostname(), socket.getfqdn()}
                ]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(_pem_key(key))
    return folder / "ca.pem"


class Slapd:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"ldap://localhost:{self.port}"
        self.ca = certificates(folder)
        (folder / "db").mkdir()
        schemas = "\n".join(
            f"include /etc/ldap/schema/{name}.schema"
            for name in ("core", "cosine", "inetorgperson", "nis")
        )
        (folder / "slapd.conf").write_text(
            f"""{schemas}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw "{ROOT_PW}"
directory {folder}/db
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by * read
"""
        )
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(self.folder / "slapd.conf"), "-h", self.url, "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                self.admin().unbind_s()
                return
            except ldap.SERVER_DOWN:
                time.sleep(0.1)
        raise RuntimeError("slapd did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def admin(self):
        conn = ldap.initialize(self.url)
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(self.ca))
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        conn.start_tls_s()
        conn.simple_bind_s(ROOT_DN, ROOT_PW)
        return conn

    def add(self, dn: str, **attrs) -> None:
        entry = {
            k: [v.encode()] if isinstance(v, str) else [x.encode() for x in v]
            for k, v in attrs.items()
        }
        conn = self.admin()
        try:
            conn.add_s(dn, ldap.modlist.addModlist(entry))
        finally:
            conn.unbind_s()

    def person(self, uid: str, name: str, **extra) -> str:
        first, last = name.split(" ", 1)
        dn = f"uid={uid},{PEOPLE}"
        self.add(
            dn,
            objectClass=["inetOrgPerson"],
            uid=uid,
            cn=name,
            givenName=first,
            sn=last,
            mail=f"{uid}@example.org",
            userPassword=PASSWORDS.get(uid, f"{uid}'s directory pw"),
            **extra,
        )
        return dn

    def modify(self, dn: str, changes) -> None:
        conn = self.admin()
        try:
            conn.modify_s(dn, changes)
        finally:
            conn.unbind_s()

    def call(self, method: str, *args) -> None:
        conn = self.admin()
        try:
            getattr(conn, method)(*args)
        finally:
            conn.unbind_s()


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    if not Path(SLAPD).exists():
        pytest.skip("bin/test installs slapd")
    directory = Slapd(tmp_path_factory.mktemp("slapd"))
    directory.add(
        SUFFIX, objectClass=["dcObject", "organization"], dc="example", o="Example"
    )
    directory.add(PEOPLE, objectClass=["organizationalUnit"], ou="people")
    directory.add(GROUPS, objectClass=["organizationalUnit"], ou="groups")
    alice = directory.person("alice", "Alice Liddell")
    bob = directory.person("bob", "Bob Builder")
    directory.person("carol", "Carol Disabled", employeeType="disabled")
    directory.add(
        f"cn=staff,{GROUPS}", objectClass=["groupOfNames"], cn="staff", member=[bob]
    )
    directory.add(
        f"cn=vpn-users,{GROUPS}",
        objectClass=["groupOfNames"],
        cn="vpn-users",
        member=[alice, bob],
    )
    yield directory
    if directory.process.poll() is None:
        directory.stop()


@pytest.fixture
def directory(slapd, settings, monkeypatch):
    """Tessera configured as the README says, against the test directory."""
    from directory.settings import ldap_settings

    env = {
        "TESSERA_LDAP_BIND_DN": ROOT_DN,
        "TESSERA_LDAP_BIND_PASSWORD": ROOT_PW,
        "TESSERA_LDAP_USER_BASE": PEOPLE,
        "TESSERA_LDAP_USER_FILTER": "(&(uid=%(user)s)(!(employeeType=disabled)))",
        "TESSERA_LDAP_CA_FILE": str(slapd.ca),
        "TESSERA_LDAP_GROUP_BASE": GROUPS,
        "TESSERA_LDAP_STAFF_GROUP": f"cn=staff,{GROUPS}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name, value in ldap_settings(slapd.url).items():
        setattr(settings, name, value)
    settings.TESSERA_LDAP_URL = slapd.url
    settings.AUTHENTICATION_BACKENDS = [
        "directory.backend.DirectoryBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    if slapd.process.poll() is not None:
        slapd.start()
    return slapd
