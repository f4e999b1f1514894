"""The Ed25519 key that signs evidence manifests.

Configuration: the profile's `evidence.signing_key` (a PEM private key file;
`RAI_EVIDENCE_KEY` in both shipped profiles). Only a profile that says
`create_key: true` (the embedded default) creates one, at
`$RAI_HOME/keys/evidence_ed25519.pem` (mode 0600) on first use, and says so;
production refuses to sign without its configured key, so workers never each
mint their own. The public half sits beside the private one (`.pub.pem`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rai_pipelines.errors import RaiError


@dataclass(frozen=True)
class SigningKey:
    """Where the signing key is, and whether it may be created there."""

    path: Path
    create: bool = False

    @classmethod
    def configured(cls, home: str | Path, path: str = "", create: bool = False) -> SigningKey:
        """The profile's key; a profile that may create one does so only at the default place, never at a path
        someone configured (a missing configured key is a mistake to report, not to paper over)."""
        if path:
            return cls(Path(path))
        return cls(Path(home) / "keys" / "evidence_ed25519.pem", create)

    @property
    def public_path(self) -> Path:
        return self.path.with_suffix(".pub.pem")

    def load(self, say=None) -> Ed25519PrivateKey:
        path = self.path
        if path.exists():
            return load_private(path, "configure an Ed25519 key (evidence.signing_key, RAI_EVIDENCE_KEY)")
        if not self.create:
            raise RaiError(f"evidence signing key {path}: no such file; this profile signs only with its configured key "
                           "(evidence.signing_key, RAI_EVIDENCE_KEY): create an Ed25519 key there and share it with every worker")
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.public_path.write_bytes(public_pem(key.public_key()))
        if say:
            say(f"created evidence signing key {path} (public key {self.public_path})")
        return key


def load_private(path: Path, fix: str = "pass the PEM file of your own Ed25519 private key") -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file; one line naming the file when it is not one."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise RaiError(f"{path}: cannot read the private key ({exc.strerror or exc}); {fix}") from None
    except (ValueError, TypeError) as exc:
        raise RaiError(f"{path}: not a readable PEM private key ({exc}); {fix}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise RaiError(f"{path}: not an Ed25519 key; {fix}")
    return key


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
