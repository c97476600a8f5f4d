"""Documents of a case beyond the agreement: the mediator's minutes (调解笔录), the record of an
oral agreement (art. 28), the termination notice (art. 26) and the archive (卷宗, art. 27).

A document is requested in a transaction with everything it prints (`content`, frozen there,
from the template version chosen then) and rendered and sealed once by the
`render_case_document` job (documents/case_pdf.py). Outcome and closing reach here through jobs
that booking enqueues by name, so booking never imports documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import N_, SHANGHAI
from app.identity import mask_phone
from app.jobs import enqueue
from app.labels import label
from app.models import Case, Organization, StaffUser
from app.policy import Action, load_case, require
from app.printable import UNPRINTABLE, single_spaced, unprintable
from app.services import parties_of, record_event
from documents import template_store
from documents.models import CaseDocument

ZH = "zh_CN"
OUTCOME_KINDS = {"oral_agreement": "oral_agreement", "terminated": "termination"}
PARTY_KINDS = frozenset({"minutes", "oral_agreement", "termination"})  # the archive: staff only
RENDER_JOB = "render_case_document"
NO_DOCUMENT = N_("This document does not exist.")
NOT_READY = N_("This document is still being produced. Please try again in a minute.")
CLOSED = N_("This case is closed.")
NO_OUTCOME_YET = N_("The archive can be produced once the outcome is recorded.")
BAD_PLACE = N_("Please say where the session took place (up to 100 characters).")
BAD_STARTED = N_("Please give the date and time the session started.")
BAD_ATTENDEES = N_("Please list who attended, one per line (1 to 40 lines).")
BAD_RECORD = N_("Please write the minutes (10 to 20000 characters).")


def local_date(value: datetime) -> str:
    local = value.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日"


def local_datetime(value: datetime) -> str:
    return f"{local_date(value)} {value.astimezone(SHANGHAI):%H:%M}"


@dataclass(frozen=True)
class Minutes:
    place: str
    started_at: datetime
    attendees: tuple[str, ...]
    record: str


def check_minutes(form: Mapping[str, str]) -> Minutes:
    """The minutes as they will print: white space settled, unprintable characters refused."""
    text = {k: single_spaced(form.get(k, "")) for k in ("place", "attendees", "record")}
    errors: dict[str, str] = {}
    if not 1 <= len(text["place"]) <= 100:
        errors["place"] = BAD_PLACE
    attendees = tuple(line for line in text["attendees"].splitlines() if line)
    if not 1 <= len(attendees) <= 40 or any(len(a) > 100 for a in attendees):
        errors["attendees"] = BAD_ATTENDEES
    if not 10 <= len(text["record"]) <= 20_000:
        errors["record"] = BAD_RECORD
    for name, value in text.items():
        if name not in errors and unprintable(value) is not None:
            errors[name] = UNPRINTABLE
    started = None
    try:
        started = datetime.fromisoformat(form.get("started_at", "").strip())
    except ValueError:
        errors["started_at"] = BAD_STARTED
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=SHANGHAI)
    if errors or started is None:
        raise ValidationFailed(errors)
    return Minutes(text["place"], started, attendees, text["record"])


async def _header(db: AsyncSession, case: Case) -> dict[str, Any]:
    """What every document prints about its case; parties masked as in every view."""
    org = await db.get(Organization, case.org_id)
    mediator = await db.get(StaffUser, case.mediator_id) if case.mediator_id else None
    parties = await parties_of(db, case.id)
    return {
        "org_name": org.name if org else "",
        "case_number": case.number or "",
        "dispute_type": label("dispute", case.dispute_type, ZH),
        "mediator_name": mediator.display_name if mediator else "",
        "date": local_date(utcnow()),
        "parties": [
            {
                "role": label("role", p.role, ZH),
                "name": p.name,
                "id_masked": p.id_masked,
                "phone_masked": mask_phone(p.phone),
            }
            for p in parties
        ],
    }


async def _next_version(db: AsyncSession, case_id: int, kind: str) -> int:
    latest = await db.scalar(
        select(func.coalesce(func.max(CaseDocument.version), 0)).where(
            CaseDocument.case_id == case_id, CaseDocument.kind == kind
        )
    )
    return int(latest or 0) + 1


async def request_document(
    db: AsyncSession, case: Case, kind: str, actor: str, extra: dict[str, Any]
) -> CaseDocument:
    """The next version of `kind`, its text frozen now; rendered by the job after commit.
    Callers hold the case row's lock, which orders versions (the unique key backs it)."""
    header = await _header(db, case)
    chosen = None
    content = {**header, **extra}
    if kind in template_store.PLACEHOLDERS:
        chosen = await template_store.choose(db, kind, case.dispute_type)
        values = {name: _value(content, name) for name in template_store.PLACEHOLDERS[kind]}
        title, paragraphs = template_store.render_wording(chosen.wording, values)
        content.update(title=title, paragraphs=paragraphs)
    document = CaseDocument(
        case_id=case.id,
        kind=kind,
        version=await _next_version(db, case.id, kind),
        template_id=chosen.template_id if chosen else None,
        template_version=chosen.version if chosen else 0,
        content=content,
        created_by=actor,
    )
    db.add(document)
    await db.flush()
    await enqueue(db, RENDER_JOB, {"document_id": document.id})
    return document


