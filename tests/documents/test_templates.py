"""The template store: an admin edit is a new version that changes the next document and not the
ones already produced; bad templates (unknown placeholders, unprintable characters, anything but
placeholders — `{{ ''.__class__ }}`) re-show the form with a message and store nothing; the
sandbox keeps even a stored hostile template from reaching Python objects (both databases)."""

from __future__ import annotations

import asyncio

import pytest
from jinja2.exceptions import SecurityError
from sqlalchemy import func, select

from app.auth import hash_password
from app.db import sessionmaker_key, transaction
from app.demo import DEMO_PASSWORD
from app.models import Organization, StaffUser
from documents.models import DocumentTemplate
from documents.sealed import sealed_pdf
from documents.services import version_hash
from documents.template_defaults import DEFAULTS, Wording
from documents.template_store import render_wording
from tests.builders import effective, scheduled
from tests.documents.case_docs import documents, record_outcome, stored_pdf
from tests.pdf_reading import pdf_text
from tests.people import login, post_form

NEW_BODY = (
    "{{ parties }}：\n"
    "经本委员会调解，双方未能达成协议，现终止调解。理由：{{ reason }}\n"
    "如不服，可以申请仲裁、请求行政机关处理或者向人民法院提起诉讼。本告知书为新版样式。"
)


async def _count(app) -> int:
    async with app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.count()).select_from(DocumentTemplate)) or 0)


async def _save(client, kind: str, title: str, body: str, dispute_type: str = ""):
    form = {"title": title, "body": body, "dispute_type": dispute_type}
    return await post_form(client, f"/admin/templates/{kind}", form, allow_redirects=False)


async def test_an_edit_changes_the_next_document_only(app, client, new_client, demo):
    mediator = await new_client()
    await login(mediator, "mediator")
    first_case = await scheduled(app, demo)
    await record_outcome(mediator, first_case, "terminated", "双方分歧过大。")
    (before,) = await documents(app, first_case, "termination")
    assert (before.template_id, before.template_version) == (None, 0)

    await login(client, "admin")
    saved = await _save(client, "termination", "终止调解通知", NEW_BODY, "neighbour")
    assert saved.status == 303
    page = await client.get(saved.headers["Location"])
    assert 'id="template-saved"' in await page.text()

    second_case = await scheduled(app, demo)  # a neighbour dispute, like the first
    await record_outcome(mediator, second_case, "terminated", "申请人撤回调解请求后又反悔。")
    (after,) = await documents(app, second_case, "termination")
    assert after.template_version == 1 and after.template_id is not None
    new_text = pdf_text(await stored_pdf(app, after)).replace("\n", "")
    assert "本告知书为新版样式" in new_text and "终止调解通知" in new_text

    old_text = pdf_text(await stored_pdf(app, before)).replace("\n", "")
    assert "本告知书为新版样式" not in old_text and DEFAULTS["termination"].title in old_text
    assert before.content["title"] == DEFAULTS["termination"].title  # the stored record too

    edited = NEW_BODY + "\n特此告知。"
    again = await _save(client, "termination", "终止调解通知", edited, "neighbour")
    assert again.status == 303
    async with app[sessionmaker_key]() as db:
        versions = list(
            await db.scalars(select(DocumentTemplate).order_by(DocumentTemplate.version))
        )
    assert [v.version for v in versions] == [1, 2] and versions[0].body == NEW_BODY  # immutable


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ reason | attr('__class__') }}",
        "{% for x in range(10) %}{{ x }}{% endfor %}",
        "{{ password }}",
        "理由：{{ reason }}\u202e",
        "{{ reason",
    ],
)
async def test_bad_templates_reshow_the_form_and_store_nothing(app, client, demo, body):
    await login(client, "admin")
    response = await _save(client, "termination", "终止调解告知书", body)
    assert response.status == 422
    page = await response.text()
    assert 'id="body-error"' in page and 'id="template-form"' in page
    assert await _count(app) == 0


async def test_only_admins_edit_templates(app, client, demo):
    await login(client, "mediator")
    response = await _save(client, "termination", "终止调解告知书", "{{ reason }}")
    assert response.status == 403
    assert (await client.get("/admin/templates")).status == 403
    assert await _count(app) == 0


