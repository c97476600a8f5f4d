"""The application form (/apply): online with an SMS-verified phone, at the front desk without
one; any number of parties, organisations, agents and a group's member list; nothing stored on
bad input."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key
from app.i18n import translate
from app.models import Case, CaseEvent, Party
from app.settings import Settings
from booking.models import GroupMember, PartyAgent
from tests.booking.intake_data import (
    APPLICANT_PHONE,
    HUAWEI,
    File,
    application,
    codes_issued,
    post,
    request_code,
    rows,
    sms_code,
    texts_to,
)
from tests.people import login


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    # As `make run` configures it, for the test named so; otherwise as in production.
    demo_outbox = "make_run" in request.node.name
    return replace(settings, code_requests_per_client=4, outbox_shows_links=demo_outbox)


def zh(message: str, **params: object) -> str:
    return translate(message, "zh_CN", **params)


async def test_online_application_needs_the_texted_code(app, client, demo):
    page = await client.get("/apply")
    assert page.status == 200 and 'value="send_code"' in await page.text()
    form = application(org_id=str(demo["org:village"]), submission_id="sub-1")
    before = await rows(app)

    no_code = await post(client, "/apply", form)
    assert no_code.status == 422
    assert (
        zh("Please enter the 6-digit code we sent to the applicant's phone.")
        in await no_code.text()
    )

    sent = await request_code(client, form)
    assert sent.status == 200 and 'id="code-notice"' in await sent.text()
    assert "赵敏" in await sent.text()  # the form comes back as typed
    assert 'id="development-code"' not in await sent.text()
    code = await sms_code(app)
    wrong = "000000" if code != "000000" else "111111"
    refused = await post(client, "/apply", {**form, "phone_code": wrong})
    assert refused.status == 422 and 'id="phone_code-error"' in await refused.text()
    assert await rows(app) == before

    done = await post(client, "/apply", {**form, "phone_code": code})
    body = await done.text()
    assert done.status == 200, body
    async with app[sessionmaker_key]() as db:
        case = await db.scalar(select(Case).order_by(Case.id.desc()))
        assert case is not None
        parties = list(await db.scalars(select(Party).where(Party.case_id == case.id)))
        events = list(await db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)))
    assert (
        case.status == "applied" and case.channel == "online" and case.org_id == demo["org:village"]
    )
    assert case.receipt and case.receipt in body and len(case.receipt) == 11
    assert {(p.role, p.kind, p.name, p.phone) for p in parties} == {
        ("applicant", "person", "赵敏", APPLICANT_PHONE),
        ("respondent", "person", "钱军", "13900002222"),
    }
    respondent = next(p for p in parties if p.role == "respondent")
    assert respondent.id_masked == respondent.id_digest == ""  # optional at intake
    assert [e.kind for e in events] == ["applied"] and events[0].data["channel"] == "online"
    receipt_sms = (await texts_to(app, APPLICANT_PHONE))[-1]
    assert case.receipt in receipt_sms and "/p/" in receipt_sms and "/lookup" in receipt_sms

    # The applicant's browser now holds a party session for the case (to add evidence).
    own = await client.get(f"/cases/{case.id}")
    assert own.status == 200 and 'id="evidence"' in await own.text()
    # A double tap sends the same form again: still one application.
    again = await post(client, "/apply", {**form, "phone_code": code})
    assert again.status == 200 and case.receipt in await again.text()
    after = await rows(app)
    assert (after["cases"], after["parties"]) == (before["cases"] + 1, before["parties"] + 2)


async def test_a_code_opens_one_application_however_many_are_sent_at_once(app, client, demo):
    form = application(org_id=str(demo["org:town"]))
    await request_code(client, form)
    code = await sms_code(app)
    before = await rows(app)
    answers = await asyncio.gather(
        *(
            post(client, "/apply", {**form, "phone_code": code, "submission_id": f"s{i}"})
            for i in range(6)
        )
    )
    assert sorted(a.status for a in answers) == [200] + [422] * 5
    assert (await rows(app))["cases"] == before["cases"] + 1


async def test_guessing_the_code_locks_it(app, client, demo):
    form = application(org_id=str(demo["org:town"]))
    await request_code(client, form)
    code = await sms_code(app)
    wrong = [c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c != code]
    before = await rows(app)
    for guess in wrong[:5]:  # otp_attempts = 5
        assert (await post(client, "/apply", {**form, "phone_code": guess})).status == 422
    locked = await post(client, "/apply", {**form, "phone_code": code})
    assert locked.status == 422
    assert zh("Too many wrong codes. Please request a new code.") in await locked.text()
    assert await rows(app) == before


async def test_code_requests_are_throttled_per_client(app, client, demo):
    for i in range(4):  # code_requests_per_client = 4; each to another phone (60 s per phone)
        form = application(org_id=str(demo["org:town"]), applicant_phone=f"1390000200{i}")
        assert (await request_code(client, form)).status == 200
    issued = await codes_issued(app)
    throttled = await request_code(client, application(applicant_phone="13900002009"))
    assert throttled.status == 429 and throttled.headers["Retry-After"]
    assert await codes_issued(app) == issued


async def test_many_parties_organisations_agents_and_a_member_list(app, client, demo):
    form = application(
        org_id=str(demo["org:town"]),
        dispute_type="demolition",
        applicants="2",
        respondents="2",
        applicant2_name="孙丽",
        applicant2_phone="13900003333",
        respondent_kind="organisation",
        respondent_name="松陵街道拆迁办公室",
        respondent_credit_code=HUAWEI.lower(),
        respondent_representative="周主任",
        respondent_phone="13900004444",
        respondent2_kind="organisation",
        respondent2_name="某某拆迁公司",
        respondent2_phone="13900005555",
        agents="1",
        agent1_name="吴律师",
        agent1_phone="13900006666",
        agent1_authority="special",
        agent1_party="applicant2",
        group_members="李一, 13900007777, 联杨村1号\n李二\n李三，联杨村3号",
    )
    await request_code(client, form)
    csv = "姓名,电话,地址\n王五,13900008888,联杨村5号\n赵六,,联杨村6号\n".encode("gb18030")
    data = {
        **form,
        "phone_code": await sms_code(app),
        "group_file": File(csv, "名单.csv", "text/csv"),
    }
    done = await post(client, "/apply", data)
    assert done.status == 200, await done.text()
    async with app[sessionmaker_key]() as db:
        case = await db.scalar(select(Case).order_by(Case.id.desc()))
        assert case is not None
        parties = list(
            await db.scalars(select(Party).where(Party.case_id == case.id).order_by(Party.id))
        )
        agents = list(await db.scalars(select(PartyAgent)))
        members = list(
            await db.scalars(
                select(GroupMember)
                .where(GroupMember.case_id == case.id)
                .order_by(GroupMember.position)
            )
        )
    assert [(p.role, p.kind) for p in parties] == [
        ("applicant", "person"),
        ("applicant", "person"),
        ("respondent", "organisation"),
        ("respondent", "organisation"),
    ]
    assert parties[2].credit_code == HUAWEI and parties[2].representative == "周主任"
    assert parties[3].credit_code is None  # optional
    assert [(a.party_id, a.name, a.authority) for a in agents] == [
        (parties[1].id, "吴律师", "special")
    ]
    assert [(m.name, m.phone, m.address) for m in members] == [
        ("李一", "13900007777", "联杨村1号"),
        ("李二", None, ""),
        ("李三", None, "联杨村3号"),
        ("王五", "13900008888", "联杨村5号"),
        ("赵六", None, "联杨村6号"),
    ]
    await login(client, "coordinator")
    page = await (await client.get(f"/cases/{case.id}")).text()
    assert zh("Group case: {n} further members listed.", n=5) in page
    assert HUAWEI in page and "吴律师" in page


BAD_FIELDS = {
    "respondent_credit_code": (
        {"respondent_kind": "organisation", "respondent_credit_code": "914403001922038217"},
        "This is not a valid unified social credit code (18 characters, check the last).",
    ),
    "applicant_id_number": (
        {"applicant_id_number": "11010519491231002Y"},
        "This is not a valid 18-character resident ID number.",
    ),
    "respondent_id_number": (
        {"respondent_id_number": "320584198503150024"},
        "This is not a valid 18-character resident ID number.",
    ),
    "applicant_phone": (
        {"applicant_phone": "1234567"},
        "Please enter an 11-digit mainland mobile number.",
    ),
    "org_id": ({"org_id": "99999999999999999999"}, "Please choose a mediation organisation."),
    "agent1_party": (
        {
            "agents": "1",
            "agent1_name": "吴律师",
            "agent1_phone": "13900006666",
            "agent1_authority": "general",
            "agent1_party": "respondent9",
        },
        "Choose the party this agent acts for.",
    ),
    "agent1_authority": (
        {
            "agents": "1",
            "agent1_name": "吴律师",
            "agent1_phone": "13900006666",
            "agent1_authority": "all",
            "agent1_party": "applicant",
        },
        "Choose general or special authority.",
    ),
    "group_members": (
        {"group_members": "李一, 13900007777\n" + "名" * 65},
        "Each line of the member list needs a name (up to 64 characters), then optionally an "
        "11-digit mobile number and an address, separated by commas.",
    ),
    "channel": ({"channel": "walk_in"}, "Choose how the dispute reached the centre."),
}


async def test_bad_fields_are_shown_and_nothing_is_stored(app, client, demo):
    base = application(org_id=str(demo["org:town"]))
    await request_code(client, base)
    code = await sms_code(app)
    before = await rows(app)
    for field, (changes, message) in BAD_FIELDS.items():
        response = await post(client, "/apply", {**base, **changes, "phone_code": code})
        assert response.status == 422, field
        page = await response.text()
        assert zh(message) in page, field
        assert f'id="{field}-error"' in page, field
        assert "赵敏" in page  # what the person typed is kept
    assert await rows(app) == before
    # The code was never spent on a form that failed validation: it still works.
    done = await post(client, "/apply", {**base, "phone_code": code})
    assert done.status == 200


async def test_the_add_buttons_grow_the_form_without_javascript(app, client, demo):
    form = application(org_id=str(demo["org:town"]))
    grown = await post(client, "/apply", {**form, "action": "add_respondent"})
    page = await grown.text()
    assert grown.status == 200 and 'name="respondent2_name"' in page and "钱军" in page
    with_agent = await post(client, "/apply", {**form, "respondents": "2", "action": "add_agent"})
    page = await with_agent.text()
    assert 'name="agent1_party"' in page and 'value="respondent2"' in page


async def test_a_walk_in_at_the_front_desk_needs_no_code(app, client, demo):
    await login(client, "coordinator")
    page = await (await client.get("/apply")).text()
    assert 'name="channel"' in page and 'value="send_code"' not in page
    form = application(org_id=str(demo["org:village"]), channel="grid")
    done = await post(client, "/apply", form)
    assert done.status == 200, await done.text()
    async with app[sessionmaker_key]() as db:
        case = await db.scalar(select(Case).order_by(Case.id.desc()))
        event = await db.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert case is not None and case.channel == "grid"
    assert event is not None and event.actor == f"staff:{demo['user:coordinator']}"
    assert case.receipt in (await texts_to(app, APPLICANT_PHONE))[-1]  # the receipt, no code
    # The public channel is not the desk's; nor is an organisation outside its tree.
    before = await rows(app)
    online = await post(client, "/apply", {**form, "channel": "online"})
    assert online.status == 422 and 'id="channel-error"' in await online.text()
    outside = await post(client, "/apply", {**form, "org_id": str(demo["org:district"])})
    assert outside.status == 422 and 'id="org_id-error"' in await outside.text()
    assert await rows(app) == before


async def test_the_preferred_mediator_comes_from_the_link(app, client, demo):
    mediator = demo["user:mediator"]  # works for the town
    page = await (await client.get(f"/apply?mediator={mediator}")).text()
    assert "陈调解" in page and f'name="preferred_mediator_id" value="{mediator}"' in page
    form = application(org_id=str(demo["org:town"]), preferred_mediator_id=str(mediator))
    await request_code(client, form)
    code = await sms_code(app)
    before = await rows(app)
    for bad in (str(demo["user:coordinator"]), "99999", "x"):  # not a mediator; none; junk
        response = await post(
            client, "/apply", {**form, "preferred_mediator_id": bad, "phone_code": code}
        )
        assert response.status == 422, bad
        assert 'id="preferred_mediator_id-error"' in await response.text()
    village = await post(
        client, "/apply", {**form, "org_id": str(demo["org:village"]), "phone_code": code}
    )
    assert village.status == 422  # the town's mediator is not in the village's tree
    assert await rows(app) == before
    done = await post(client, "/apply", {**form, "phone_code": code})
    assert done.status == 200
    async with app[sessionmaker_key]() as db:
        case = await db.scalar(select(Case).order_by(Case.id.desc()))
    assert case is not None and case.preferred_mediator_id == mediator


async def test_make_run_shows_the_code_on_the_page(app, client, demo):
    sent = await request_code(client, application(org_id=str(demo["org:town"])))
    page = await sent.text()
    assert 'id="development-code"' in page and await sms_code(app) in page


async def test_0004_makes_existing_parties_persons_and_cases_online(tmp_path) -> None:
    """Upgrading a database with a case and its parties from revision 0003."""
    from sqlalchemy import text

    from app.db import make_engine
    from app.migrate import upgrade

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(engine, "0003")
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO organizations (id, name, short_name, kind, tier) "
            "VALUES (1, '松陵', '吴松', 'mediation', 'town')",
            "INSERT INTO cases (id, org_id, dispute_type, description, tier, risk, complexity, "
            "status, created_at) VALUES (1, 1, 'neighbour', 'd', 'town', 'blue', 'general', "
            "'applied', '2026-01-01')",
            "INSERT INTO parties (case_id, role, name, phone, id_masked, id_digest, address) "
            "VALUES (1, 'applicant', '王秀兰', '13912345678', '3205**********0023', 'ab', '')",
            # Rows that reference the altered tables: a rebuild of them would fail on these.
            "INSERT INTO party_links (party_id, token_hash, created_at, expires_at) "
            "VALUES (1, 'h', '2026-01-01', '2026-02-01')",
            "INSERT INTO case_events (case_id, at, kind, actor, public, data) "
            "VALUES (1, '2026-01-01', 'applied', 'public', 1, '{}')",
        ):
            await conn.execute(text(sql))
    await upgrade(engine)
    async with engine.connect() as conn:
        party = (await conn.execute(text("SELECT kind, id_digest, credit_code FROM parties"))).one()
        case = (await conn.execute(text("SELECT channel, receipt FROM cases"))).one()
    await engine.dispose()
    assert tuple(party) == ("person", "ab", None) and tuple(case) == ("online", None)
