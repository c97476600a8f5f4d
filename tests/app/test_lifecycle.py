"""The case life cycle: one table, one function, and nobody writes a case's status by hand."""

from __future__ import annotations

import ast
import asyncio

import pytest
from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.errors import Conflict
from app.lifecycle import FINISHED, OPEN, TRANSITIONS, CaseStatus, advance, allowed
from app.models import Case, CaseEvent
from app.settings import ROOT
from tests.builders import applications

SOURCES = ("app", "booking", "rooms", "documents")


def _writes_case_status(tree: ast.AST) -> list[int]:
    """Line numbers of `<x>.status = ...` on something called case, and of
    `update(Case)...values(status=...)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if (
                        isinstance(element, ast.Attribute)
                        and element.attr == "status"
                        and "case" in ast.unparse(element.value).lower()
                    ):
                        lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and any(keyword.arg == "status" for keyword in node.keywords)
            and "update(Case)" in ast.unparse(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def test_no_feature_assigns_a_case_status_directly() -> None:
    offenders = []
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "app" / "lifecycle.py" or "migrations" in path.parts:
                continue
            for line in _writes_case_status(ast.parse(path.read_text(encoding="utf-8"))):
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == []


def test_the_scan_finds_a_direct_write() -> None:
    """The scan above would catch the ways a status has been written by hand before."""
    sample = (
        "case.status = 'closed'\n"
        "case.mediator_id, case.status = 1, 'scheduled'\n"
        "await db.execute(update(Case).where(Case.id == 1).values(status='x'))\n"
    )
    assert _writes_case_status(ast.parse(sample)) == [1, 2, 3]
    assert _writes_case_status(ast.parse("agreement.status = 'void'\n")) == []


def test_every_status_has_a_row_and_finished_statuses_lead_only_to_closed() -> None:
    assert set(TRANSITIONS) == set(CaseStatus)
    for status in FINISHED:
        assert TRANSITIONS[status] <= {CaseStatus.CONCLUDED, CaseStatus.CLOSED}
    assert not OPEN & FINISHED
    assert allowed("applied", "registered")
    assert not allowed("applied", "signed")
    assert not allowed("closed", "applied")
    assert not allowed("nonsense", "applied")


def _reachable(start: CaseStatus) -> set[CaseStatus]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_is_reachable_from_an_application_and_every_open_case_can_end() -> None:
    assert _reachable(CaseStatus.APPLIED) == set(CaseStatus)
    for status in OPEN:
        assert _reachable(status) & FINISHED


@pytest.mark.parametrize("moves", [("registered",), ("registered", "scheduled", "agreement")])
async def test_advance_moves_once_and_records_the_event(app: web.Application, demo, moves) -> None:
    (case_id,) = await applications(app, demo["org:town"])
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        for status in moves:
            await advance(db, case, CaseStatus(status), "staff:1")
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None and case.status == moves[-1]
        kinds = list(await db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
        assert kinds[-len(moves) :] == list(moves)


async def test_advance_refuses_a_move_the_table_forbids(app: web.Application, demo) -> None:
    (case_id,) = await applications(app, demo["org:town"])
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        with pytest.raises(Conflict):
            await advance(db, case, CaseStatus.SIGNED, "staff:1")


async def test_of_concurrent_moves_from_one_status_exactly_one_happens(
    app: web.Application, demo
) -> None:
    """Two sessions read the case as `applied`; one registers it, one refuses it."""
    (case_id,) = await applications(app, demo["org:town"])
    factory = app[sessionmaker_key]
    outcomes: list[str] = []

    async def move(target: CaseStatus) -> None:
        async with factory() as db:
            try:
                async with db.begin():
                    case = await db.get(Case, case_id)
                    assert case is not None and case.status == "applied"
                    await asyncio.sleep(0.05)  # both have read `applied` before either writes
                    await advance(db, case, target, "staff:1")
                outcomes.append(str(target))
            except Conflict:
                outcomes.append("conflict")

    await asyncio.gather(move(CaseStatus.REGISTERED), move(CaseStatus.REFUSED))
    assert sorted(outcomes)[0] == "conflict" and len(set(outcomes)) == 2
    async with factory() as db:
        case = await db.get(Case, case_id)
        assert case is not None and case.status in outcomes
        events = await db.scalars(
            select(CaseEvent.kind).where(
                CaseEvent.case_id == case_id, CaseEvent.kind.in_(("registered", "refused"))
            )
        )
        assert list(events) == [case.status]
