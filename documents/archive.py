"""The case's archive (卷宗, 人民调解法 art. 27) as one sealed PDF.

Sections: cover, application, evidence list (names, hashes, uploader, time — not the files),
minutes, the agreement or the outcome document, signature evidence, and the timeline with the
audit chain's head hash. Produced once at closing (the `archive_case` job, which booking
enqueues by name) and again on demand by staff as a new version.

Parties are named in full (an archive identifies who the dispute was between) but ID numbers and
phones are masked as everywhere else: the archive is a record of the mediation, not a copy of
the identity documents, and it is read by more people than the mediator.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row
from app.errors import Conflict
from app.labels import label
from app.models import Case, StaffUser
from app.policy import Action, require
from app.services import parties_of, record_event, timeline
from booking.evidence import evidence_of
from documents.case_documents import (
    NO_OUTCOME_YET,
    ZH,
    documents_of_kind,
    local_datetime,
    request_document,
)
from documents.models import CaseDocument
from documents.sealed import evidence_line
from documents.services import current_agreement, signatures_of, signer_keys, signer_name

SECTIONS = (
    "一、卷宗封面",
    "二、调解申请",
    "三、证据材料清单",
    "四、调解笔录",
    "五、调解协议或调解结果",
    "六、签名证据",
    "七、案件时间线",
)


async def _names(db: AsyncSession, case_id: int) -> dict[str, str]:
    """Principal keys (party:7, staff:3) → names, for uploaders and actors."""
    names = {f"party:{p.id}": p.name for p in await parties_of(db, case_id)}
    names["system"] = "系统"
    return names


async def _staff_name(db: AsyncSession, key: str, names: dict[str, str]) -> str:
    if key not in names and key.startswith("staff:") and key[6:].isdigit():
        staff = await db.get(StaffUser, int(key[6:]))
        names[key] = staff.display_name if staff else key
    return names.get(key, key)


async def _outcome_part(db: AsyncSession, case: Case) -> tuple[dict[str, Any], list[Any]]:
    """The effective agreement with its signature evidence, else the outcome's document."""
    agreement = await current_agreement(db, case.id)
    if agreement is not None and agreement.status == "effective":
        signatures = await signatures_of(db, agreement.id)
        evidence = [
            evidence_line(signer_name(agreement, key), signatures[key])
            for key in signer_keys(agreement)
            if key in signatures
        ]
        part = {
            "kind": "agreement",
            "title": "人民调解协议书",
            "version": agreement.version,
            "version_hash": agreement.version_hash,
            "paragraphs": [agreement.content["facts"], *agreement.content["terms"]],
        }
        signed = [
            {
                "name": e.name,
                "signed_at": local_datetime(e.signed_at),
                "step_up": e.step_up,
                "client": e.client,
                "version_hash": e.version_hash,
                "image_sha256": e.image_sha256,
            }
            for e in evidence
        ]
        return part, signed
    for kind in ("oral_agreement", "termination"):
        documents = await documents_of_kind(db, case.id, kind)
        if documents:
            return _document_part(documents[-1]), []
    return {
        "kind": "outcome",
        "title": label("outcome", case.outcome, ZH),
        "paragraphs": [case.outcome_note] if case.outcome_note else [],
    }, []


def _document_part(document: CaseDocument) -> dict[str, Any]:
    c = document.content
    return {
        "kind": document.kind,
        "title": c.get("title", ""),
        "version": document.version,
        "sha256": document.sha256,
        "paragraphs": [*c.get("content", []), *c.get("paragraphs", [])],
    }


async def archive_content(db: AsyncSession, case: Case) -> dict[str, Any]:
    names = await _names(db, case.id)
    evidence = [
        {
            "filename": e.filename,
            "sha256": e.sha256,
            "size": e.size,
            "uploader": await _staff_name(db, e.uploader, names),
            "uploaded_at": local_datetime(e.created_at),
        }
        for e in await evidence_of(db, case.id)
    ]
    minutes = [
        {
            "version": m.version,
            "sha256": m.sha256,
            **{k: m.content.get(k) for k in ("place", "started_at", "attendees", "record")},
        }
        for m in await documents_of_kind(db, case.id, "minutes")
    ]
    outcome, signatures = await _outcome_part(db, case)
    events = await timeline(db, case.id, public_only=False)
    return {
        "sections": list(SECTIONS),
        "application": {
            "description": [line for line in case.description.splitlines() if line.strip()],
            "channel": label("channel", case.channel, ZH),
            "applied_at": local_datetime(case.created_at),
            "registered_at": local_datetime(case.registered_at) if case.registered_at else "",
        },
        "outcome_label": label("outcome", case.outcome, ZH),
        "outcome_at": local_datetime(case.outcome_at) if case.outcome_at else "",
        "closed_at": local_datetime(case.closed_at) if case.closed_at else "",
        "evidence": evidence,
        "minutes": minutes,
        "outcome": outcome,
        "signatures": signatures,
        "timeline": [
            {
                "at": local_datetime(ev.at),
                "event": label("event", ev.kind, ZH),
                "actor": await _staff_name(db, ev.actor, names),
                "hash": ev.hash or "",
            }
            for ev in events
        ],
        "chain_head": next((ev.hash for ev in reversed(events) if ev.hash), ""),
    }


async def _request_archive(db: AsyncSession, case: Case, actor: str) -> CaseDocument:
    document = await request_document(db, case, "archive", actor, await archive_content(db, case))
    data = {"version": document.version}
    await record_event(db, case.id, "archive_requested", actor, data, public=False)
    return document


async def archive_at_closing(db: AsyncSession, case_id: int) -> CaseDocument | None:
    """Once per case however often the job runs: the case row's lock orders the runs."""
    await lock_row(db, Case, case_id)
    case = await db.get(Case, case_id, populate_existing=True)
    if case is None:
        return None
    existing = await documents_of_kind(db, case_id, "archive")
    if existing:
        return existing[0]
    return await _request_archive(db, case, "system")


async def do_archive(db: AsyncSession, principal: Principal, case: Case) -> CaseDocument:
    """Staff ask for the archive again (a new version), after the outcome is recorded."""
    await require(db, principal, Action.CONDUCT, case)
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.outcome is None:
        raise Conflict(NO_OUTCOME_YET)
    return await _request_archive(db, case, principal.key)
