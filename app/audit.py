"""The tamper-evident timeline: each case's events form a hash chain (全程留痕).

Every `CaseEvent` flushed by any session gets `prev_hash` (the hash of the case's latest event)
and `hash` = SHA-256 of its canonical content and `prev_hash`. The chain is extended under the
case row's lock, so two transactions adding events to one case cannot both extend the same
link. `verify_chain` recomputes the chains and names the first edited or deleted event.
Events written before the chain existed (hash NULL) are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.db import table_of, utcnow
from app.models import Case, CaseEvent


def event_hash(prev_hash: str | None, ev: CaseEvent) -> str:
    return _hash(prev_hash, ev.case_id, ev.at, ev.kind, ev.actor, ev.public, ev.data)


def _hash(
    prev_hash: str | None,
    case_id: int,
    at: datetime,
    kind: str,
    actor: str,
    public: bool | None,
    data: dict[str, Any] | None,
) -> str:
    content = {
        "prev": prev_hash,
        "case_id": case_id,
        "at": at.isoformat(),
        "kind": kind,
        "actor": actor,
        "public": bool(public),
        "data": data or {},
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


HELD = "audit_held_case_locks"  # session.info: cases whose row this transaction has written


def holds_case_lock(session: Session, case_id: int) -> None:
    """Notes that the session's transaction holds the case row's lock (it updated the row or
    selected it FOR UPDATE), so adding events to that case needs no second lock statement."""
    session.info.setdefault(HELD, set()).add(case_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_held_locks(session: Session, transaction: SessionTransaction) -> None:
    # The transaction's end, or any savepoint's: a rolled-back savepoint may have released
    # what it took. Forgetting too much costs a lock statement; too little would fork the
    # chain. (A flush's own inner transaction ends too, and changes nothing.)
    if transaction.parent is None or transaction.nested:
        session.info.pop(HELD, None)


def _lock_cases(session: Session, case_ids: list[int]) -> None:
    # The same lock as app.db.lock_row, for every case of the flush in one statement, in id order
    # (two flushes never take the same cases' locks crosswise).
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Case)
            .where(Case.id.in_(case_ids))
            .values(id=Case.id)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(
            select(Case.id).where(Case.id.in_(case_ids)).order_by(Case.id).with_for_update()
        )


_NEWEST = (
    select(func.max(CaseEvent.id))
    .where(CaseEvent.case_id.in_(bindparam("case_ids", expanding=True)))
    .where(CaseEvent.hash.is_not(None))
    .group_by(CaseEvent.case_id)
)
_LATEST_HASHES = select(CaseEvent.case_id, CaseEvent.hash).where(CaseEvent.id.in_(_NEWEST))


def _latest_hashes(session: Session, case_ids: list[int]) -> dict[int, str]:
    rows = session.execute(_LATEST_HASHES, {"case_ids": case_ids})
    return {case_id: digest for case_id, digest in rows if digest}


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _context: Any, _instances: Any) -> None:
    """Two statements per flush that adds events, however many cases they belong to; one when
    the transaction already holds the cases' locks."""
    new = [obj for obj in session.new if isinstance(obj, CaseEvent) and obj.hash is None]
    if not new:
        return
    by_case: dict[int, list[CaseEvent]] = defaultdict(list)
    for ev in sorted(new, key=lambda obj: inspect(obj).insert_order or 0):
        by_case[ev.case_id].append(ev)
    case_ids = sorted(by_case)
    held = session.info.get(HELD, set())
    if unlocked := [case_id for case_id in case_ids if case_id not in held]:
        _lock_cases(session, unlocked)
    latest = _latest_hashes(session, case_ids)
    for case_id in case_ids:
        prev = latest.get(case_id)
        for ev in by_case[case_id]:
            ev.at = ev.at or utcnow()
            ev.prev_hash, ev.hash = prev, event_hash(prev, ev)
            prev = ev.hash


_EVENTS = table_of(CaseEvent)
_HEAD = (
    select(_EVENTS.c.hash)
    .where(_EVENTS.c.case_id == bindparam("case_id"), _EVENTS.c.hash.is_not(None))
    .order_by(_EVENTS.c.id.desc())
    .limit(1)
)
_APPEND = insert(_EVENTS)


async def append_event(
    db: AsyncSession,
    case_id: int,
    kind: str,
    actor: str,
    data: dict[str, Any],
    *,
    public: bool = True,
) -> None:
    """One event written at once with Core statements, chained exactly as a flushed one (the
    ORM's unit of work costs more CPU than the two statements). Events still pending in the
    session are flushed first by the head's read, so they come before this one."""
    if case_id not in db.sync_session.info.get(HELD, set()):
        await db.run_sync(_lock_cases, [case_id])
        holds_case_lock(db.sync_session, case_id)
    prev = await db.scalar(_HEAD, {"case_id": case_id})
    at = utcnow()
    row = {"case_id": case_id, "at": at, "kind": kind, "actor": actor, "public": public}
    digest = _hash(prev, case_id, at, kind, actor, public, data)
    await db.execute(_APPEND, {**row, "data": data, "prev_hash": prev, "hash": digest})


@dataclass(frozen=True)
class Break:
    case_id: int
    event_id: int
    problem: str  # edited | deleted-before | unchained


def verify_chain(events: Iterable[CaseEvent]) -> Break | None:
    """The first break in `events` (ordered by case, then id), or None when every chain holds."""
    last: dict[int, str] = {}
    for ev in events:
        if ev.hash is None:
            if ev.case_id in last:  # written around the chain after it started
                return Break(ev.case_id, ev.id, "unchained")
            continue
        if ev.prev_hash != last.get(ev.case_id):
            return Break(ev.case_id, ev.id, "deleted-before")
        if event_hash(ev.prev_hash, ev) != ev.hash:
            return Break(ev.case_id, ev.id, "edited")
        last[ev.case_id] = ev.hash
    return None
