"""Evidence bundles: a zip an auditor can verify without trusting the producer's storage.

Contents: the card (Markdown and HTML), the decision, an evaluation report
(runs, lineage), metrics, quality results, drift results (and Evidently's
report when MLflow has it), the policy file, waivers, and MANIFEST.json with
the SHA-256 of every file, signed with Ed25519 (MANIFEST.sig). Verification
fails on any modified, missing or added file, a manifest that does not match,
a signature that does not verify with the trusted public key, or evidence the
policy requires that the bundle lacks (incomplete).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rai_pipelines.atomic import atomic_path
from rai_pipelines.digest import sha256_bytes
from rai_pipelines.evidence.keys import fingerprint

MANIFEST, SIGNATURE = "MANIFEST.json", "MANIFEST.sig"


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    sha256: str
    completeness: float
    missing: list[str]
    manifest: dict


def write_bundle(
    path: Path, files: dict[str, bytes], header: dict, present: dict[str, bool], required: list[str], key: Ed25519PrivateKey,
) -> BuiltBundle:
    """Zip `files` with a signed manifest; completeness = required evidence fields present / required."""
    missing = [f for f in required if not present.get(f)]
    completeness = (len(required) - len(missing)) / len(required) if required else 1.0
    manifest = {
        "bundle_format": 1,
        **header,
        "created_at": datetime.now(UTC).isoformat(),
        "signer": fingerprint(key.public_key()),
        "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
        "completeness": {"value": completeness, "required": required, "missing": missing},
    }
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    signature = base64.b64encode(key.sign(manifest_bytes))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
        z.writestr(MANIFEST, manifest_bytes)
        z.writestr(SIGNATURE, signature)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return BuiltBundle(Path(path), sha256_bytes(data), completeness, missing, manifest)


def verify(path: Path, public_key: Ed25519PublicKey) -> list[str]:
    """Problems found; an empty list means intact and signed by `public_key`."""
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable zip file ({exc})"]
    with z:
        all_names = z.namelist()
        # Two entries with one name: readers disagree on which is "the" file, so a forged one could hide.
        duplicated = sorted({n for n in all_names if all_names.count(n) > 1})
        if duplicated:
            return [f"duplicate entries in the zip: {', '.join(duplicated)}"]
        unsafe = [n for n in all_names if n.startswith(("/", "\\")) or ".." in n.split("/") or "\\" in n or "\0" in n]
        if unsafe:
            return [f"unsafe entry names: {', '.join(unsafe)}"]
        names = set(all_names)
        if MANIFEST not in names or SIGNATURE not in names:
            return [f"{MANIFEST if MANIFEST not in names else SIGNATURE} is missing"]
        try:
            manifest_bytes = z.read(MANIFEST)
            problems = []
            try:
                public_key.verify(base64.b64decode(z.read(SIGNATURE), validate=True), manifest_bytes)
            except (InvalidSignature, ValueError):
                problems.append("signature does not verify: the manifest was modified or signed with another key")
            try:
                manifest = json.loads(manifest_bytes)
                listed = manifest["files"]
                missing_evidence = manifest.get("completeness", {}).get("missing", [])
                if not isinstance(listed, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError, AttributeError):
                return problems + ["manifest is not a valid bundle manifest"]
            # The manifest names its signer; the trusted key must be that signer's, so a bundle re-signed with some
            # other key and an edited signer line fails here as well as on the signature.
            trusted = fingerprint(public_key)
            if manifest.get("signer") != trusted:
                problems.append(f"the manifest names signer {manifest.get('signer')!r}, not the trusted key {trusted}")
            present = names - {MANIFEST, SIGNATURE}
            problems += [f"missing file: {n}" for n in sorted(set(listed) - present)]
            problems += [f"added file not in the manifest: {n}" for n in sorted(present - set(listed))]
            problems += [
                f"modified file: {n} (sha256 differs from the manifest)"
                for n in sorted(set(listed) & present) if sha256_bytes(z.read(n)) != listed[n]
            ]
        except (zipfile.BadZipFile, OSError) as exc:  # e.g. a CRC error in an entry
            return [f"corrupt zip entry ({exc})"]
        if missing_evidence:
            problems.append(f"incomplete: the policy requires evidence it lacks: {', '.join(missing_evidence)}")
        return problems
