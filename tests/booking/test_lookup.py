"""Progress lookup (进度查询): case or receipt number + a party's phone + an SMS code; the same
answer for "no such case" and "not your phone"; throttled."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key
from app.i18n import translate
from app.models import Case, PhoneCode
from app.settings import Settings
from booking.lookup import CODE_MAYBE_SENT, NEXT_STEPS, NO_MATCH
from tests.booking.intake_data import post, sms_code, texts_to
from tests.booking.setup_data import count, register_case

APPLICANT = "13912345678"  # the demo case's applicant
RESPONDENT = "13787654321"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, lookups_per_client=6, code_requests_per_client=6)


def zh(message: str) -> str:
    return translate(message, "zh_CN")


async def receipt_of(app, case_id: int, receipt: str = "RABCDEFGHJK") -> str:
    async with app[sessionmaker_key]() as db, db.begin():
        case = await db.get(Case, case_id)
        assert case is not None
        case.receipt = receipt  # the demo case predates receipts
    return receipt


async def test_look_up_by_receipt_then_by_case_number(app, client, demo):
    receipt = await receipt_of(app, demo["case"])
    asked = await post(
        client, "/lookup", {"reference": receipt.lower(), "phone": APPLICANT, "action": "send_code"}
    )
    assert asked.status == 200 and zh(CODE_MAYBE_SENT) in await asked.text()
    code = await sms_code(app, APPLICANT)
    shown = await post(client, "/lookup", {"reference": receipt, "phone": APPLICANT, "code": code})
    page = await shown.text()
    assert shown.status == 200 and 'id="progress"' in page
    assert zh("Applied") in page and zh(NEXT_STEPS["applied"]) in page
    assert zh("Application received") in page  # the public timeline
    assert shown.headers["Cache-Control"] == "no-store"
    # The code was single use.
    again = await post(client, "/lookup", {"reference": receipt, "phone": APPLICANT, "code": code})
    assert again.status == 400 and 'id="progress"' not in await again.text()

    await register_case(app, demo["case"], demo["user:coordinator"])
    async with app[sessionmaker_key]() as db:
        number = await db.scalar(select(Case.number).where(Case.id == demo["case"]))
    assert number is not None
    typed = number.replace("（", "(").replace("）", ")")  # as typed on a phone keyboard
    await post(client, "/lookup", {"reference": typed, "phone": RESPONDENT, "action": "send_code"})
    code = await sms_code(app, RESPONDENT)
    shown = await post(client, "/lookup", {"reference": typed, "phone": RESPONDENT, "code": code})
    page = await shown.text()
    assert zh("Registered") in page and zh(NEXT_STEPS["registered"]) in page


async def test_no_case_and_wrong_phone_look_the_same(app, client, demo):
    receipt = await receipt_of(app, demo["case"])
    answers = []
    for reference, phone in ((receipt, "13900009999"), ("RZZZZZZZZZZ", APPLICANT)):
        sent = await post(
            client, "/lookup", {"reference": reference, "phone": phone, "action": "send_code"}
        )
        tried = await post(
            client, "/lookup", {"reference": reference, "phone": phone, "code": "123456"}
        )
        answers.append((sent.status, zh(CODE_MAYBE_SENT) in await sent.text(), tried.status))
        assert zh(NO_MATCH) in await tried.text()
    assert answers[0] == answers[1] == (200, True, 400)
    assert await count(app, PhoneCode) == 0  # no code went anywhere
    assert await texts_to(app, "13900009999") == []


async def test_lookups_are_throttled_per_client(app, client, demo):
    receipt = await receipt_of(app, demo["case"])
    form = {"reference": receipt, "phone": APPLICANT, "code": "000000"}
    statuses = [(await post(client, "/lookup", form)).status for _ in range(7)]
    assert statuses == [400] * 6 + [429]


async def test_the_api_looks_up_progress(app, client, demo):
    receipt = await receipt_of(app, demo["case"])
    body = {"reference": receipt, "phone": APPLICANT}
    sent = await client.post("/api/v1/lookup/codes", json=body)
    assert sent.status == 202
    code = await sms_code(app, APPLICANT)
    wrong = await client.post(
        "/api/v1/lookup", json={**body, "code": "999999" if code != "999999" else "111111"}
    )
    assert wrong.status == 400 and (await wrong.json())["error"] == "invalid"
    found = await client.post("/api/v1/lookup", json={**body, "code": code})
    progress = await found.json()
    assert found.status == 200, progress
    assert progress["status"] == "applied" and progress["receipt"] == receipt
    assert progress["timeline"][0]["kind"] == "applied" and progress["deadline_at"] is None
    bad = await client.post("/api/v1/lookup", json={"reference": "", "phone": "12"})
    assert bad.status == 422 and set((await bad.json())["fields"]) == {"reference", "phone"}