def test_the_sandbox_keeps_a_stored_hostile_template_inert() -> None:
    hostile = Wording("标题", "{{ reason.__class__.__mro__ }}")
    with pytest.raises(SecurityError):
        render_wording(hostile, {"reason": "理由"})
    title, paragraphs = render_wording(DEFAULTS["termination"], _values())
    assert title == "终止调解告知书" and any("理由甲" in p for p in paragraphs)


def _values() -> dict[str, str]:
    names = ("org_name", "case_number", "dispute_type", "date", "mediator_name", "parties")
    return {**dict.fromkeys(names, "某"), "reason": "理由甲"}


async def test_the_agreement_boilerplate_comes_from_the_store_and_is_signed(app, client, demo):
    await login(client, "admin")
    preamble = "在{{ org_name }}主持下，{{ parties }}经平等协商，就邻里纠纷自愿达成如下协议："
    saved = await _save(client, "agreement", "邻里纠纷人民调解协议书", preamble, "neighbour")
    assert saved.status == 303
    agreement = await effective(app, demo)  # a neighbour dispute, drafted after the edit
    boilerplate = agreement.content["boilerplate"]
    assert boilerplate["template_version"] == 1 and boilerplate["title"] == "邻里纠纷人民调解协议书"
    assert agreement.version_hash == version_hash(agreement.content)  # signed with the rest
    text = pdf_text((await sealed_pdf(app, agreement.id)).pdf).replace("\n", "")
    assert "邻里纠纷人民调解协议书" in text and "经平等协商，就邻里纠纷自愿达成如下协议" in text


async def test_the_closing_clauses_come_from_the_store_and_older_agreements_keep_theirs(
    app, client, demo
):
    before = await effective(app, demo)  # drafted with the built-in clauses
    await login(client, "admin")
    clauses = "（一）本协议自{{ org_name }}盖章之日起生效。\n（二）双方可以共同申请司法确认。"
    saved = await _save(client, "agreement_closing", "效力条款", clauses, "neighbour")
    assert saved.status == 303
    assert before.content["boilerplate"]["closing_version"] == 0
    async with transaction(app) as db:  # as agreements drafted before the clauses were stored
        row = await db.get(type(before), before.id)
        boilerplate = {**row.content["boilerplate"]}
        for name in ("closing_version", "closing_title", "closing"):
            boilerplate.pop(name)
        row.content = {**row.content, "boilerplate": boilerplate}
        row.version_hash = version_hash(row.content)
    older = pdf_text((await sealed_pdf(app, before.id)).pdf).replace("\n", "")
    assert "五、协议效力与司法确认" in older and "各份具有同等效力" in older

    after = await effective(app, demo)
    boilerplate = after.content["boilerplate"]
    assert boilerplate["closing_version"] == 1 and boilerplate["closing_title"] == "效力条款"
    assert boilerplate["closing"][0].startswith("（一）本协议自") and "{{" not in str(boilerplate)
    text = pdf_text((await sealed_pdf(app, after.id)).pdf).replace("\n", "")
    assert "五、效力条款" in text and "双方可以共同申请司法确认" in text
    assert "各份具有同等效力" not in text


async def test_concurrent_saves_keep_versions_unique(app, client, new_client, demo):
    admins = [client, *[await new_client() for _ in range(4)]]
    for admin in admins:
        await login(admin, "admin")
    responses = await asyncio.gather(
        *(_save(a, "minutes", f"笔录{i}", "告知：{{ org_name }}") for i, a in enumerate(admins))
    )
    statuses = sorted(r.status for r in responses)
    assert set(statuses) <= {303, 409} and 303 in statuses
    async with app[sessionmaker_key]() as db:
        versions = list(await db.scalars(select(DocumentTemplate.version)))
    assert sorted(versions) == list(range(1, statuses.count(303) + 1))


async def test_only_a_top_level_admin_edits_templates(app, client, demo):
    async with transaction(app) as db:
        town = await db.get(Organization, demo["org:town"])
        assert town is not None and town.parent_id is not None
        db.add(
            StaffUser(
                username="townadmin",
                display_name="镇管理员",
                role="admin",
                org_id=town.id,
                phone="13800000099",
                password_hash=hash_password(DEMO_PASSWORD),
            )
        )
    await login(client, "townadmin")
    response = await _save(client, "termination", "终止调解告知书", "{{ reason }}")
    assert response.status == 403
    assert await _count(app) == 0