def _value(content: dict[str, Any], name: str) -> str:
    if name == "parties":
        return "、".join(p["name"] for p in content["parties"])
    value = content.get(name, "")
    return "\n".join(value) if isinstance(value, list) else str(value)


async def do_record_minutes(
    db: AsyncSession, principal: Principal, case: Case, minutes: Minutes
) -> CaseDocument:
    await require(db, principal, Action.CONDUCT, case)
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status == "closed":
        raise Conflict(CLOSED)
    document = await request_document(
        db,
        case,
        "minutes",
        principal.key,
        {
            "place": minutes.place,
            "started_at": local_datetime(minutes.started_at),
            "attendees": list(minutes.attendees),
            "record": [line for line in minutes.record.splitlines() if line],
        },
    )
    await record_event(
        db, case.id, "minutes_recorded", principal.key, {"version": document.version}
    )
    return document


async def outcome_document(db: AsyncSession, case_id: int) -> CaseDocument | None:
    """The document the case's outcome calls for, requested once (the job may run twice)."""
    await lock_row(db, Case, case_id)
    case = await db.get(Case, case_id, populate_existing=True)
    kind = OUTCOME_KINDS.get(case.outcome or "") if case else None
    if case is None or kind is None:
        return None
    existing = await documents_of_kind(db, case.id, kind)
    if existing:
        return existing[-1]
    note = case.outcome_note or ""
    extra = {
        "content": [line for line in note.splitlines() if line.strip()],
        "reason": note,
        "outcome_at": local_date(case.outcome_at or utcnow()),
    }
    return await request_document(db, case, kind, "system", extra)


async def documents_of_kind(db: AsyncSession, case_id: int, kind: str) -> list[CaseDocument]:
    rows = await db.scalars(
        select(CaseDocument)
        .where(CaseDocument.case_id == case_id, CaseDocument.kind == kind)
        .order_by(CaseDocument.version)
    )
    return list(rows)


async def documents_of(db: AsyncSession, principal: Principal, case: Case) -> list[CaseDocument]:
    """The case's documents the principal may read (load_case has authorised the case)."""
    query = select(CaseDocument).where(CaseDocument.case_id == case.id)
    if principal.kind != "staff":
        query = query.where(CaseDocument.kind.in_(PARTY_KINDS))
    return list(await db.scalars(query.order_by(CaseDocument.kind, CaseDocument.version)))


async def load_document(db: AsyncSession, principal: Principal, document_id: int) -> CaseDocument:
    """The same NotFound whether the document is missing, of another case, or staff-only."""
    document = await db.get(CaseDocument, document_id)
    if document is None:
        raise NotFound(NO_DOCUMENT)
    await load_case(db, principal, document.case_id)
    if principal.kind != "staff" and document.kind not in PARTY_KINDS:
        raise NotFound(NO_DOCUMENT)
    if document.storage_key is None:
        raise Conflict(NOT_READY)
    return document


async def unsealed(db: AsyncSession, case_id: int) -> list[int]:
    """The case's documents (other than archives) requested but not yet sealed."""
    rows = await db.scalars(
        select(CaseDocument.id).where(
            CaseDocument.case_id == case_id,
            CaseDocument.kind != "archive",
            CaseDocument.sha256.is_(None),
        )
    )
    return list(rows)
