"""Re-verifying a stored packet whenever the court opens it: the ZIP is the one recorded (its
SHA-256), every file is the one the manifest lists (size and SHA-256, nothing missing, nothing
added), the manifest's CMS signature is intact and made with the committee's seal certificate,
and the sealed agreement inside still validates. Every result is shown, good or bad.

All of it reads megabytes and runs pyHanko's own event loop: `check_packet` runs in a worker
thread (the executor), never in a coroutine.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from app.i18n import N_
from documents.packet import CERTIFICATE, MANIFEST, SIGNATURE
from documents.seal import SealCheck, _asn1_certs, verify_pdf

log = logging.getLogger(__name__)

MISSING = N_("missing from the packet")
ALTERED = N_("its SHA-256 differs from the manifest")
RESIZED = N_("its size differs from the manifest")
_LISTED = {MANIFEST, SIGNATURE, CERTIFICATE}


@dataclass(frozen=True)
class FileCheck:
    index: int
    name: str
    kind: str
    media_type: str
    size: int
    sha256: str
    problem: str | None = None  # a message id, None when the file is what the manifest says

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class SignatureCheck:
    present: bool = False
    intact: bool = False  # the manifest is byte for byte what was signed
    trusted: bool = False  # the signer's certificate chains to a seal this installation holds
    organisation: bool = False  # ... and is the committee's own seal certificate
    signer: str | None = None

    def ok(self) -> bool:
        return self.present and self.intact and self.trusted and self.organisation


@dataclass(frozen=True)
class PacketCheck:
    recorded: bool  # the stored ZIP's SHA-256 is the recorded one
    readable: bool
    signature: SignatureCheck = SignatureCheck()
    files: list[FileCheck] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # in the ZIP, not in the manifest
    seal: SealCheck | None = None  # the sealed agreement's PAdES seal
    manifest: dict[str, Any] = field(default_factory=dict)

    def ok(self) -> bool:
        return (
            self.recorded
            and self.readable
            and self.signature.ok()
            and all(f.ok for f in self.files)
            and not self.unlisted
            and self.seal is not None
            and self.seal.ok()
        )


def check_packet(
    data: bytes, recorded_sha256: str, org_cert_pem: bytes, trust_roots_pem: bytes
) -> PacketCheck:
    recorded = sha256(data).hexdigest() == recorded_sha256
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        contents = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(contents[MANIFEST])
        listed = manifest["files"]
        assert isinstance(listed, list)
    except Exception:  # not a ZIP, no manifest, a manifest that is not ours: all unreadable
        log.info("check_packet: unreadable packet", exc_info=True)
        return PacketCheck(recorded=recorded, readable=False)
    signature = check_signature(
        contents[MANIFEST], contents.get(SIGNATURE), org_cert_pem, trust_roots_pem
    )
    files = [_file(n, e, contents.get(str(e.get("name")))) for n, e in enumerate(listed)]
    names = {str(entry.get("name")) for entry in listed}
    unlisted = sorted(set(contents) - names - _LISTED)
    agreement = next((f for f in files if f.kind == "agreement" and f.name in contents), None)
    seal = verify_pdf(contents[agreement.name], trust_roots_pem) if agreement else None
    return PacketCheck(recorded, True, signature, files, unlisted, seal, manifest)


def _file(index: int, entry: dict[str, Any], data: bytes | None) -> FileCheck:
    check = FileCheck(
        index=index,
        name=str(entry.get("name", "")),
        kind=str(entry.get("kind", "")),
        media_type=str(entry.get("media_type", "")),
        size=int(entry.get("size") or 0),
        sha256=str(entry.get("sha256", "")),
    )
    if data is None:
        return _with(check, MISSING)
    if len(data) != check.size:
        return _with(check, RESIZED)
    if sha256(data).hexdigest() != check.sha256:
        return _with(check, ALTERED)
    return check


def _with(check: FileCheck, problem: str) -> FileCheck:
    return FileCheck(**{**check.__dict__, "problem": problem})


def check_signature(
    manifest: bytes, signature: bytes | None, org_cert_pem: bytes, trust_roots_pem: bytes
) -> SignatureCheck:
    """The detached CMS signature over the manifest's bytes, by the committee's seal."""
    if not signature:
        return SignatureCheck()
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        context = ValidationContext(trust_roots=_asn1_certs(trust_roots_pem), allow_fetching=False)
        status = asyncio.run(async_validate_detached_cms(manifest, signed_data, context))
    except Exception:
        log.info("check_signature: not a valid CMS signature", exc_info=True)
        return SignatureCheck(present=True)
    signer = status.signing_cert
    own = x509.load_pem_x509_certificates(org_cert_pem)[0].public_bytes(serialization.Encoding.DER)
    return SignatureCheck(
        present=True,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        organisation=signer is not None and signer.dump() == own,
        signer=signer.subject.native.get("common_name") if signer is not None else None,
    )
