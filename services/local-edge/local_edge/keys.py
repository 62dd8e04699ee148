"""The edge's ES256 signing key: created on first start, kept in EDGE_DATA_DIR across restarts.

Several gunicorn workers may start at once; the key file is created atomically (written to a
temporary file, then hard-linked into place, which fails if another worker won), so every worker
ends up with the same key.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rolechat_common.config import ConfigError

from . import alb_token

KEY_FILE = "alb-signing-key.json"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_pem: bytes


def load_or_create(data_dir: Path) -> SigningKey:
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"EDGE_DATA_DIR {str(data_dir)!r} cannot be created: {exc.strerror}") from None
    path = data_dir / KEY_FILE
    if not path.exists():
        _create(path)
    return _load(path)


def _create(path: Path) -> None:
    key = alb_token.generate_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    record = json.dumps({"kid": alb_token.new_kid(), "private_key": pem}).encode()
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(record)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker created it first; use theirs
    except OSError as exc:
        raise ConfigError(f"EDGE_DATA_DIR {str(path.parent)!r} is not writable: {exc.strerror}") from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _load(path: Path) -> SigningKey:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        kid = record["kid"]
        key = serialization.load_pem_private_key(record["private_key"].encode("ascii"), password=None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(f"EDGE_DATA_DIR holds an unreadable signing key ({path}); delete it to create a new one") \
            from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"EDGE_DATA_DIR holds a signing key that is not EC P-256 ({path}); delete it")
    if not isinstance(kid, str) or not kid:
        raise ConfigError(f"EDGE_DATA_DIR holds a signing key without a key id ({path}); delete it")
    return SigningKey(kid, key, alb_token.public_pem(key))
