#!/usr/bin/env python3
"""Build terraform/modules/cognito/pre_sign_up.zip from pre_sign_up/handler.py, byte for byte the
same every time (fixed timestamp and permissions), so the committed archive can be checked against
its source (tests/test_terraform_pre_sign_up.py). Run it after changing the handler."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

MODULE = Path(__file__).resolve().parents[1] / "modules" / "cognito"
SOURCE = MODULE / "pre_sign_up" / "handler.py"
ARCHIVE = MODULE / "pre_sign_up.zip"


def build() -> bytes:
    buffer = io.BytesIO()
    info = zipfile.ZipInfo("handler.py", date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, SOURCE.read_bytes())
    return buffer.getvalue()


if __name__ == "__main__":
    ARCHIVE.write_bytes(build())
    print(f"wrote {ARCHIVE}")
