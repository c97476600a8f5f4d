"""The 30 days for applying, and the court's 15 days, counted as 民事诉讼法 art. 85 counts: from
the day after, to 24:00 of the last day in Beijing, a rest day giving way to the next working
day. At their edges: the first and last minute of the last day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.db import sessionmaker_key, transaction, utcnow
from app.errors import Conflict
from app.jobs import run_pending
from app.models import Case, Job, Message
from app.settings import _dates
from documents import court
from documents.court_clocks import (
    BEIJING,
    FILING_REMINDER,
    FILING_REMINDER_BEFORE,
    WEEKENDS_ONLY,
    RestDays,
    filing_closes,
    last_day,
    ruling_due,
)
from documents.models import Agreement, CourtFiling
from tests.builders import applied, effective, staff
from tests.people import login, open_party_session, post_form

MINUTE = timedelta(minutes=1)


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_the_day_of_effect_does_not_count_and_the_last_day_runs_to_midnight() -> None:
    took_effect = beijing(2026, 11, 23, 9, 0)  # a Monday
    closes = filing_closes(took_effect, WEEKENDS_ONLY)
    assert closes == beijing(2026, 12, 24, 0, 0)  # 24:00 of Wednesday 23 December
    assert closes.tzinfo == UTC and last_day(closes) == date(2026, 12, 23)
    # The old rule (30 × 24 h from the instant) closed at 09:00 of the last day.
    assert took_effect + timedelta(days=30) < closes - timedelta(hours=14)


def test_the_beijing_date_counts_not_the_utc_one() -> None:
    late = beijing(2026, 11, 23, 23, 30)  # 15:30 UTC on the 23rd
    after_midnight = beijing(2026, 11, 24, 0, 30)  # still the 23rd in UTC
    assert last_day(filing_closes(late, WEEKENDS_ONLY)) == date(2026, 12, 23)
    assert last_day(filing_closes(after_midnight, WEEKENDS_ONLY)) == date(2026, 12, 24)


def test_a_last_day_on_a_rest_day_gives_way_to_the_next_working_day() -> None:
    # 30 days after 20 November is Sunday 20 December: Monday 21 is the last day.
    assert last_day(filing_closes(beijing(2026, 11, 20, 10), WEEKENDS_ONLY)) == date(2026, 12, 21)
    holidays = RestDays(holidays=frozenset(_dates("2026-12-21..2026-12-22")))
    assert last_day(filing_closes(beijing(2026, 11, 20, 10), holidays)) == date(2026, 12, 23)
    # A Saturday made a working day (调休) is a working day.
    worked = RestDays(workdays=frozenset({date(2026, 12, 19)}))
    assert last_day(filing_closes(beijing(2026, 11, 19, 10), worked)) == date(2026, 12, 19)


def test_the_ruling_is_due_15_days_after_acceptance_or_25_when_extended() -> None:
    accepted = beijing(2026, 12, 1, 15, 0)  # a Tuesday
    assert last_day(ruling_due(accepted, WEEKENDS_ONLY)) == date(2026, 12, 16)
    assert last_day(ruling_due(accepted, WEEKENDS_ONLY, extended=True)) == date(2026, 12, 28)


@pytest.mark.parametrize("text", ["2026-13-01", "2026-10-01..x"])
def test_a_wrong_holiday_setting_is_refused_at_start(text: str) -> None:
    with pytest.raises(ValueError):
        _dates(text)


async def _took_effect(app, demo, at: datetime) -> Agreement:
    agreement = await effective(app, demo)
    async with transaction(app) as db:
        await db.execute(
            update(Agreement).where(Agreement.id == agreement.id).values(effective_at=at)
        )
    return agreement


async def _file(app, demo, agreement: Agreement, now: datetime) -> None:
    async with transaction(app) as db:
        case = await db.get(Case, agreement.case_id)
        row = await db.get(Agreement, agreement.id)
        assert case is not None and row is not None
        mediator = staff(demo, "mediator", "mediator", "town")
        await court.do_file(db, mediator, case, row, demo["org:court"], now=now)


async def test_filing_in_the_last_minute_of_the_last_day_is_accepted(app, demo) -> None:
    agreement = await _took_effect(app, demo, beijing(2026, 11, 23, 9, 0))
    await applied(app, demo, agreement)
    with pytest.raises(Conflict) as refused:
        await _file(app, demo, agreement, beijing(2026, 12, 24, 0, 0))  # the first minute after
    assert "2026" in str(refused.value.params["day"])
    await _file(app, demo, agreement, beijing(2026, 12, 24, 0, 0) - MINUTE)  # 23:59 on the 23rd


async def test_the_parties_see_until_when_they_may_apply(app, client, demo) -> None:
    agreement = await _took_effect(app, demo, beijing(2026, 11, 23, 9, 0))
    await open_party_session(client, app, agreement.case_id)
    page = await (await client.get(f"/cases/{agreement.case_id}")).text()
    assert 'id="filing-closes"' in page and "2026-12-23T16:00:00+00:00" in page
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{agreement.case_id}")).text()
    assert 'id="filing-closes"' in page and 'id="file-for-confirmation"' in page


async def test_a_subject_the_court_does_not_accept_is_refused_with_the_reason(
    app, client, demo
) -> None:
    agreement = await effective(app, demo)
    await login(client, "mediator")
    path = f"/cases/{agreement.case_id}/filing"
    for subject, status, needle in (
        ("personal_status", 409, "婚姻"),
        ("ownership", 409, "确权"),
        ("", 422, "请说明协议处理的事项"),
    ):
        form = {"court_org_id": str(demo["org:court"]), "subject": subject}
        response = await post_form(client, path, form, allow_redirects=False)
        page = await response.text()
        assert response.status == status and 'data-failed="filing"' in page, subject
        assert needle in page, subject
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count(CourtFiling.id))) == 0
    await applied(app, demo, agreement)
    form = {"court_org_id": str(demo["org:court"]), "subject": "ordinary"}
    assert (await post_form(client, path, form, allow_redirects=False)).status == 303


async def test_the_parties_are_reminded_before_the_30_days_end_unless_filed(app, demo) -> None:
    agreement = await effective(app, demo)
    async with app[sessionmaker_key]() as db:
        job = await db.scalar(select(Job).where(Job.kind == FILING_REMINDER))
        assert job is not None and job.payload == {"agreement_id": agreement.id}
        took_effect = await db.scalar(
            select(Agreement.effective_at).where(Agreement.id == agreement.id)
        )
        assert took_effect is not None
        closes = filing_closes(took_effect, WEEKENDS_ONLY)
        assert abs(job.run_after - (closes - FILING_REMINDER_BEFORE)) < MINUTE
        before = await db.scalar(select(func.max(Message.id))) or 0
    day = f"{last_day(closes).month}月{last_day(closes).day}日"
    reminders = select(Message.body).where(
        Message.id > before, Message.body.contains(day), Message.body.contains("咨询调解员")
    )
    await court.remind_to_file(app, job.payload)
    await run_pending(app)  # the SMS jobs
    async with app[sessionmaker_key]() as db:
        texts = list(await db.scalars(reminders))
    assert len(texts) == 3, texts  # the two parties and the mediator
    await applied(app, demo, agreement)
    await _file(app, demo, agreement, utcnow())
    await court.remind_to_file(app, job.payload)
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        assert len(list(await db.scalars(reminders))) == 3
