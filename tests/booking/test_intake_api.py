"""POST /api/v1/applications: the public with an SMS code, staff with a token; errors named by
the body's own paths; Idempotency-Key; nothing stored on bad input."""

from __future__ import annotations

from sqlalchemy import event, select

from app.db import engine_key, sessionmaker_key
from app.models import Case, Party
from booking.models import GroupMember, PartyAgent
from tests.booking.intake_data import HUAWEI, rows, sms_code
from tests.booking.setup_data import bearer
from tests.people import login

PHONE = "13900001111"


def body(org_id: int, **changes: object) -> dict[str, object]:
    return {
        "org_id": org_id,
        "dispute_type": "labour",
        "description": "工地拖欠我们三个月工资，老板联系不上，只知道公司名称。",
        "parties": [
            {"side": "applicant", "name": "赵敏", "phone": PHONE},
            {"side": "applicant", "name": "孙丽", "phone": "13900003333"},
            {
                "side": "respondent",
                "kind": "organisation",
                "name": "某某建筑劳务有限公司",
                "phone": "13900004444",
                "credit_code": HUAWEI,
                "representative": "王老板",
            },
        ],
        "agents": [{"party": 1, "name": "吴律师", "phone": "13900006666", "authority": "general"}],
        "group_members": [{"name": "李一", "phone": "13900007777"}, {"name": "李二"}],
        **changes,
    }


async def test_the_public_applies_with_a_texted_code(app, client, demo):
    sent = await client.post("/api/v1/applications/codes", json={"phone": PHONE})
    assert sent.status == 202
    code = await sms_code(app)
    headers = {"Idempotency-Key": "my-application"}
    first = await client.post(
        "/api/v1/applications", json=body(demo["org:town"], phone_code=code), headers=headers
    )
    created = await first.json()
    assert first.status == 201, created
    assert created["channel"] == "online" and created["receipt"].startswith("R")
    assert (created["parties"], created["group_members"]) == (3, 2)
    replay = await client.post(
        "/api/v1/applications", json=body(demo["org:town"], phone_code=code), headers=headers
    )
    assert replay.status == 201 and await replay.json() == created
    assert replay.headers["Idempotent-Replayed"] == "true"
    async with app[sessionmaker_key]() as db:
        parties = list(await db.scalars(select(Party).where(Party.case_id == created["id"])))
        agents = list(await db.scalars(select(PartyAgent)))
        members = list(await db.scalars(select(GroupMember)))
    assert [p.kind for p in parties] == ["person", "person", "organisation"]
    assert [a.party_id for a in agents] == [parties[1].id] and len(members) == 2


async def test_without_a_code_or_with_bad_fields_nothing_is_stored(app, client, demo):
    before = await rows(app)
    no_code = await client.post("/api/v1/applications", json=body(demo["org:town"]))
    assert no_code.status == 422 and "phone_code" in (await no_code.json())["fields"]
    wrong = await client.post(
        "/api/v1/applications", json=body(demo["org:town"], phone_code="123456")
    )
    assert wrong.status == 400  # no code was ever sent
    forged = body(demo["org:town"], phone_code="123456")
    forged["parties"][2]["credit_code"] = HUAWEI[:-1] + "7"  # type: ignore[index]
    forged["agents"][0]["party"] = 7  # type: ignore[index]
    forged["parties"][0]["id_number"] = "11010519491231002Y"  # type: ignore[index]
    answer = await client.post("/api/v1/applications", json=forged)
    fields = (await answer.json())["fields"]
    assert answer.status == 422
    assert {"parties[2].credit_code", "agents[0].party", "parties[0].id_number"} <= set(fields)
    shapes = await client.post(
        "/api/v1/applications", json={**body(demo["org:town"]), "parties": "赵敏", "agents": [1]}
    )
    assert shapes.status == 422 and {"parties", "agents[0]"} <= set((await shapes.json())["fields"])
    assert await rows(app) == before


async def test_staff_file_walk_in_and_grid_applications_in_their_tree(app, client, demo):
    headers = await bearer(app, demo["user:coordinator"])
    walk_in = await client.post(
        "/api/v1/applications", json=body(demo["org:village"]), headers=headers
    )
    assert walk_in.status == 201 and (await walk_in.json())["channel"] == "walk_in"
    grid = await client.post(
        "/api/v1/applications", json=body(demo["org:town"], channel="grid"), headers=headers
    )
    assert grid.status == 201 and (await grid.json())["channel"] == "grid"
    before = await rows(app)
    outside = await client.post(
        "/api/v1/applications", json=body(demo["org:district"]), headers=headers
    )
    assert outside.status == 422 and "org_id" in (await outside.json())["fields"]
    online = await client.post(
        "/api/v1/applications", json=body(demo["org:town"], channel="online"), headers=headers
    )
    assert online.status == 422 and "channel" in (await online.json())["fields"]
    expert = await client.post(
        "/api/v1/applications",
        json=body(demo["org:town"]),
        headers=await bearer(app, demo["user:expert"]),
    )
    assert expert.status == 403
    assert await rows(app) == before
    async with app[sessionmaker_key]() as db:
        channels = set(await db.scalars(select(Case.channel)))
    assert channels == {"online", "walk_in", "grid"}  # the demo case came in online


async def test_the_case_page_costs_the_same_statements_for_a_big_group(app, client, demo):
    """The intake and evidence panels read agents, members and files in set-based queries."""
    headers = await bearer(app, demo["user:coordinator"])
    small = body(demo["org:town"], group_members=[{"name": "李一"}])
    big = body(
        demo["org:town"],
        group_members=[{"name": f"村民{n}"} for n in range(300)],
        agents=[
            {"party": p, "name": f"代理人{p}", "phone": "13900006666", "authority": "special"}
            for p in range(3)
        ],
    )
    ids = []
    for application in (small, big):
        answer = await client.post("/api/v1/applications", json=application, headers=headers)
        assert answer.status == 201
        ids.append((await answer.json())["id"])
    await login(client, "coordinator")
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app[engine_key].sync_engine
    counts = []
    for case_id in ids:
        event.listen(engine, "before_cursor_execute", counted)
        try:
            page = await client.get(f"/cases/{case_id}")
            assert page.status == 200
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        counts.append(len(statements))
        statements.clear()
    assert counts[0] == counts[1], counts
