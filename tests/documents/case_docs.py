"""Shared steps for the case-document tests: ending a case through the real pages, running the
jobs, and reading the sealed documents back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import sessionmaker_key
from app.jobs import run_pending
from app.models import Job
from app.storage import storage_key
from documents.models import CaseDocument
from tests.people import Client, post_form


async def record_outcome(client: Client, case_id: int, outcome: str, note: str = "") -> None:
    response = await post_form(
        client,
        f"/cases/{case_id}/outcome",
        {"outcome": outcome, "note": note},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


async def documents(app: Any, case_id: int, kind: str) -> list[CaseDocument]:
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(
            select(CaseDocument)
            .where(CaseDocument.case_id == case_id, CaseDocument.kind == kind)
            .order_by(CaseDocument.version)
        )
        return list(rows)


async def stored_pdf(app: Any, document: CaseDocument) -> bytes:
    assert document.storage_key is not None and document.sha256 is not None
    return bytes(await app[storage_key].get(document.storage_key))


async def sms_bodies(app: Any, case_id: int) -> list[str]:
    async with app[sessionmaker_key]() as db:
        jobs = await db.scalars(select(Job).where(Job.kind == "sms").order_by(Job.id))
        return [j.payload["body"] for j in jobs if j.payload.get("case_id") == case_id]
