"""Chromium's fake camera: a one-frame .y4m made from a picture with Pillow."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from PIL import Image


def write_y4m(picture: bytes | Image.Image, path: Path, width=640, height=480) -> Path:
    image = (
        picture if isinstance(picture, Image.Image) else Image.open(io.BytesIO(picture))
    )
    image = image.convert("RGB")
    image.thumbnail((int(height * 0.9), int(height * 0.9)))
    frame = Image.new("RGB", (width, height), "white")
    frame.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        fh.write(b"FRAME\n")
        fh.write(y.tobytes())
        fh.write(cb.resize(half).tobytes())
        fh.write(cr.resize(half).tobytes())
    return path


def camera_args(y4m: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


@contextlib.contextmanager
def phone_with_camera(browser_type, tmp_path: Path, picture, *, clock=False):
    """A phone page in its own Chromium whose camera films ``picture``."""
    from tests.e2e.conftest import CHROMIUM, PHONE, QUIET_FLAGS

    y4m = write_y4m(picture, tmp_path / "qr.y4m")
    browser = browser_type.launch(
        executable_path=CHROMIUM, args=QUIET_FLAGS + camera_args(y4m)
    )
    try:
        page = browser.new_context(**PHONE).new_page()
        if clock:
            page.clock.install()
        yield page
    finally:
        browser.close()


def scan_in_pwa(phone, live: str) -> None:
    """Open the authenticator and scan the QR code the camera films."""
    phone.goto(live + "/app/")
    phone.click("#activate")  # the camera starts at once
