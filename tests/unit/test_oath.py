"""tokens.oath against the RFCs' published vectors and Debian's oathtool."""

import random
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from tokens import oath

RFC4226_KEY = b"12345678901234567890"
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

RFC6238_KEYS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("counter,expected", list(enumerate(RFC4226)))
def test_hotp_matches_rfc4226(counter, expected):
    assert oath.hotp(RFC4226_KEY, counter) == expected


@pytest.mark.parametrize("now,sha1,sha256,sha512", RFC6238)
def test_totp_matches_rfc6238_for_every_hash(now, sha1, sha256, sha512):
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        code = oath.totp(RFC6238_KEYS[algorithm], now, digits=8, algorithm=algorithm)
        assert code == expected, algorithm


def test_codes_keep_leading_zeros():
    assert oath.totp(RFC6238_KEYS["SHA1"], 1111111109, digits=8) == "07081804"


def test_it_agrees_with_oathtool_on_random_seeds_and_times():
    oathtool = shutil.which("oathtool")
    assert oathtool, "oathtool (Debian package) is installed by the test command"
    rng = random.Random(20261128)
    for _ in range(24):
        algorithm = rng.choice(["SHA1", "SHA256", "SHA512"])
        digits = rng.choice([6, 8])
        period = rng.choice([30, 60])
        seed = rng.randbytes({"SHA1": 20, "SHA256": 32, "SHA512": 64}[algorithm])
        now = rng.randrange(0, 4_000_000_000)
        when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        expected = subprocess.run(
            [
                oathtool,
                f"--totp={algorithm.lower()}",
                f"--digits={digits}",
                f"--time-step-size={period}s",
                f"--now={when}",
                seed.hex(),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        got = oath.totp(seed, now, period=period, digits=digits, algorithm=algorithm)
        assert got == expected, (algorithm, digits, period, now)
        counter = rng.randrange(0, 2**32)
        expected_hotp = subprocess.run(
            [oathtool, f"--digits={digits}", f"--counter={counter}", seed[:20].hex()],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert oath.hotp(seed[:20], counter, digits=digits) == expected_hotp
