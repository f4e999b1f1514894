"""Approvals that prove who approved.

An approver signs exactly what they approve (a canonical JSON payload naming
the waiver or review, the fingerprint of what it excuses or the bundle it
read, and themselves) with their own Ed25519 private key. The policy lists
each approver's public key (`approvers`), so a name typed on a command line
proves nothing: an approval counts only when its signature verifies under the
key the policy gives that name. It is checked when given and again whenever it
is relied on, so a forged row in the warehouse does not count either.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from rai_pipelines.catalog import Policy
from rai_pipelines.errors import RaiError
from rai_pipelines.evidence.keys import load_private
from rai_pipelines.warehouse import Warehouse, reads


class ApprovalRefused(RaiError):
    """The process says no: self-approval, an approver the policy does not allow, a signature that is not theirs."""


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign(key_path: str | Path, payload: dict) -> str:
    """The approver's signature of `payload` (base64), made with their private key file."""
    return base64.b64encode(load_private(Path(key_path)).sign(canonical(payload))).decode()


def _public(policy: Policy, approver: str) -> Ed25519PublicKey | None:
    pem = policy.approvers.get(approver)
    if pem is None:
        return None
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def problem(policy: Policy, approver: str, payload: dict, signature: str | None) -> str | None:
    """Why this is not `approver`'s approval of `payload` under this policy, or None when it is."""
    key = _public(policy, approver)
    if key is None:
        return f"{approver} has no readable Ed25519 public key in the policy's approvers"
    if not signature:
        return "the approval is not signed"
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical(payload))
    except (InvalidSignature, ValueError):
        return f"the signature is not {approver}'s: it does not verify with the key the policy lists for them"
    return None


def require(policy: Policy, approver: str, payload: dict, signature: str, what: str) -> None:
    if (why := problem(policy, approver, payload, signature)) is not None:
        raise ApprovalRefused(f"{what}: refused, {why}")


def artifact_of(warehouse: Warehouse, system, model_version: str) -> str | None:
    """What an approval is bound to: a classifier version's artifact digest as the pipeline recorded it on first
    sight; an assistant's version is its target's content digest already."""
    if system.kind == "llm_assistant":
        return str(model_version)
    return reads.artifact_digest(warehouse, system.name, str(model_version))
