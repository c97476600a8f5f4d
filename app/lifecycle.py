"""The case life cycle in one place: its statuses, the moves allowed between them, and the one
function that makes a move. No feature writes `cases.status` itself (tests/app/test_lifecycle.py
fails if one does): each calls `advance`, which checks the move against the table, makes it with
a conditional UPDATE (so of two concurrent moves from the same status exactly one happens) and
writes its timeline event in the same transaction."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import append_event, holds_case_lock  # importing it chains every flushed event
from app.db import table_of
from app.errors import Conflict
from app.i18n import N_
from app.models import Case, CaseEvent


class CaseStatus(StrEnum):
    APPLIED = "applied"  # submitted, waiting for the coordinator
    REFUSED = "refused"  # 不予受理, with a reason and advice on other routes
    REFERRED = "referred"  # 分流 to another channel (诉调/警调/访调/行政调解) with its history
    WITHDRAWN = "withdrawn"  # the applicant withdrew before registration
    REGISTERED = "registered"  # 受理: numbered, tier/risk/deadline set, waiting for dispatch
    DISPATCHED = "dispatched"  # 派单: sent to an organisation or mediator, not yet acknowledged
    ACCEPTED = "accepted"  # 接单: a mediator handles it
    SCHEDULED = "scheduled"  # an appointment exists
    AGREEMENT = "agreement"  # an agreement is being drafted or signed
    SIGNED = "signed"  # every signer signed; the agreement is effective
    FILED = "filed"  # filed for judicial confirmation
    CONFIRMED = "confirmed"  # the court confirmed the agreement
    DISMISSED = "dismissed"  # the court dismissed the application
    CONCLUDED = "concluded"  # the outcome is recorded (agreement, oral, termination, ...)
    CLOSED = "closed"  # 结单: read-only except for after-care


S = CaseStatus
# Escalation to the tier above and a declined or expired dispatch return a case to REGISTERED at
# its (new) organisation; reassignment re-dispatches. A concluded case is done: its room closes.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.APPLIED: frozenset({S.REGISTERED, S.REFUSED, S.REFERRED, S.WITHDRAWN}),
    S.REGISTERED: frozenset(
        {S.REGISTERED, S.DISPATCHED, S.ACCEPTED, S.SCHEDULED, S.REFERRED, S.CONCLUDED}
    ),
    S.DISPATCHED: frozenset({S.DISPATCHED, S.ACCEPTED, S.REGISTERED}),
    S.ACCEPTED: frozenset({S.DISPATCHED, S.REGISTERED, S.SCHEDULED, S.REFERRED, S.CONCLUDED}),
    S.SCHEDULED: frozenset(
        {S.SCHEDULED, S.ACCEPTED, S.REGISTERED, S.AGREEMENT, S.REFERRED, S.CONCLUDED}
    ),
    S.AGREEMENT: frozenset({S.AGREEMENT, S.SIGNED, S.CONCLUDED}),
    S.SIGNED: frozenset({S.FILED, S.CONCLUDED}),
    # Not accepted by the court, or withdrawn by a party: the agreement may be filed again.
    S.FILED: frozenset({S.CONFIRMED, S.DISMISSED, S.SIGNED}),
    S.CONFIRMED: frozenset({S.CONCLUDED, S.CLOSED}),
    S.DISMISSED: frozenset({S.CONCLUDED, S.CLOSED}),
    S.CONCLUDED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REFUSED: frozenset(),
    S.REFERRED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# Statuses in which nobody meets any more: the case's rooms close.
FINISHED = frozenset(
    {S.CONFIRMED, S.DISMISSED, S.CONCLUDED, S.CLOSED, S.REFUSED, S.REFERRED, S.WITHDRAWN}
)
# Statuses that count as open work on the desks and for the deadline clocks.
OPEN = frozenset({S.REGISTERED, S.DISPATCHED, S.ACCEPTED, S.SCHEDULED, S.AGREEMENT})

NOT_ALLOWED = N_("This case cannot make this change in its present state.")
CHANGED_MEANWHILE = N_("Someone else changed this case meanwhile. Please reload the page.")


def allowed(source: str, target: str) -> bool:
    try:
        return CaseStatus(target) in TRANSITIONS[CaseStatus(source)]
    except ValueError:
        return False


async def advance(
    db: AsyncSession,
    case: Case,
    target: CaseStatus,
    actor: str,
    event: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    public: bool = True,
    **values: Any,
) -> None:
    """Moves `case` from the status it was read with to `target`, setting `values` on the same
    row, and records the event `event` (default: the target's name). Raises Conflict when the
    table forbids the move or another transaction moved the case first."""
    source = await move(db, case, target, **values)
    record_move(db, case, source, target, actor, event, data, public=public)


async def move(db: AsyncSession, case: Case, target: CaseStatus, **values: Any) -> str:
    """`advance` without its event, for a use case that records the event once it knows all
    of the event's data: the caller must then call `record_move` in the same transaction.
    Returns the status the case left."""
    source = case.status
    if not allowed(source, target):
        raise Conflict(NOT_ALLOWED)
    # Core, not the ORM's bulk UPDATE (less CPU): the case object is updated below.
    table = table_of(Case)
    changed = await db.execute(
        update(table)
        .where(table.c.id == case.id, table.c.status == source)
        .values(status=str(target), **values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(CHANGED_MEANWHILE)
    holds_case_lock(db.sync_session, case.id)
    set_committed_value(case, "status", str(target))
    for name, value in values.items():
        set_committed_value(case, name, value)
    return source


def record_move(
    db: AsyncSession,
    case: Case,
    source: str,
    target: CaseStatus,
    actor: str,
    event: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    public: bool = True,
) -> None:
    db.add(
        CaseEvent(
            case_id=case.id,
            kind=event or str(target),
            actor=actor,
            data=_move_data(source, target, data),
            public=public,
        )
    )


async def write_move_event(
    db: AsyncSession,
    case: Case,
    source: str,
    target: CaseStatus,
    actor: str,
    event: str,
    data: dict[str, Any],
) -> None:
    """`record_move`, written at once with Core statements instead of at the next flush (for
    hot paths: a booking)."""
    await append_event(db, case.id, event, actor, _move_data(source, target, data))


def _move_data(source: str, target: CaseStatus, data: dict[str, Any] | None) -> dict[str, Any]:
    return {"from": source, "to": str(target), **(data or {})}
