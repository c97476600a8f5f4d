"""Schemathesis against the real app on a real port, on both databases, with a coordinator's and
a court clerk's token: no answer is a server error, every status, content type and body is one
the OpenAPI document declares, and data the schema forbids is refused.

Schemathesis' calls are synchronous (requests), so they run in a worker thread while the app
keeps serving on the test's event loop. Generation is derandomized and bounded: the same requests
on every run, a few per operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.auth import create_api_token
from app.db import sessionmaker_key, transaction
from app.forms import MAX_ID
from app.settings import settings_key
from booking.demo import seed_availability
from booking.forms import EARLIEST_DATE, LATEST_DATE
from documents.models import CourtPacket
from tests.booking.setup_data import register_case, tomorrow_at
from tests.builders import filed
from tests.people import seed_ids

# Generated requests per operation and generation mode, for the token whose role the operation
# serves and for the other one (refused before any input is read, so a few are enough). About
# 10 s for both databases on an idle 2-core machine, 30 s on a busy one.
HOME_EXAMPLES, OTHER_EXAMPLES = 10, 2
HOME_ROLE = {
    "/api/v1/court/filings/{filing_id}/decision": "judge",
    "/api/v1/court/filings/{filing_id}/extension": "judge",
    "/api/v1/court/": "clerk",
    "/api/v1/cases": "coordinator",
    "/api/v1/appointments": "coordinator",
}
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CHECKS = {
    GenerationMode.POSITIVE: CONFORMANCE,
    GenerationMode.NEGATIVE: [*CONFORMANCE, negative_data_rejection],
}
# The tokens are sent as headers on every call: generating (or leaving out) the Authorization
# header too would make a "missing token" case that the sent token then contradicts.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
Explicit = tuple[str, str, dict[str, Any], int]  # method, path, Case(...) arguments, status


@dataclass(frozen=True)
class World:
    """What the fuzzer may aim at: ids that exist, and a token per role."""

    base_url: str
    tokens: dict[str, dict[str, str]]
    real_ids: dict[str, list[int]]  # id field or path parameter → ids that exist
    explicit: list[Explicit]


async def _token(app: web.Application, staff_id: int) -> dict[str, str]:
    async with transaction(app) as db:
        return {"Authorization": f"Bearer {await create_api_token(db, staff_id, 'fuzz')}"}


def _explicit(ids: dict[str, int], filing_id: int) -> list[Explicit]:
    """Requests that reach the answers random data seldom reaches: success, conflict, bounds."""
    start = tomorrow_at(9)
    slots = "/api/v1/mediators/{mediator_id}/slots"
    mediator = {"mediator_id": ids["user:mediator"]}
    booking = {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": start.isoformat(),
        "minutes": 60,
    }
    party = {"name": "张三", "phone": "13900001111", "id_number": "11010519491231002X"}
    application = {
        "org_id": ids["org:village"],
        "dispute_type": "lending",
        "description": "借款两万元到期未还，多次催要无果。",
        "applicant": party,
        "respondent": {**party, "id_number": "320584198503150023", "address": "3 号"},
    }
    far = "9999-12-31T23:30"  # overflowed the arithmetic on times
    filing = {"filing_id": filing_id}

    def step(name: str) -> Callable[[dict[str, Any], int], Explicit]:
        path = f"/api/v1/court/filings/{{filing_id}}/{name}"
        return lambda body, status: (
            "POST",
            path,
            {"path_parameters": filing, "body": body},
            status,
        )

    review, rule, extend = step("review"), step("decision"), step("extension")
    number = f"(2026)苏0509民特{filing_id}号"

    return [
        ("GET", "/api/v1/openapi.json", {}, 200),
        ("GET", "/api/v1/mediators", {}, 200),
        ("GET", slots, {"path_parameters": mediator, "query": {"from": str(start.date())}}, 200),
        ("GET", slots, {"path_parameters": mediator, "query": {"from": str(LATEST_DATE)}}, 200),
        ("GET", slots, {"path_parameters": mediator, "query": {"to": str(EARLIEST_DATE)}}, 422),
        ("GET", slots, {"path_parameters": mediator, "query": {"from": "0001-01-01"}}, 422),
        ("GET", slots, {"path_parameters": {"mediator_id": MAX_ID}}, 404),
        ("POST", "/api/v1/cases", {"body": application}, 201),
        # Text no database can store: NUL is dropped, a lone surrogate is not valid JSON.
        ("POST", "/api/v1/cases", {"body": {**application, "description": "借款\x00" * 6}}, 201),
        ("POST", "/api/v1/cases", {"body": {**application, "description": "借款\ud800" * 6}}, 400),
        ("POST", "/api/v1/appointments", {"body": booking}, 201),
        ("POST", "/api/v1/appointments", {"body": booking}, 409),
        ("POST", "/api/v1/appointments", {"body": {**booking, "starts_at": far}}, 422),
        ("GET", "/api/v1/court/inbox", {}, 200),
        ("GET", "/api/v1/court/filings/{filing_id}/packet", {"path_parameters": filing}, 200),
        rule({"decision": "confirmed"}, 409),  # not accepted yet
        review({"outcome": "x"}, 422),
        review({"outcome": "accepted"}, 422),  # the court's case number is required
        review({"outcome": "not_accepted"}, 422),  # so is the reason
        review({"outcome": "accepted", "court_case_number": number}, 200),
        review({"outcome": "supplement", "note": "身份证明"}, 409),
        extend({"approved_by": "院长", "reason": ""}, 422),
        extend({"approved_by": "院长", "reason": "需要核实"}, 200),
        extend({"approved_by": "院长", "reason": "需要核实"}, 409),  # once
        rule({"decision": "x"}, 422),
        rule({"decision": "dismissed"}, 422),  # reasons are required
        rule({"decision": "confirmed"}, 200),
        rule({"decision": "dismissed", "note": "已确认"}, 409),
    ]


async def _packet_assembled(app: web.Application, filing_id: int) -> None:
    """Waits for the app's worker to assemble the filing's packet (its job runs after commit)."""
    for _ in range(600):
        async with app[sessionmaker_key]() as db:
            done = await db.scalar(
                select(CourtPacket.id).where(
                    CourtPacket.filing_id == filing_id, CourtPacket.sha256.is_not(None)
                )
            )
        if done is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the packet was not assembled within a minute")


def _aim_at_real_ids(schema: schemathesis.BaseSchema, real_ids: dict[str, list[int]]) -> None:
    """Lets generated requests name existing ids too, so they get past the 404s. Only a valid id
    is swapped, for another valid one: a negative case stays negative."""

    def swapped(values: Any) -> st.SearchStrategy[Any]:
        if not isinstance(values, dict):
            return st.just(values)
        choices = {
            name: st.sampled_from([value, *real_ids[name]])
            for name, value in values.items()
            if name in real_ids and type(value) is int and 1 <= value <= MAX_ID
        }
        return st.fixed_dictionaries(choices).map(lambda chosen: {**values, **chosen})

    schema.hook("flatmap_path_parameters")(lambda _context, values: swapped(values))
    schema.hook("flatmap_body")(lambda _context, values: swapped(values))


def _fuzzer(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    auth: dict[str, str],
) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,  # the server's time is not the strategy's
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=auth, checks=CHECKS[mode])

    return run


def _home_role(path: str) -> str | None:
    return next((role for prefix, role in HOME_ROLE.items() if path.startswith(prefix)), None)


def _fuzz(world: World) -> list[str]:
    """Runs in a worker thread; returns one report per failing request kind."""
    schema = schemathesis.openapi.from_url(f"{world.base_url}/api/v1/openapi.json", config=CONFIG)
    _aim_at_real_ids(schema, world.real_ids)
    failures: list[str] = []
    for method, path, data, status in world.explicit:
        who = _home_role(path) or "coordinator"
        case = schema[path][method].Case(**data)
        try:
            response = case.call_and_validate(
                base_url=world.base_url, headers=world.tokens[who], checks=CONFORMANCE
            )
            assert response.status_code == status, response.text
        except (Exception, BaseExceptionGroup) as exc:  # collected: one run shows every failure
            failures.append(f"{who}: {method} {path} {data}\n{exc}")
    for result in schema.get_all_operations():
        operation = result.ok()
        home = _home_role(operation.path)
        for who, auth in world.tokens.items():
            examples = HOME_EXAMPLES if home in (None, who) else OTHER_EXAMPLES
            # Without parameters or a body there is nothing to make invalid.
            inputs = any(True for _ in operation.iter_parameters()) or len(operation.body) > 0
            for mode in CHECKS if inputs else [GenerationMode.POSITIVE]:
                try:
                    _fuzzer(operation, mode, examples, world.base_url, auth)()
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{who}: {operation.label} ({mode.value})\n{exc}")
    return failures


async def test_api_answers_as_documented(live_app: web.Application) -> None:
    ids = await seed_ids(live_app)
    await seed_availability(live_app)
    await register_case(live_app, ids["case"], ids["user:coordinator"])
    filing_id = await filed(live_app, ids)  # a second case, through the real services
    await _packet_assembled(live_app, filing_id)
    world = World(
        base_url=live_app[settings_key].base_url,
        tokens={
            "coordinator": await _token(live_app, ids["user:coordinator"]),
            "clerk": await _token(live_app, ids["user:clerk"]),
            "judge": await _token(live_app, ids["user:judge"]),
        },
        real_ids={
            "mediator_id": [ids["user:mediator"], ids["user:mediator2"], ids["user:expert"]],
            "case_id": [ids["case"]],
            "org_id": [ids["org:village"], ids["org:town"]],
            "filing_id": [filing_id],
        },
        explicit=_explicit(ids, filing_id),
    )
    failures = await asyncio.get_running_loop().run_in_executor(None, _fuzz, world)
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)
