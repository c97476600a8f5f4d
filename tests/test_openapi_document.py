"""The OpenAPI document against the router and the validators: every /api/v1 route is documented
with its path parameters, every error answer uses the Error schema, and every bound in a request
schema is the one its validator enforces (read from the same constant, and checked at the
boundary where the validator cannot import it)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from app.auth import Principal
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.factory import create_app
from app.forms import (
    ADDRESS_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_MIN_LENGTH,
    MAX_ID,
    NAME_MAX_LENGTH,
    parse_id,
)
from app.idempotency import MAX_KEY_LENGTH
from app.openapi import ALWAYS, PREFIX, spec
from app.settings import Settings
from booking.forms import (
    DATE_OUT_OF_RANGE,
    EARLIEST_DATE,
    LATEST_DATE,
    PARTY_ROLES,
    booking_json,
    parse_date,
)
from booking.intake import DISPUTE_TYPES, check_application, check_party
from booking.slots import DEFAULT_MINUTES, LENGTHS, valid_length
from documents import court_review
from documents.models import CourtFiling

_PARAMETER = re.compile(r"{([^}]+)}")
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    """Built, never started: the router and the document need no database."""
    var = tmp_path_factory.mktemp("openapi")
    return create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{var}/unused.db", var_dir=var, mode="development"
        )
    )


@pytest.fixture(scope="module")
def document(built: web.Application) -> dict[str, Any]:
    return spec(built)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_api_route_is_documented_and_nothing_else(built, document) -> None:
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in built.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(f"{PREFIX}/")
        and route.method != "HEAD"  # aiohttp adds HEAD to every GET
    }
    documented = {(method, path) for method, path, _operation in operations(document)}
    assert routed == documented
    assert all(path.startswith(f"{PREFIX}/") for _method, path in documented)


def test_every_path_parameter_is_declared(document) -> None:
    for method, path, operation in operations(document):
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
        assert set(declared) == set(_PARAMETER.findall(path)), (method, path)
        for parameter in declared.values():
            assert parameter["required"] is True
            assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def test_operations_are_named_and_answer_errors_with_the_error_schema(document) -> None:
    ids = [operation["operationId"] for _method, _path, operation in operations(document)]
    assert len(ids) == len(set(ids))
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (method, path)
        assert {str(status) for status in ALWAYS} <= set(responses), (method, path)
        for code, response in responses.items():
            if not code.startswith("2"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(responses), (method, path)


def _walk(value: Any) -> list[dict[str, Any]]:
    """Every schema object in a part of the document."""
    found = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return document["paths"][f"{PREFIX}{path}"][method]


def _body(document: dict[str, Any], path: str) -> dict[str, Any]:
    operation = _operation(document, path, "post")
    return operation["requestBody"]["content"]["application/json"]["schema"]


def test_ids_are_bounded_as_parse_id_bounds_them(document) -> None:
    integer_ids = [
        s for s in _walk(document["paths"]) if s.get("type") == "integer" and "maximum" in s
    ]
    assert integer_ids and all(s == {**s, "minimum": 1, "maximum": MAX_ID} for s in integer_ids)
    assert parse_id(str(MAX_ID)) == MAX_ID and parse_id(str(MAX_ID + 1)) is None
    assert parse_id("1") == 1 and parse_id("0") is None


def test_minutes_are_the_lengths_the_validators_accept(document) -> None:
    minutes = [s for s in _walk(document["paths"]) if s.get("enum") == list(LENGTHS)]
    assert len(minutes) >= 3  # the query, the booking body, both answers
    assert all(s["type"] == "integer" and s["default"] == DEFAULT_MINUTES for s in minutes)
    assert [m for m in range(0, 1000) if valid_length(m)] == list(LENGTHS)


def test_dates_are_bounded_by_the_date_constants(document) -> None:
    slots = _operation(document, "/mediators/{mediator_id}/slots", "get")
    for parameter in (
        p for p in slots["parameters"] if p["in"] == "query" and p["name"] != "minutes"
    ):
        assert parameter["schema"]["format"] == "date"
        assert EARLIEST_DATE.isoformat() in parameter["schema"]["description"]
        assert LATEST_DATE.isoformat() in parameter["schema"]["description"]
    assert EARLIEST_DATE.isoformat() in DATE_OUT_OF_RANGE
    assert LATEST_DATE.isoformat() in DATE_OUT_OF_RANGE
    for inside in (EARLIEST_DATE, LATEST_DATE):
        assert parse_date(inside.isoformat()) == inside
    for outside in (EARLIEST_DATE - timedelta(days=1), LATEST_DATE + timedelta(days=1)):
        assert parse_date(outside.isoformat()) is None


def test_the_application_schema_is_what_check_application_enforces(document) -> None:
    body = _body(document, "/cases")
    assert set(body["required"]) >= {"org_id", "dispute_type", "description", *PARTY_ROLES}
    assert body["properties"]["dispute_type"]["enum"] == list(DISPUTE_TYPES)
    description = body["properties"]["description"]
    assert (description["minLength"], description["maxLength"]) == (
        DESCRIPTION_MIN_LENGTH,
        DESCRIPTION_MAX_LENGTH,
    )
    party = body["properties"]["applicant"]
    assert party["properties"]["name"]["maxLength"] == NAME_MAX_LENGTH
    assert party["properties"]["address"]["maxLength"] == ADDRESS_MAX_LENGTH


def _party_errors(name: str, address: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    fields = {"name": name, "phone": "13900001111", "id_number": "11010519491231002X"}
    check_party("", "applicant", {**fields, "address": address}, errors)
    return errors


async def _description_errors(length: int) -> set[str]:
    with pytest.raises(ValidationFailed) as failed:
        # Without org_id the check reads no database.
        await check_application(None, {"description": "x" * length})  # type: ignore[arg-type]
    return set(failed.value.fields)


async def test_app_services_enforces_the_documented_lengths() -> None:
    # app/services.py spells these limits itself; this holds it to the constants.
    assert _party_errors("名" * NAME_MAX_LENGTH, "址" * ADDRESS_MAX_LENGTH) == {}
    assert set(_party_errors("名" * (NAME_MAX_LENGTH + 1), "")) == {"name"}
    assert set(_party_errors("名", "址" * (ADDRESS_MAX_LENGTH + 1))) == {"address"}
    for good in (DESCRIPTION_MIN_LENGTH, DESCRIPTION_MAX_LENGTH):
        assert "description" not in await _description_errors(good)
    for bad in (DESCRIPTION_MIN_LENGTH - 1, DESCRIPTION_MAX_LENGTH + 1):
        assert "description" in await _description_errors(bad)


def test_the_booking_schema_is_what_booking_json_enforces(document) -> None:
    body = _body(document, "/appointments")
    assert set(body["required"]) == {"case_id", "mediator_id", "starts_at"}
    good = {"case_id": 1, "mediator_id": MAX_ID, "starts_at": "2026-11-20T09:00:00+08:00"}
    assert booking_json(good)[1].minutes == DEFAULT_MINUTES
    for wrong in ({"case_id": MAX_ID + 1}, {"minutes": max(LENGTHS) + 30}, {"starts_at": "x"}):
        with pytest.raises(ValidationFailed) as failed:
            booking_json({**good, **wrong})
        assert set(failed.value.fields) == set(wrong)


def test_the_idempotency_key_is_bounded_like_the_header_check(document) -> None:
    for path in ("/cases", "/appointments"):
        (header,) = _operation(document, path, "post")["parameters"]
        assert header["name"] == "Idempotency-Key"
        assert header["schema"]["maxLength"] == MAX_KEY_LENGTH


def test_the_court_step_schemas_are_what_the_services_enforce(document) -> None:
    ruling = _body(document, "/court/filings/{filing_id}/decision")
    assert ruling["properties"]["decision"]["enum"] == list(court_review.DECISIONS)
    assert ruling["properties"]["note"]["maxLength"] == court_review.NOTE_MAX_LENGTH
    review = _body(document, "/court/filings/{filing_id}/review")
    assert review["properties"]["outcome"]["enum"] == list(court_review.REVIEWS)
    number = review["properties"]["court_case_number"]["maxLength"]
    assert number == court_review.NUMBER_MAX_LENGTH
    extension = _body(document, "/court/filings/{filing_id}/extension")
    approver = extension["properties"]["approved_by"]["maxLength"]
    assert approver == court_review.APPROVER_MAX_LENGTH


async def test_the_judge_s_ruling_is_checked_before_any_database_work() -> None:
    # A filing already decided gets past every check of the ruling to the state check, which
    # refuses before touching the database; a wrong ruling is refused before that.
    judge = Principal(kind="staff", staff_id=1, role="judge", org_id=1)
    decided = CourtFiling(court_org_id=1, status="confirmed")
    longest = "x" * court_review.NOTE_MAX_LENGTH
    with pytest.raises(Conflict):
        await court_review.decide(None, judge, decided, "dismissed", longest)  # type: ignore[arg-type]
    for decision, note in (
        ("dismissed", longest + "x"),
        ("dismissed", "  "),
        ("maybe", "n"),
        (1, "n"),
        ("confirmed", 2),
        ("confirmed", "a\x00b"),
    ):
        with pytest.raises(ValidationFailed):
            await court_review.decide(None, judge, decided, decision, note)  # type: ignore[arg-type]
    clerk = Principal(kind="staff", staff_id=2, role="court_clerk", org_id=1)
    with pytest.raises(PermissionDenied):
        await court_review.decide(None, clerk, decided, "confirmed", "")  # type: ignore[arg-type]
