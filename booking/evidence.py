"""Evidence files (photos, scans, PDFs) attached to a case by its parties and staff.

The type is read from the content's first bytes, never from the name or the type the browser
claims: only JPEG, PNG, WebP and PDF are kept, so a `.jpg` that is an executable is refused. Each
file is stored through app/storage.py under a key we make up; a party sees their own uploads, the
case's staff see all of them."""

from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import Conflict, NotFound, PayloadTooLarge, UserError, ValidationFailed
from app.i18n import N_
from app.lifecycle import CaseStatus
from app.models import Case
from app.policy import Action, can, load_case, require
from app.services import record_event
from app.storage import Storage
from app.uploads import Upload
from booking.models import Evidence

KINDS = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
# What a file is: evidence, an identity document (身份证明) or a power of attorney (授权委托书),
# as the court's packet sorts them (人民调解法 art. 33; the SPC's 2011 provisions, art. 5).
FILE_KINDS = ("evidence", "identity", "attorney")
BAD_KIND = N_("Please say what the file is: evidence, an identity document or a power of attorney.")
FILENAME_MAX = 120
# No new evidence once the case is over (after-care works from what is on file).
CLOSED = frozenset(
    {CaseStatus.CLOSED, CaseStatus.REFUSED, CaseStatus.REFERRED, CaseStatus.WITHDRAWN}
)
NO_FILE = N_("Please choose a file to upload.")
WRONG_TYPE = N_("Only photos (JPEG, PNG, WebP) and PDF files can be uploaded.")
TOO_LARGE = N_("The file is too large: at most {mb} MB per file.")
CASE_CLOSED = N_("This case is closed: no more evidence can be added.")
NO_SUCH_FILE = N_("This file does not exist or you may not see it.")
_UNSAFE = re.compile(r'[\\/:*?"<>|]')


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the first bytes, or None for anything we do not keep."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    for magic, content_type, extension in KINDS:
        if data.startswith(magic):
            return content_type, extension
    return None


def safe_filename(raw: str, extension: str) -> str:
    """The uploaded name without any path, control or format characters, shortened, and ending
    in the extension of what the file really is (a PDF named photo.jpg becomes photo.jpg.pdf)."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ")
    name = _UNSAFE.sub("_", name).strip(" .") or "evidence"
    if not name.lower().endswith(extension) and not (
        extension == ".jpg" and name.lower().endswith(".jpeg")
    ):
        name += extension
    return name[-FILENAME_MAX:]


def check_kind(raw: object) -> str:
    kind = raw.strip() if isinstance(raw, str) and raw.strip() else "evidence"
    if kind not in FILE_KINDS:
        raise ValidationFailed({"kind": BAD_KIND})
    return kind


def check_file(upload: Upload, max_bytes: int) -> tuple[str, str]:
    """(content type, safe name) of an acceptable upload, or a 4xx."""
    if not upload.data:
        raise UserError(NO_FILE)
    if len(upload.data) > max_bytes:
        raise PayloadTooLarge(TOO_LARGE, mb=max_bytes // (1024 * 1024))
    kind = sniff(upload.data)
    if kind is None:
        raise UserError(WRONG_TYPE)
    return kind[0], safe_filename(upload.filename, kind[1])


async def check_upload(db: AsyncSession, principal: Principal, case_id: int) -> Case:
    case = await load_case(db, principal, case_id)
    await require(db, principal, Action.EVIDENCE, case)
    if case.status in CLOSED:
        raise Conflict(CASE_CLOSED)
    return case


def new_storage_key(case_id: int) -> str:
    return f"evidence/{case_id}/{secrets.token_hex(16)}"


async def do_add_evidence(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    case: Case,
    upload: Upload,
    checked: tuple[str, str],
    key: str,
    kind: str = "evidence",
) -> Evidence:
    """Stores the file under `key` and records it; the caller deletes `key` if the transaction
    fails, so a file never outlives its row."""
    content_type, filename = checked
    digest = await storage.put(key, upload.data)
    row = Evidence(
        case_id=case.id,
        uploader=principal.key,
        filename=filename,
        content_type=content_type,
        size=len(upload.data),
        sha256=digest,
        storage_key=key,
        kind=kind,
    )
    db.add(row)
    await db.flush()
    # Not public: the other side need not learn that (or what) this party filed.
    await record_event(
        db, case.id, "evidence_added", principal.key, {"evidence_id": row.id}, public=False
    )
    return row


async def sees_all(db: AsyncSession, principal: Principal, case: Case) -> bool:
    return principal.kind == "staff" and await can(db, principal, Action.EVIDENCE, case)


async def visible_evidence(db: AsyncSession, principal: Principal, case: Case) -> list[Evidence]:
    """All of the case's evidence for its staff; a party's own uploads for a party."""
    query = select(Evidence).where(Evidence.case_id == case.id)
    if not await sees_all(db, principal, case):
        query = query.where(Evidence.uploader == principal.key)
    return list(await db.scalars(query.order_by(Evidence.id)))


async def load_evidence(
    db: AsyncSession, principal: Principal, case_id: int, evidence_id: int
) -> Evidence:
    case = await load_case(db, principal, case_id)
    row = await db.get(Evidence, evidence_id)
    if row is None or row.case_id != case.id:
        raise NotFound(NO_SUCH_FILE)
    if row.uploader != principal.key and not await sees_all(db, principal, case):
        raise NotFound(NO_SUCH_FILE)
    return row


async def evidence_of(db: AsyncSession, case_id: int) -> list[Evidence]:
    """Every piece of the case's evidence, oldest first: for the archive (卷宗), which lists
    them without their files."""
    return list(
        await db.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id))
    )
