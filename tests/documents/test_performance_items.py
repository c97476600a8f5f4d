"""Performance items (issue 6's after-care) derived from the agreement's dated structured terms,
once, even when the mediator's two browsers ask at the same moment."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.models import Case
from booking.models import PerformanceItem
from booking.outcome import OutcomeInput, do_record_outcome
from documents.sealed import seal_agreement
from tests.builders import party_principals, signed_by, staff
from tests.documents.test_structured_draft import (
    SOON,
    party_ids,
    structured_form,
    versions,
)
from tests.people import csrf, login, post_form


async def test_dated_terms_become_performance_items_once(
    app, client, new_client, demo, scheduled_case
) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    form = structured_form(parties, **{"term-1-deadline": SOON})  # a dated term without payer
    path = f"/cases/{scheduled_case}/agreement"
    assert (await post_form(client, path, form, allow_redirects=False)).status == 303
    [agreement] = await versions(app, scheduled_case)
    mediator = staff(demo, "mediator", "mediator", "town")
    refused = await post_form(client, f"{path}/performance", {}, allow_redirects=False)
    assert refused.status == 409  # not in effect yet
    await signed_by(app, agreement, *await party_principals(app, scheduled_case), mediator)
    assert await seal_agreement(app, agreement.id)
    async with transaction(app) as db:
        case = await db.get(Case, scheduled_case)
        assert case is not None
        await do_record_outcome(db, mediator, case, OutcomeInput("written_agreement", ""))

    second = await new_client()
    await login(second, "mediator")
    tokens = [await csrf(c) for c in (client, second)]
    responses = await asyncio.gather(
        *(
            c.post(f"{path}/performance", data={"_csrf": t}, allow_redirects=False)
            for c, t in zip((client, second), tokens, strict=True)
        )
    )
    assert sorted(r.status for r in responses) == [303, 303]
    async with app[sessionmaker_key]() as db:
        items = list(
            await db.scalars(
                select(PerformanceItem)
                .where(PerformanceItem.case_id == scheduled_case)
                .order_by(PerformanceItem.id)
            )
        )
    names = {p["id"]: p["name"] for p in agreement.content["parties"]}
    assert [(i.what, i.debtor, i.due_on, i.amount_fen) for i in items] == [
        (
            "李建国向王秀兰支付院墙重建费用",
            names[parties["respondent"]],
            date.fromisoformat(SOON),
            800050,
        ),
        ("双方重新砌筑院墙，费用各半", "、".join(names.values()), date.fromisoformat(SOON), None),
    ]
