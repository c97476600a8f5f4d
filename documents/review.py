"""Review in the room: a party asks the mediator to change one clause of the version on screen.
Stored with the version it was made on; the mediator sees the requests on the case page and
in the draft's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.i18n import N_
from app.models import Case
from app.printable import single_spaced, unprintable
from app.services import record_event
from documents.models import Agreement, ChangeRequest

MAX_TEXT = 500
BAD_CLAUSE = N_("Please choose one of the agreement's clauses.")
BAD_TEXT = N_("Please say what should change, in 2 to 500 characters.")


@dataclass(frozen=True)
class ChangeInput:
    version_hash: str
    clause: int
    text: str


def check_change(body: dict[str, Any]) -> ChangeInput:
    errors: dict[str, str] = {}
    clause, text = body.get("clause"), body.get("text")
    if not isinstance(clause, int) or isinstance(clause, bool) or not 1 <= clause <= 50:
        errors["clause"] = BAD_CLAUSE
    text = single_spaced(text) if isinstance(text, str) else ""
    if not 2 <= len(text) <= MAX_TEXT or unprintable(text) is not None:
        errors["text"] = BAD_TEXT
    version_hash = body.get("version_hash")
    if not isinstance(version_hash, str):
        errors["version_hash"] = N_("The request could not be read.")
    if errors or not isinstance(clause, int) or not isinstance(version_hash, str):
        raise ValidationFailed(errors)
    return ChangeInput(version_hash, clause, text)


async def do_request_change(
    db: AsyncSession, principal: Principal, agreement: Agreement, change: ChangeInput
) -> ChangeRequest:
    if principal.kind != "party" or principal.case_id != agreement.case_id:
        raise PermissionDenied(N_("Only the parties may ask for a change to a clause."))
    await lock_row(db, Case, agreement.case_id)
    await db.refresh(agreement)
    if agreement.status != "signing":
        raise Conflict(N_("This agreement can no longer be signed."))
    if change.version_hash != agreement.version_hash:
        raise Conflict(N_("The agreement changed since you opened it. Please read it again."))
    if change.clause > len(agreement.content["terms"]):
        raise ValidationFailed({"clause": BAD_CLAUSE})
    row = ChangeRequest(
        agreement_id=agreement.id, requester=principal.key, clause=change.clause, text=change.text
    )
    db.add(row)
    await db.flush()
    data = {"version": agreement.version, "clause": change.clause}
    await record_event(db, agreement.case_id, "change_requested", principal.key, data)
    return row


async def requests_of(db: AsyncSession, agreement_id: int) -> list[ChangeRequest]:
    rows = await db.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.agreement_id == agreement_id)
        .order_by(ChangeRequest.id)
    )
    return list(rows)
