"""A Hypothesis state machine over the case life cycle, on both databases: any sequence of
registering, refusing, referring, dispatching, accepting, declining, expiring, escalating and
booking leaves every move one the transition table allows, the timeline consistent with the
status, and the case owned by exactly one organisation (the receiver while dispatched)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, transaction, utcnow
from app.errors import DomainError
from app.factory import create_app
from app.lifecycle import CaseStatus, allowed
from app.models import Case, CaseEvent, Organization
from app.settings import Settings, settings_key
from booking import dispatch, services
from booking.demo import seed_availability
from booking.desk_actions import ACTIONS
from booking.models import Dispatch
from tests.booking.desk_data import who
from tests.booking.setup_data import tomorrow_at
from tests.builders import applications
from tests.people import seed_ids

EXAMPLES, STEPS = 25, 15  # about 15 s per database
RARELY = 6
MACHINE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
TARGETS = {
    "village": lambda ids: {"to_org_id": str(ids["org:village"])},
    "mediator": lambda ids: {"to_staff_id": str(ids["user:mediator"])},
    "mediator2": lambda ids: {"to_staff_id": str(ids["user:mediator2"])},
}


class World:
    """The started app on its own event loop (Hypothesis rules are synchronous)."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(settings)
        self.runner = web.AppRunner(self.app)
        self.run(self.runner.setup())
        self.ids = self.run(seed_ids(self.app))
        self.run(seed_availability(self.app))

    def run(self, coroutine: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.runner.cleanup())
        self.loop.close()


def triaged(machine: Any) -> bool:
    return bool(machine.status != CaseStatus.APPLIED)


def machine(world: World) -> type[RuleBasedStateMachine]:
    app, ids = world.app, world.ids

    class LifeCycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            (self.case_id,) = world.run(applications(app, ids["org:town"]))
            self.status = CaseStatus.APPLIED.value

        def attempt(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> None:
            async def go() -> None:
                try:
                    async with transaction(app) as db:
                        await work(db)
                except DomainError:
                    pass  # refused: the invariants check that nothing changed half-way

            world.run(go())

        def act(self, name: str, username: str, data: dict[str, str] | None = None) -> None:
            action = ACTIONS[name]
            self.attempt(
                lambda db: action(
                    db, app[settings_key], who(ids, username), self.case_id, data or {}, utcnow()
                )
            )

        @precondition(lambda self: self.status == CaseStatus.APPLIED)
        @rule(risk=st.sampled_from(["red", "yellow", "blue"]))
        def register(self, risk: str) -> None:
            self.act(
                "register", "coordinator", {"risk": risk, "complexity": "general", "tier": "town"}
            )

        # Refusal and referral end a case: tried seldom, so that runs get deep enough.
        @rule(roll=st.integers(0, RARELY))
        def refuse(self, roll: int) -> None:
            if roll == 0:
                self.act("refuse", "coordinator", {"reason": "不属于调解范围", "advice": "请起诉"})

        @rule(channel=st.sampled_from(["court", "police"]), roll=st.integers(0, RARELY))
        def refer(self, channel: str, roll: int) -> None:
            if roll == 0:
                self.act("refer", "coordinator", {"target": channel, "note": "分流"})

        @precondition(triaged)
        @rule(
            dispatcher=st.sampled_from(["coordinator", "admin"]), to=st.sampled_from(list(TARGETS))
        )
        def dispatch(self, dispatcher: str, to: str) -> None:
            self.act("dispatch", dispatcher, TARGETS[to](ids))

        @precondition(triaged)
        @rule(receiver=st.sampled_from(["mediator", "mediator2", "coordinator"]))
        def accept(self, receiver: str) -> None:
            self.act("accept", receiver)

        @precondition(triaged)
        @rule(receiver=st.sampled_from(["mediator", "mediator2"]))
        def decline(self, receiver: str) -> None:
            self.act("decline", receiver, {"reason": "无法接收"})

        @precondition(triaged)
        @rule()
        def expire(self) -> None:
            async def work(db: AsyncSession) -> None:
                pending = await dispatch.pending_dispatch(db, self.case_id)
                if pending is not None:
                    await dispatch.expire_dispatch(db, pending.id, now=utcnow() + timedelta(days=1))

            self.attempt(work)

        @precondition(triaged)
        @rule(by=st.sampled_from(["coordinator", "admin", "mediator", "mediator2"]))
        def escalate(self, by: str) -> None:
            self.act("escalate", by, {"reason": "上交"})

        @precondition(triaged)
        @rule(hour=st.sampled_from([9, 10, 11, 14, 15, 16]))
        def book(self, hour: int) -> None:
            async def work(db: AsyncSession) -> None:
                principal = who(ids, "coordinator")
                plan = await services.check_booking(
                    db, principal, self.case_id, ids["user:mediator"], tomorrow_at(hour), 60
                )
                await services.do_book(db, app[settings_key], principal, plan)

            self.attempt(work)

        @invariant()
        def consistent(self) -> None:
            self.status = world.run(check(app, self.case_id))

    return LifeCycle


async def check(app: web.Application, case_id: int) -> str:
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None
        moves = [
            e.data
            for e in await db.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
            if "to" in e.data
        ]
        pending = list(
            await db.scalars(
                select(Dispatch).where(Dispatch.case_id == case_id, Dispatch.answer.is_(None))
            )
        )
        owner = await db.get(Organization, case.org_id)
    assert all(allowed(m["from"], m["to"]) for m in moves), moves
    assert case.status == (moves[-1]["to"] if moves else CaseStatus.APPLIED)
    assert owner is not None and owner.kind == "mediation"  # one owner, always
    if case.status == CaseStatus.DISPATCHED:
        assert len(pending) == 1 and pending[0].to_org_id == case.org_id
    else:
        assert pending == []
    return case.status


def test_no_sequence_leaves_the_life_cycle(settings: Settings) -> None:
    world = World(settings)
    try:
        run_state_machine_as_test(machine(world), settings=MACHINE_SETTINGS)
    finally:
        world.close()
