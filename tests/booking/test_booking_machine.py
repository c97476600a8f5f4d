"""A Hypothesis state machine over booking, on both databases: any sequence of single and panel
bookings, reschedules, cancellations, no-shows and duty-clinic places (taken and cancelled)
leaves no person with two active bookings that overlap, no day over a person's maximum, every
active appointment holding exactly its cells, no duty session over its capacity, and a failed
reschedule leaving the old booking exactly as it was."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, transaction
from app.errors import DomainError
from app.settings import Settings, settings_key
from booking import clinic, services
from booking.models import (
    Appointment,
    AppointmentMember,
    BookingProfile,
    DutyPlace,
    DutySession,
    SlotClaim,
    StaffDay,
)
from booking.search import local_day
from tests.booking.clinic_data import duty_session
from tests.booking.desk_data import who
from tests.booking.setup_data import register_case, tomorrow_at
from tests.booking.test_lifecycle_machine import World

EXAMPLES, STEPS = 8, 120  # ≥ 500 steps in all, a few tens of seconds per database
DAILY_MAX = 4
MACHINE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PEOPLE = ("mediator", "mediator2")
START = st.tuples(
    st.integers(0, 2), st.sampled_from([9, 10, 11, 14, 15, 16]), st.sampled_from([0, 30])
)
LENGTH = st.sampled_from([30, 60, 90])


def moment(start: tuple[int, int, int]) -> datetime:
    day, hour, minute = start
    return tomorrow_at(hour, minute) + timedelta(days=day)


class BookingWorld(World):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.steps = 0
        self.tokens: list[str] = []
        self.run(register_case(self.app, self.ids["case"], self.ids["user:coordinator"]))
        self.sessions = [
            self.run(duty_session(self.app, self.ids, tomorrow_at(9), capacity=3)),
            self.run(duty_session(self.app, self.ids, tomorrow_at(14), capacity=2)),
        ]
        self.run(self._profiles())

    async def _profiles(self) -> None:
        async with transaction(self.app) as db:
            db.add(BookingProfile(staff_id=self.ids["user:mediator"], daily_max=DAILY_MAX))
            db.add(BookingProfile(staff_id=self.ids["user:mediator2"], buffer_minutes=30))


def machine(world: BookingWorld) -> type[RuleBasedStateMachine]:
    app, ids = world.app, world.ids
    case_id = ids["case"]
    coordinator = who(ids, "coordinator")

    class Booking(RuleBasedStateMachine):
        def attempt(self, work: Any) -> bool:

            async def go() -> bool:
                try:
                    async with transaction(app) as db:
                        await work(db)
                except DomainError:
                    return False
                return True

            return bool(world.run(go()))

        def booked(self, pick: int) -> Appointment | None:
            async def find() -> Appointment | None:
                async with app[sessionmaker_key]() as db:
                    rows = list(
                        await db.scalars(
                            select(Appointment)
                            .where(Appointment.status == "booked")
                            .order_by(Appointment.id)
                        )
                    )
                return rows[pick % len(rows)] if rows else None

            return world.run(find())  # type: ignore[no-any-return]

        def _book(
            self, mediator: str, start: tuple[int, int, int], minutes: int, panel: bool
        ) -> None:
            experts = [ids["user:mediator2"]] if panel else []

            async def work(db: AsyncSession) -> None:
                plan = await services.check_booking(
                    db,
                    coordinator,
                    case_id,
                    ids[f"user:{mediator}"],
                    moment(start),
                    minutes,
                    expert_ids=experts,
                )
                await services.do_book(db, app[settings_key], coordinator, plan)

            self.attempt(work)

        @rule(person=st.sampled_from(PEOPLE), start=START, minutes=LENGTH)
        def book(self, person: str, start: tuple[int, int, int], minutes: int) -> None:
            self._book(person, start, minutes, panel=False)

        @rule(start=START, minutes=LENGTH)
        def panel_book(self, start: tuple[int, int, int], minutes: int) -> None:
            self._book("mediator", start, minutes, panel=True)

        @rule(pick=st.integers(0, 50), start=START)
        def reschedule(self, pick: int, start: tuple[int, int, int]) -> None:
            before = self.booked(pick)
            if before is None:
                return
            cells = world.run(claims_of(app, before.id))

            async def work(db: AsyncSession) -> None:
                case, appointment = await services.check_reschedule(
                    db, app[settings_key], coordinator, case_id, before.id, moment(start)
                )
                await services.do_reschedule(db, coordinator, case, appointment, moment(start))

            if not self.attempt(work):
                after = world.run(appointment_of(app, before.id))
                assert (after.starts_at, after.ends_at, after.sequence, after.status) == (
                    before.starts_at,
                    before.ends_at,
                    before.sequence,
                    before.status,
                )
                assert world.run(claims_of(app, before.id)) == cells

        @rule(pick=st.integers(0, 50))
        def cancel(self, pick: int) -> None:
            target = self.booked(pick)
            if target is None:
                return

            async def work(db: AsyncSession) -> None:
                case, appointment = await services.check_change(
                    db, app[settings_key], coordinator, case_id, target.id
                )
                await services.do_cancel(db, coordinator, case, appointment)

            self.attempt(work)

        @rule(pick=st.integers(0, 50))
        def no_show(self, pick: int) -> None:
            # The check refuses appointments not yet begun; the write itself is what is tested:
            # the time stays held, so claims and the day's count stay.
            target = self.booked(pick)
            if target is None:
                return

            async def work(db: AsyncSession) -> None:
                case, appointment = await services.check_change(
                    db, app[settings_key], coordinator, case_id, target.id
                )
                await services.do_no_show(db, coordinator, case, appointment)

            self.attempt(work)

        @rule(session=st.integers(0, 1), phone=st.integers(0, 5))
        def capacity_book(self, session: int, phone: int) -> None:
            async def work(db: AsyncSession) -> None:
                _place, _session, token = await clinic.do_book_place(
                    db, app[settings_key], world.sessions[session], "测试", f"139{phone:08d}", None
                )
                world.tokens.append(token)

            self.attempt(work)

        @rule(pick=st.integers(0, 50))
        def capacity_cancel(self, pick: int) -> None:
            if world.tokens:
                token = world.tokens[pick % len(world.tokens)]
                self.attempt(lambda db: clinic.do_cancel_place(db, token))

        @invariant()
        def holds(self) -> None:  # runs after every step, so it counts them
            world.steps += 1
            world.run(check(app))

    return Booking


async def claims_of(app: Any, appointment_id: int) -> list[tuple[int, datetime]]:
    async with app[sessionmaker_key]() as db:
        rows = await db.execute(
            select(SlotClaim.staff_id, SlotClaim.cell_start)
            .where(SlotClaim.appointment_id == appointment_id)
            .order_by(SlotClaim.staff_id, SlotClaim.cell_start)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def appointment_of(app: Any, appointment_id: int) -> Appointment:
    async with app[sessionmaker_key]() as db:
        found = await db.get(Appointment, appointment_id)
    assert found is not None
    return found


async def rows(db: AsyncSession, *columns: Any, where: Any = True) -> list[Any]:
    return list((await db.execute(select(*columns).where(where))).all())


async def check(app: Any) -> None:
    async with app[sessionmaker_key]() as db:
        active = await rows(
            db,
            AppointmentMember.staff_id,
            Appointment.id,
            Appointment.starts_at,
            Appointment.ends_at,
            where=(Appointment.id == AppointmentMember.appointment_id)
            & Appointment.status.in_(("booked", "no_show")),
        )
        claims = Counter(a for (a,) in await rows(db, SlotClaim.appointment_id))
        buffers = dict(await rows(db, BookingProfile.staff_id, BookingProfile.buffer_minutes))
        maxima = dict(await rows(db, BookingProfile.staff_id, BookingProfile.daily_max))
        days = {
            (s, d): n
            for s, d, n in await rows(db, StaffDay.staff_id, StaffDay.day, StaffDay.booked)
        }
        sessions = await rows(db, DutySession.id, DutySession.capacity, DutySession.booked)
        places = await rows(
            db, DutyPlace.session_id, DutyPlace.place, where=DutyPlace.status == "booked"
        )
    by_person: dict[int, list[tuple[datetime, datetime]]] = {}
    people_of: dict[int, list[int]] = {}
    per_day: Counter[tuple[int, Any]] = Counter()
    for staff_id, appointment_id, starts_at, ends_at in active:
        by_person.setdefault(staff_id, []).append((starts_at, ends_at))
        people_of.setdefault(appointment_id, []).append(staff_id)
        per_day[(staff_id, local_day(starts_at, "Asia/Shanghai"))] += 1
    for spans in by_person.values():  # no two active bookings of one person overlap
        spans.sort()
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert set(claims) == set(people_of)  # cancelled appointments hold no cells
    spans_of = {a: (s, e) for _, a, s, e in active}
    for appointment_id, staff_ids in people_of.items():
        starts_at, ends_at = spans_of[appointment_id]
        buffer = max(buffers.get(s, 0) for s in staff_ids)
        cells = (ends_at - starts_at) // timedelta(minutes=30) + -(-buffer // 30)
        assert claims[appointment_id] == cells * len(staff_ids), appointment_id
    for (staff_id, day), count in per_day.items():  # the day counter is exact and within max
        assert days.get((staff_id, day), 0) == count, (staff_id, day, days)
        most = maxima.get(staff_id)
        assert most is None or count <= most
    assert sum(days.values()) == sum(per_day.values())
    for session_id, capacity, booked in sessions:  # no duty session over its capacity
        taken = [p for s, p in places if s == session_id]
        assert booked == len(taken) <= capacity
        assert len(set(taken)) == len(taken) and all(0 <= p < capacity for p in taken)


def test_no_sequence_breaks_the_booking_invariants(settings: Settings) -> None:
    world = BookingWorld(settings)
    try:
        run_state_machine_as_test(machine(world), settings=MACHINE_SETTINGS)
    finally:
        world.close()
    assert world.steps >= 500, world.steps
