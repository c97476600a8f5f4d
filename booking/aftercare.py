"""After-care once a case is closed: the follow-up visit (回访), performance of the agreed terms
(履行, People's Mediation Law art. 31) and the parties' ratings (事后评诊).

Alarms (a follow-up due and not recorded, an obligation past its day and not performed) come
from one set-based sweep, run by a job queued for the moment each becomes due; it is idempotent
(each alarm has a key), so it may run any number of times, on any worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, issue_party_link
from app.db import dialect_of, transaction, utcnow
from app.deadlines import followup_days
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_, format_date, translate
from app.jobs import enqueue, register
from app.lifecycle import CaseStatus
from app.models import Alarm, Case, Organization
from app.notify import SMS_LOCALE, notify_parties, send_sms
from app.policy import Action, require
from app.services import parties_of, record_event
from app.settings import Settings
from booking.models import FollowUp, PerformanceItem, Rating
from booking.slots import local_moment, local_today

FOLLOWUP_METHODS = ("phone", "visit", "online")
FOLLOWUP_RESULTS = ("resolved", "issues", "unreachable")
ITEM_MARKS = ("performed", "not_performed")
SCORES = ("attitude", "procedure", "result")
TEXT_MAX_LENGTH, WHAT_MAX_LENGTH, DEBTOR_MAX_LENGTH = 2000, 500, 64
MAX_AMOUNT_FEN = 10**12  # ten billion yuan
AMOUNT_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
# After-care applies to a concluded case (items may be entered before closing) or a closed one.
ITEMS_OPEN = frozenset({CaseStatus.CONCLUDED, CaseStatus.CLOSED})

NOT_CLOSED = N_("After-care starts when the case is closed.")
NOT_CONCLUDED = N_("Record the outcome of the case first.")
FOLLOWUP_DONE = N_("The follow-up visit has already been recorded.")
ITEM_MARKED = N_("This obligation has already been marked.")
NO_ITEM = N_("This obligation does not exist.")
ALREADY_RATED = N_("You have already rated this case. Thank you.")
RATE_WHEN_CLOSED = N_("You can rate the handling once the case is closed.")
PARTIES_ONLY = N_("Only the parties of the case rate it.")
BAD_CHOICE = N_("Please choose one of the options.")
BAD_TEXT = N_("This text is too long.")
NEEDED = N_("Please fill this in.")
BAD_SCORE = N_("Please give 1 to 5 stars.")
BAD_AMOUNT = N_("Please give the amount in yuan, e.g. 8000 or 8000.50.")
BAD_DUE = N_("Please give the due date (YYYY-MM-DD).")
RATE_SMS = N_(
    "[{org}] Case {number} is closed. Please tell us how it was handled and rate your "
    "mediator (once, about one minute): {link}"
)
REMIND_SMS = N_(
    "Reminder (case {number}): by {date}, {debtor} is to {what}. Please tell the mediation "
    "centre if this cannot be done."
)


# --- closing -------------------------------------------------------------------------------


async def start(db: AsyncSession, settings: Settings, case: Case, closed_at: datetime) -> None:
    """At closing: the follow-up visit is scheduled and each party is asked to rate."""
    due = closed_at + timedelta(days=await followup_days(db, settings))
    db.add(FollowUp(case_id=case.id, due_at=due, alarm_at=due, note=""))
    await enqueue(db, "aftercare_sweep", {}, delay=due - utcnow())
    org = await db.get(Organization, case.org_id)
    for party in await parties_of(db, case.id):
        token = await issue_party_link(db, party.id, settings.party_link_days)
        body = translate(
            RATE_SMS,
            SMS_LOCALE,
            org=org.name if org else "",
            number=case.number or case.id,
            link=f"{settings.base_url}/p/{token}",
        )
        await send_sms(db, party.phone, body, case.id)


# --- the follow-up visit --------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpInput:
    method: str
    result: str
    note: str


def _text(data: Mapping[str, object], name: str, limit: int, errors: dict[str, str]) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value.strip()) > limit:
        errors[name] = BAD_TEXT
        return ""
    return value.strip()


def check_followup(data: Mapping[str, object]) -> FollowUpInput:
    errors: dict[str, str] = {}
    for name, choices in (("method", FOLLOWUP_METHODS), ("result", FOLLOWUP_RESULTS)):
        if data.get(name) not in choices:
            errors[name] = BAD_CHOICE
    note = _text(data, "note", TEXT_MAX_LENGTH, errors)
    if errors:
        raise ValidationFailed(errors)
    return FollowUpInput(str(data["method"]), str(data["result"]), note)


async def do_record_followup(
    db: AsyncSession, principal: Principal, case: Case, visit: FollowUpInput
) -> None:
    await require(db, principal, Action.CONDUCT, case)
    if case.status != CaseStatus.CLOSED:
        raise Conflict(NOT_CLOSED)
    recorded = await db.execute(
        update(FollowUp)
        .where(FollowUp.case_id == case.id, FollowUp.recorded_at.is_(None))
        .values(
            method=visit.method,
            result=visit.result,
            note=visit.note,
            recorded_at=utcnow(),
            recorded_by=principal.key,
            alarm_at=None,
        )
    )
    if recorded.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(FOLLOWUP_DONE)
    await record_event(
        db, case.id, "followup_recorded", principal.key, {"result": visit.result}, public=False
    )


# --- performance (履行) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInput:
    what: str
    debtor: str
    due_on: date
    amount_fen: int | None


def _amount(raw: object, errors: dict[str, str]) -> int | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not _AMOUNT.match(text):
        errors["amount"] = BAD_AMOUNT
        return None
    yuan, _, fen = text.partition(".")
    value = int(yuan) * 100 + int((fen + "00")[:2])
    if not 0 < value < MAX_AMOUNT_FEN:
        errors["amount"] = BAD_AMOUNT
    return value


def _due(raw: object, errors: dict[str, str]) -> date:
    try:
        due = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        due = None
    if due is None or not 2000 <= due.year <= 2099:
        errors["due_on"] = BAD_DUE
        return date(2000, 1, 1)
    return due


def check_item(data: Mapping[str, object]) -> ItemInput:
    errors: dict[str, str] = {}
    what = _text(data, "what", WHAT_MAX_LENGTH, errors)
    debtor = _text(data, "debtor", DEBTOR_MAX_LENGTH, errors)
    for name, value in (("what", what), ("debtor", debtor)):
        if not value and name not in errors:
            errors[name] = NEEDED
    due_on = _due(data.get("due_on"), errors)
    amount = _amount(data.get("amount"), errors)
    if errors:
        raise ValidationFailed(errors)
    return ItemInput(what, debtor, due_on, amount)


async def do_add_item(
    db: AsyncSession, principal: Principal, case: Case, item: ItemInput
) -> PerformanceItem:
    """An obligation to watch; its reminder and its non-performance check are queued now."""
    await require(db, principal, Action.CONDUCT, case)
    if case.status not in ITEMS_OPEN:
        raise Conflict(NOT_CONCLUDED)
    overdue_at = local_moment(item.due_on + timedelta(days=1), time())
    row = PerformanceItem(
        case_id=case.id,
        alarm_at=overdue_at,
        what=item.what,
        debtor=item.debtor,
        due_on=item.due_on,
        amount_fen=item.amount_fen,
        status="pending",
        created_by=principal.key,
    )
    db.add(row)
    await db.flush()
    now = utcnow()
    if item.due_on >= local_today(now):
        remind_at = local_moment(item.due_on - timedelta(days=1), time(9))
        await enqueue(db, "performance_reminder", {"item_id": row.id}, delay=remind_at - now)
    await enqueue(db, "aftercare_sweep", {}, delay=overdue_at - now)
    return row


async def do_mark_item(
    db: AsyncSession, principal: Principal, case: Case, item_id: int, mark: str
) -> None:
    await require(db, principal, Action.CONDUCT, case)
    if mark not in ITEM_MARKS:
        raise ValidationFailed({"status": BAD_CHOICE})
    marked = await db.execute(
        update(PerformanceItem)
        .where(
            PerformanceItem.id == item_id,
            PerformanceItem.case_id == case.id,
            PerformanceItem.status == "pending",
        )
        .values(status=mark, marked_at=utcnow(), marked_by=principal.key, alarm_at=None)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        exists_ = await db.get(PerformanceItem, item_id)
        if exists_ is None or exists_.case_id != case.id:
            raise NotFound(NO_ITEM)
        raise Conflict(ITEM_MARKED)
    await record_event(db, case.id, "performance_marked", principal.key, {"status": mark})


# --- ratings (事后评诊) -----------------------------------------------------------------------


@dataclass(frozen=True)
class RatingInput:
    attitude: int
    procedure: int
    result: int
    comment: str


def _score(raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip() in {"1", "2", "3", "4", "5"}:
        value = int(raw.strip())
    else:
        return None
    return value if 1 <= value <= 5 else None


def check_rating(data: Mapping[str, object]) -> RatingInput:
    errors: dict[str, str] = {}
    scores = {name: _score(data.get(name)) for name in SCORES}
    errors.update({name: BAD_SCORE for name, value in scores.items() if value is None})
    comment = _text(data, "comment", TEXT_MAX_LENGTH, errors)
    if errors:
        raise ValidationFailed(errors)
    return RatingInput(comment=comment, **{k: v for k, v in scores.items() if v is not None})


async def do_rate(db: AsyncSession, principal: Principal, case: Case, rating: RatingInput) -> None:
    """The party's one rating: the unique key on party_id lets exactly one of any number of
    concurrent submissions in; the others are told it was already given."""
    if principal.kind != "party" or principal.case_id != case.id:
        raise PermissionDenied(PARTIES_ONLY)
    if case.status != CaseStatus.CLOSED:
        raise Conflict(RATE_WHEN_CLOSED)
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    inserted = await db.execute(
        insert(Rating)
        .values(
            case_id=case.id,
            party_id=principal.party_id,
            mediator_id=case.mediator_id,
            attitude=rating.attitude,
            procedure=rating.procedure,
            result=rating.result,
            comment=rating.comment,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(ALREADY_RATED)
    await record_event(db, case.id, "rated", principal.key, public=False)


@dataclass(frozen=True)
class RatingSummary:
    count: int
    attitude: float
    procedure: float
    result: float

    @property
    def overall(self) -> float:
        return round((self.attitude + self.procedure + self.result) / 3, 2)


async def mediator_ratings(db: AsyncSession, staff_ids: list[int]) -> dict[int, RatingSummary]:
    """Average scores per mediator, in one query; mediators never rated are absent."""
    if not staff_ids:
        return {}
    rows = await db.execute(
        select(
            Rating.mediator_id,
            func.count(),
            func.avg(Rating.attitude),
            func.avg(Rating.procedure),
            func.avg(Rating.result),
        )
        .where(Rating.mediator_id.in_(staff_ids))
        .group_by(Rating.mediator_id)
    )
    return {
        int(mediator): RatingSummary(
            int(n), round(float(a), 2), round(float(p), 2), round(float(r), 2)
        )
        for mediator, n, a, p, r in rows.all()
    }


# --- reading, for the case page and the API --------------------------------------------------


@dataclass(frozen=True)
class AfterCare:
    followup: FollowUp | None
    items: list[PerformanceItem]
    ratings: list[Rating]


async def aftercare_of(db: AsyncSession, case_id: int) -> AfterCare:
    followup = await db.scalar(select(FollowUp).where(FollowUp.case_id == case_id))
    items = await db.scalars(
        select(PerformanceItem)
        .where(PerformanceItem.case_id == case_id)
        .order_by(PerformanceItem.due_on, PerformanceItem.id)
    )
    ratings = await db.scalars(select(Rating).where(Rating.case_id == case_id).order_by(Rating.id))
    return AfterCare(followup, list(items), list(ratings))


async def has_rated(db: AsyncSession, party_id: int) -> bool:
    return await db.scalar(select(Rating.id).where(Rating.party_id == party_id)) is not None


# --- alarms and reminders --------------------------------------------------------------------


async def raise_due_alarms(db: AsyncSession, now: datetime) -> int:
    """Raises every after-care alarm due at `now`: a follow-up due and not recorded, an obligation
    whose day (Asia/Shanghai) has passed unmarked. Each row's `alarm_at` is cleared as its alarm
    is raised (recording or marking clears it too), so a run reads only the rows due since the
    last one, through their index, however many cases there are. Returns how many it raised."""
    found: list[dict[str, Any]] = []
    for model, kind in ((FollowUp, "followup_due"), (PerformanceItem, "not_performed")):
        rows = await db.execute(
            select(model.id, Case.id, Case.org_id, Case.mediator_id)
            .join(Case, Case.id == model.case_id)
            .where(model.alarm_at <= now)
        )
        found += [_alarm(kind, *row, now) for row in rows.all()]
        await db.execute(update(model).where(model.alarm_at <= now).values(alarm_at=None))
    await _raise_all(db, found)
    return len(found)


def _alarm(
    kind: str, row_id: int, case_id: int, org_id: int, staff_id: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "key": f"{kind}:{row_id}",  # the alarm's idempotency key: raised once, whoever sweeps
        "kind": kind,
        "level": "warning",
        "case_id": case_id,
        "org_id": org_id,
        "staff_id": staff_id,
        "data": {},
        "created_at": now,
    }


async def _raise_all(db: AsyncSession, alarms: list[dict[str, Any]]) -> None:
    """app.alarms.raise_alarm for many at once: one executemany that skips existing keys."""
    if not alarms:
        return
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    await db.execute(insert(Alarm).on_conflict_do_nothing(), alarms)


async def _sweep(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        await raise_due_alarms(db, utcnow())


async def _remind(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        item = await db.get(PerformanceItem, payload["item_id"])
        if item is None or item.status != "pending":
            return
        case = await db.get(Case, item.case_id)
        assert case is not None
        await notify_parties(
            db,
            case,
            REMIND_SMS,
            date=format_date(item.due_on, SMS_LOCALE),
            debtor=item.debtor,
            what=item.what,
        )


def setup(app: web.Application) -> None:
    register(app, "aftercare_sweep", _sweep)
    register(app, "performance_reminder", _remind)
