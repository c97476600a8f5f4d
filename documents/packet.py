"""The packet that goes to the court with a filing (SPC provisions on judicial confirmation,
2011, art. 4: the application comes with the agreement, identity documents and the evidence).

Filing (documents/court.py) and each resubmission after a supplement (documents/court_review.py)
reserve the next `court_packets` row in their transaction and enqueue `assemble_packet`. The
job gathers the files (`SOURCES`, in order), then in the executor hashes them, writes
`manifest.json` (every file with its media type, size and SHA-256, and the case data), signs it
with the committee's seal key as a detached CMS signature (`manifest.sig`, DER, the seal
certificate inside; `openssl cms -verify` checks it) and zips it all; it stores the ZIP
(app/storage.py) and fills the row by a conditional UPDATE: of several runs one wins, the others
delete their file.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import secrets
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from sqlalchemy import column, func, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, transaction, utcnow
from app.factory_keys import executor_key
from app.jobs import enqueue, register
from app.models import Case, Organization
from app.storage import Storage, keep_once, storage_key
from documents import court_events
from documents.models import (
    Agreement,
    CaseDocument,
    CourtFiling,
    CourtPacket,
    JointApplication,
    SealedPdf,
)
from documents.seal import SealKey
from documents.sealed import org_seal

ASSEMBLE_PACKET = "assemble_packet"
FORMAT = "mediation-court-packet/1"
MANIFEST, SIGNATURE, CERTIFICATE = "manifest.json", "manifest.sig", "signer-cert.pem"
# What a packet may carry and how it is served inline; anything else is an attachment.
INLINE_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp")
# The evidence table belongs to booking; documents reads it by name (packages never import each
# other), as the kernel reads court_filings.
_EVIDENCE = table(
    "evidence",
    column("id"),
    column("case_id"),
    column("filename"),
    column("content_type"),
    column("storage_key"),
    column("kind"),
)


@dataclass(frozen=True)
class PacketFile:
    name: str  # path inside the ZIP, e.g. "evidence/01-photo.jpg"
    kind: str  # application | agreement | identity | evidence | case_document | attorney
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Gathered:
    """What one run of the job read from the database and storage, before any hashing."""

    packet: CourtPacket
    filing: CourtFiling
    org: Organization
    manifest: dict[str, Any]
    files: list[PacketFile]


Source = Callable[[AsyncSession, Storage, CourtFiling], Awaitable[list[PacketFile]]]


async def _application(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    """The parties' signed and sealed joint application (司法确认申请书) the filing names."""
    key = await db.scalar(
        select(JointApplication.storage_key).where(
            JointApplication.id == (f.application_id or 0),
            JointApplication.storage_key.is_not(None),
        )
    )
    if key is None:
        return []
    data = await storage.get(key)
    return [PacketFile("application/joint-application.pdf", "application", "application/pdf", data)]


