"""The Ed25519 key that signs evidence manifests.

Configuration: `RAI_EVIDENCE_KEY` names a PEM private key. The embedded
default creates one at `$RAI_HOME/keys/evidence_ed25519.pem` (mode 0600) on
first use and says so; its public half sits beside it for verifiers.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rai_pipelines.errors import RaiError


def key_path(home: Path) -> Path:
    return Path(os.environ.get("RAI_EVIDENCE_KEY") or home / "keys" / "evidence_ed25519.pem")


def load_or_create(home: Path, say=None) -> Ed25519PrivateKey:
    path = key_path(home)
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise RaiError(f"{path}: not a readable PEM private key ({exc}); point RAI_EVIDENCE_KEY at an Ed25519 key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise RaiError(f"{path}: not an Ed25519 key; evidence is signed with Ed25519")
        return key
    if os.environ.get("RAI_EVIDENCE_KEY"):
        raise RaiError(f"RAI_EVIDENCE_KEY={path}: no such file; create an Ed25519 key there or unset the variable")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public_path(home).write_bytes(public_pem(key.public_key()))
    if say:
        say(f"created evidence signing key {path} (public key {public_path(home)})")
    return key


def public_path(home: Path) -> Path:
    return key_path(home).with_suffix(".pub.pem")


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise RaiError(f"{path}: cannot read the public key ({exc}); pass --public-key with the signer's PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise RaiError(f"{path}: not an Ed25519 public key")
    return key