async def _agreement(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    row = await db.scalar(select(SealedPdf).where(SealedPdf.agreement_id == f.agreement_id))
    if row is None:
        return []
    return [PacketFile("agreement/agreement.pdf", "agreement", "application/pdf", row.pdf)]


async def _uploads(
    db: AsyncSession, storage: Storage, f: CourtFiling, kind: str, folder: str
) -> list[PacketFile]:
    rows = (
        await db.execute(
            select(_EVIDENCE.c.filename, _EVIDENCE.c.content_type, _EVIDENCE.c.storage_key)
            .where(_EVIDENCE.c.case_id == f.case_id, _EVIDENCE.c.kind == kind)
            .order_by(_EVIDENCE.c.id)
        )
    ).all()
    return [
        PacketFile(f"{folder}/{n:02d}-{name}", kind, media_type, await storage.get(key))
        for n, (name, media_type, key) in enumerate(rows, 1)
    ]


async def _identity(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    return await _uploads(db, storage, f, "identity", "identity")


async def _evidence(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    return await _uploads(db, storage, f, "evidence", "evidence")


async def _attorney(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    return await _uploads(db, storage, f, "attorney", "attorney")


async def _minutes(db: AsyncSession, storage: Storage, f: CourtFiling) -> list[PacketFile]:
    kinds = ("minutes", "oral_agreement", "termination")
    return await _case_documents(db, storage, f, kinds, "case_document")


async def _case_documents(
    db: AsyncSession, storage: Storage, f: CourtFiling, kinds: tuple[str, ...], kind: str
) -> list[PacketFile]:
    rows = await db.scalars(
        select(CaseDocument)
        .where(
            CaseDocument.case_id == f.case_id,
            CaseDocument.kind.in_(kinds),
            CaseDocument.storage_key.is_not(None),
        )
        .order_by(CaseDocument.kind, CaseDocument.version)
    )
    return [
        PacketFile(
            f"documents/{doc.kind}-v{doc.version}.pdf",
            kind,
            "application/pdf",
            await storage.get(doc.storage_key or ""),
        )
        for doc in rows
    ]


# The packet's contents, in order: what the SPC's provisions (2011, art. 5) ask a court to receive.
SOURCES: tuple[Source, ...] = (
    _application,
    _agreement,
    _identity,
    _evidence,
    _minutes,
    _attorney,
)


async def request_packet(db: AsyncSession, filing: CourtFiling) -> CourtPacket:
    """In the filing's (or resubmission's) transaction: the next version, assembled after
    commit. The filing's own conditional UPDATE lets one transaction through, so the version
    is not raced."""
    latest = await db.scalar(
        select(func.max(CourtPacket.version)).where(CourtPacket.filing_id == filing.id)
    )
    packet = CourtPacket(filing_id=filing.id, version=(latest or 0) + 1)
    db.add(packet)
    await db.flush()
    await enqueue(db, ASSEMBLE_PACKET, {"packet_id": packet.id})
    return packet


def _party(p: dict[str, Any]) -> dict[str, Any]:
    person = p.get("kind", "person") == "person"
    return {
        "name": p["name"],
        "role": p["role"],
        "kind": p.get("kind", "person"),
        "id_masked": p.get("id_masked", "") if person else "",
        "credit_code": "" if person else p.get("credit_code") or "",
    }


async def _gather(db: AsyncSession, storage: Storage, packet: CourtPacket) -> Gathered:
    filing = await db.get(CourtFiling, packet.filing_id)
    assert filing is not None
    case = await db.get(Case, filing.case_id)
    agreement = await db.get(Agreement, filing.agreement_id)
    court = await db.get(Organization, filing.court_org_id)
    assert case is not None and agreement is not None and court is not None
    org = await db.get(Organization, case.org_id)
    assert org is not None
    files = [file for source in SOURCES for file in await source(db, storage, filing)]
    sealed = next((f for f in files if f.kind == "agreement"), None)
    manifest = {
        "format": FORMAT,
        "filing": {
            "id": filing.id,
            "packet_version": packet.version,
            "filed_at": filing.filed_at.isoformat(),
            "court": {"id": court.id, "name": court.name},
        },
        "case": {"number": case.number, "dispute_type": case.dispute_type},
        "organisation": {"id": org.id, "name": org.name},
        "parties": [_party(p) for p in agreement.content["parties"]],
        "agreement": {
            "number": agreement.content["case"]["number"] or case.number,
            "version": agreement.version,
            "version_hash": agreement.version_hash,
            "effective_at": agreement.effective_at.isoformat() if agreement.effective_at else None,
            "pdf_sha256": sha256(sealed.data).hexdigest() if sealed else None,
        },
    }
    return Gathered(packet, filing, org, manifest, files)


def sign_manifest(manifest: bytes, key: SealKey) -> bytes:
    """A detached CMS (PKCS #7) SignedData over the manifest's bytes, DER, with the seal
    certificate (and its chain) inside."""
    private = serialization.load_pem_private_key(key.key_pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    certs = x509.load_pem_x509_certificates(key.cert_pem)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(manifest)
    builder = builder.add_signer(certs[0], private, hashes.SHA256())
    for extra in certs[1:]:
        builder = builder.add_certificate(extra)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options)


def build_zip(
    manifest: dict[str, Any], files: list[PacketFile], key: SealKey, created_at: datetime
) -> bytes:
    """The packet's bytes: files, then the manifest, its signature and the signer's
    certificate. Runs in the executor (hashing and zipping megabytes)."""
    listed = [
        {
            "name": f.name,
            "kind": f.kind,
            "media_type": f.media_type,
            "size": len(f.data),
            "sha256": sha256(f.data).hexdigest(),
        }
        for f in files
    ]
    body = {**manifest, "created_at": created_at.isoformat(), "files": listed}
    data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()
    stamp = created_at.timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for f in files:
            # PDFs and photos are compressed already: stored, not deflated again.
            _write(archive, f.name, f.data, stamp, zipfile.ZIP_STORED)
        _write(archive, MANIFEST, data, stamp, zipfile.ZIP_DEFLATED)
        _write(archive, SIGNATURE, sign_manifest(data, key), stamp, zipfile.ZIP_STORED)
        _write(archive, CERTIFICATE, key.cert_pem, stamp, zipfile.ZIP_STORED)
    return out.getvalue()


def _write(
    archive: zipfile.ZipFile, name: str, data: bytes, stamp: tuple[int, ...], method: int
) -> None:
    info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = method
    info.flag_bits |= 0x800  # names are UTF-8 (Chinese file names)
    archive.writestr(info, data)


async def assemble(app: web.Application, packet_id: int) -> bool:
    """Gather, build, store and record one packet; False when it was already done."""
    storage = app[storage_key]
    async with app[sessionmaker_key]() as db:
        packet = await db.get(CourtPacket, packet_id)
        if packet is None or packet.sha256 is not None:
            return False
        gathered = await _gather(db, storage, packet)
    key = await org_seal(app, gathered.org)
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(
        app[executor_key], build_zip, gathered.manifest, gathered.files, key, utcnow()
    )
    digest = sha256(data).hexdigest()
    filing = gathered.filing
    name = f"cases/{filing.case_id}/packets/filing-{filing.id}-v{packet.version}"
    location = f"{name}-{secrets.token_hex(8)}.zip"
    record = functools.partial(_record, app, packet, digest, len(data), location)
    return await keep_once(storage, location, data, record)


async def _record(
    app: web.Application, packet: CourtPacket, digest: str, size: int, location: str
) -> bool:
    async with transaction(app) as db:
        changed = await db.execute(
            update(CourtPacket)
            .where(CourtPacket.id == packet.id, CourtPacket.sha256.is_(None))
            .values(sha256=digest, size=size, storage_key=location, assembled_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        # Only the recording transaction gets here, so the court is told once per packet.
        recorded = await db.get(CourtPacket, packet.id, populate_existing=True)
        filing = await db.get(CourtFiling, packet.filing_id)
        assert recorded is not None and filing is not None
        case = await db.get(Case, filing.case_id)
        assert case is not None
        await court_events.packet_ready(db, recorded, filing, case)
        return True


async def _job(app: web.Application, payload: dict[str, Any]) -> None:
    await assemble(app, int(payload["packet_id"]))


def setup(app: web.Application) -> None:
    register(app, ASSEMBLE_PACKET, _job)
