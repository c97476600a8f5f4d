"""Structured drafting (issue 9): art. 29 party details, terms with amount (and its 大写), payer,
payee, deadline and manner, over HTTP on both databases, read back from the sealed PDF."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from aiohttp import web
from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.models import CaseEvent, Party
from documents.models import Agreement
from documents.sealed import seal_agreement
from documents.services import version_hash
from tests.builders import draft_form, party_principals, signed_by, staff
from tests.pdf_reading import pdf_text, poppler
from tests.people import csrf, login, post_form

SOON = (date.today() + timedelta(days=20)).isoformat()


async def party_ids(app: web.Application, case_id: int) -> dict[str, int]:
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(select(Party).where(Party.case_id == case_id))
        return {p.role: p.id for p in rows}


def structured_form(parties: dict[str, int], **overrides: str) -> dict[str, str]:
    a, r = parties["applicant"], parties["respondent"]
    return draft_form(
        **{
            "disputes": "院墙重建费用由谁承担。",
            "responsibility": "被申请人未经同意拆除共用院墙，应承担主要责任。",
            "term-0-text": "李建国向王秀兰支付院墙重建费用",
            "term-0-amount": "8000.50",
            "term-0-payer": str(r),
            "term-0-payee": str(a),
            "term-0-deadline": SOON,
            "term-0-manner": "银行转账",
            "term-1-text": "双方重新砌筑院墙，费用各半",
            "terms": "双方今后和睦相处",
            f"party-{a}-sex": "female",
            f"party-{a}-ethnicity": "汉族",
            f"party-{a}-birth_date": "1965-03-08",
            f"party-{a}-occupation": "联杨村村民",
            f"party-{a}-address": "江苏省苏州市吴江区松陵街道联杨村12号",
            f"party-{r}-sex": "male",
            f"party-{r}-ethnicity": "回族",
            f"party-{r}-occupation": "苏州某建筑公司",
            f"party-{r}-address": "江苏省苏州市吴江区松陵街道联杨村14号",
            f"party-{r}-agent_name": "周律师",
            f"party-{r}-agent_authority": "special",
            **overrides,
        }
    )


async def versions(app: web.Application, case_id: int) -> list[Agreement]:
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(
            select(Agreement).where(Agreement.case_id == case_id).order_by(Agreement.version)
        )
        return list(rows)


async def test_structured_draft_is_hashed_and_printed_in_the_sealed_pdf(
    app, client, demo, scheduled_case
) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    response = await post_form(
        client,
        f"/cases/{scheduled_case}/agreement",
        structured_form(parties),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    [agreement] = await versions(app, scheduled_case)
    content = agreement.content
    assert agreement.version_hash == version_hash(content)  # details are part of the hash
    assert content["terms"] == [
        "李建国向王秀兰支付院墙重建费用",
        "双方重新砌筑院墙，费用各半",
        "双方今后和睦相处",
    ]
    assert content["term_details"][0] == {
        "amount": "8000.50",
        "payer": parties["respondent"],
        "payee": parties["applicant"],
        "deadline": SOON,
        "manner": "银行转账",
    }
    respondent = next(p for p in content["parties"] if p["role"] == "respondent")
    assert respondent["agent"] == {"name": "周律师", "authority": "special"}

    mediator = staff(demo, "mediator", "mediator", "town")
    await signed_by(app, agreement, *await party_principals(app, scheduled_case), mediator)
    assert await seal_agreement(app, agreement.id)
    page = await client.get(f"/agreements/{agreement.id}/pdf")
    text = pdf_text(await page.read())
    flat = "".join(text.split())
    names = [p["name"] for p in content["parties"]]
    for expected in (
        *names,
        *content["terms"],
        "人民币8,000.50元",
        "捌仟元伍角整",
        "性别：女",
        "民族：汉族",
        "出生日期：1965年3月8日",
        "联杨村村民",
        "民族：回族",
        "委托代理人：周律师（特别授权）",
        "争议事项：院墙重建费用由谁承担。",
        "各方责任：被申请人未经同意拆除共用院墙，应承担主要责任。",
        "履行方式：银行转账",
        f"付款方：{respondent['name']}",
    ):
        assert expected in flat, expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("term-0-amount", "12.345", "最多两位小数"),
        ("term-0-amount", "八千", "最多两位小数"),
        ("term-0-amount", "-5", "最多两位小数"),
        ("term-0-payee", "{respondent}", "付款方和收款方必须是不同的当事人"),
        ("term-0-payer", "999999", "请在本案当事人中选择付款方和收款方"),
        ("term-0-deadline", "2001-01-01", "履行期限不能早于今天"),
        ("party-{applicant}-birth_date", "2999-01-01", "请填写出生日期"),
        ("party-{applicant}-sex", "x", "请选择性别"),
        ("party-{respondent}-agent_authority", "", "请说明代理人的代理权限"),
        ("term-1-text", "", "请填写该条款的内容"),
        ("party-{applicant}-ethnicity", "汉\u202e族", "无法打印"),
    ],
)
async def test_bad_details_reshow_the_form_and_write_nothing(
    app, client, scheduled_case, field: str, value: str, message: str
) -> None:
    parties = await party_ids(app, scheduled_case)
    form = structured_form(parties)
    form["term-1-amount"] = "100"  # with term-1-text blanked: a row without its text
    form["term-1-payer"], form["term-1-payee"] = (
        str(parties["respondent"]),
        str(parties["applicant"]),
    )
    if field != "term-1-text":
        form.pop("term-1-amount"), form.pop("term-1-payer"), form.pop("term-1-payee")
    form[field.format(**parties)] = value.format(**parties)
    await login(client, "mediator")
    response = await post_form(client, f"/cases/{scheduled_case}/agreement", form)
    assert response.status == 422
    page = await response.text()
    assert message in page, page
    assert 'id="draft-form"' in page and "李建国向王秀兰支付院墙重建费用" in page  # re-shown
    assert await versions(app, scheduled_case) == []


async def test_bad_amount_is_refused_in_english_too(app, client, scheduled_case) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    client.session.cookie_jar.update_cookies({"lang": "en"})
    form = structured_form(parties, **{"term-0-amount": "1e3"})
    response = await post_form(client, f"/cases/{scheduled_case}/agreement", form)
    assert response.status == 422
    assert "with at most two decimals" in await response.text()


async def test_preview_renders_the_pdf_body_and_stores_nothing(
    app, client, new_client, scheduled_case
) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    async with app[sessionmaker_key]() as db:
        events = await db.scalar(select(func.count()).select_from(CaseEvent))
    form = structured_form(parties, facts="太短")
    form["_csrf"] = await csrf(client, f"/cases/{scheduled_case}/agreement")
    response = await client.post(f"/cases/{scheduled_case}/agreement/preview", data=form)
    assert response.status == 200
    body = await response.json()
    html = "".join(body["html"].split())
    for expected in (
        "李建国向王秀兰支付院墙重建费用",
        "人民币8,000.50元",
        "捌仟元伍角整",
        "民族：汉族",
    ):
        assert expected in html
    assert "facts" in body["errors"]  # shown beside the preview, not refused
    assert await versions(app, scheduled_case) == []
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(CaseEvent)) == events

    other = await new_client()  # not logged in: no preview of someone's case
    token = await csrf(other)
    refused = await other.post(
        f"/cases/{scheduled_case}/agreement/preview", data={**form, "_csrf": token}
    )
    assert refused.status in (401, 403, 404)


async def test_versions_are_compared_clause_by_clause(
    app, client, new_client, scheduled_case
) -> None:
    from tests.people import open_party_session

    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    path = f"/cases/{scheduled_case}/agreement"
    assert (
        await post_form(client, path, structured_form(parties), allow_redirects=False)
    ).status == 303
    revised = structured_form(
        parties,
        **{
            "term-0-amount": "9000",
            "term-1-text": "院墙由李建国负责重建",
            "terms": "双方今后和睦相处\n双方互不追究其他责任",
            f"party-{parties['applicant']}-occupation": "个体经营",
        },
    )
    assert (await post_form(client, path, revised, allow_redirects=False)).status == 303
    first, second = await versions(app, scheduled_case)
    assert first.status == "void" and first.version_hash != second.version_hash
    assert first.version_hash == version_hash(first.content)  # the old version is untouched

    applicant = await new_client()  # parties compare too
    await open_party_session(applicant, app, scheduled_case, "applicant")
    for viewer in (client, applicant):
        page = await viewer.get(f"{path}/versions?from=1&to=2")
        assert page.status == 200
        text = await page.text()
        assert text.count('data-kind="term"') == 3
        assert 'data-kind="term" data-status="changed"' in text  # the amount, then the text
        assert 'data-kind="term" data-status="added"' in text
        assert "9000.00" in text and "8000.50" in text
        assert "院墙由李建国负责重建" in text and "双方互不追究其他责任" in text
        assert 'data-kind="party" data-status="changed"' in text and "个体经营" in text
        assert second.version_hash in text
    stranger = await new_client()
    assert (await stranger.get(f"{path}/versions", allow_redirects=False)).status in (
        302,
        303,
        401,
        403,
        404,
    )


def _pages(pdf: bytes) -> list[str]:
    count = int(
        next(
            line.split()[-1]
            for line in poppler("pdfinfo", "-", stdin=pdf).splitlines()
            if line.startswith("Pages:")
        )
    )
    return [
        poppler("pdftotext", "-enc", "UTF-8", "-f", str(n), "-l", str(n), "-", "-", stdin=pdf)
        for n in range(1, count + 1)
    ]


async def test_sealed_pdf_embeds_every_font_and_numbers_every_page(
    app, client, demo, scheduled_case
) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    form = structured_form(parties, facts="被申请人装修时拆除双方共用院墙。" * 120)
    path = f"/cases/{scheduled_case}/agreement"
    assert (await post_form(client, path, form, allow_redirects=False)).status == 303
    [agreement] = await versions(app, scheduled_case)
    mediator = staff(demo, "mediator", "mediator", "town")
    await signed_by(app, agreement, *await party_principals(app, scheduled_case), mediator)
    assert await seal_agreement(app, agreement.id)
    pdf = await (await client.get(f"/agreements/{agreement.id}/pdf")).read()
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        rows = poppler("pdffonts", handle.name).splitlines()[2:]
    assert rows
    for row in rows:  # name type encoding emb sub uni object ID
        assert row.split()[-5] == "yes", row
    pages = _pages(pdf)
    assert len(pages) >= 2
    number = agreement.content["case"]["number"]
    for n, page in enumerate(pages, start=1):
        assert number in "".join(page.split()), n
        assert f"第 {n} 页，共 {len(pages)} 页" in page, n


async def test_qr_code_uses_the_public_base_url(settings, demo) -> None:
    import dataclasses

    from app.factory import create_app
    from documents.sealed import verify_url

    app = create_app(dataclasses.replace(settings, public_base_url="https://verify.example.cn"))
    agreement = Agreement(version_hash="ab" * 32, content={})
    assert verify_url(app, agreement) == "https://verify.example.cn/verify/" + "ab" * 32
    plain = create_app(settings)
    assert verify_url(plain, agreement) == f"{settings.base_url}/verify/" + "ab" * 32
    # The case documents (minutes, notices, archive) print the same public origin.
    from app.settings import settings_key
    from documents.case_pdf import document_verify_url

    assert document_verify_url(app[settings_key]) == "https://verify.example.cn/verify"


def test_public_base_url_is_read_from_the_environment() -> None:
    from app.settings import from_env

    env = {
        "MEDIATION_PUBLIC_BASE_URL": "https://public.example.cn/",
        "MEDIATION_PDF_WORKER_TASKS": "7",
    }
    settings = from_env(env)
    assert settings.public_base_url == "https://public.example.cn"
    assert settings.pdf_worker_tasks == 7
    assert from_env({}).public_base_url is None


async def test_preview_and_save_cost_the_same_statements_whatever_the_terms(
    app, client, scheduled_case
) -> None:
    from tests.booking.test_desk import statements

    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    token = await csrf(client, f"/cases/{scheduled_case}/agreement")
    counts = []
    for n in (1, 20):
        form = structured_form(parties, _csrf=token)
        for i in range(2, n + 1):
            form[f"term-{i}-text"] = f"第{i}期款项"
            form[f"term-{i}-amount"] = f"{i}00"
            form[f"term-{i}-payer"] = str(parties["respondent"])
            form[f"term-{i}-payee"] = str(parties["applicant"])
        with statements(app) as seen:
            response = await client.post(f"/cases/{scheduled_case}/agreement/preview", data=form)
            assert response.status == 200
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


async def test_forged_field_names_are_a_form_error_not_a_crash(app, client, scheduled_case) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    form = structured_form(
        parties,
        **{"term-abc-text": "x", "term-99999-text": "y", "party-abc-sex": "male", "facts": "短"},
    )
    response = await post_form(client, f"/cases/{scheduled_case}/agreement", form)
    assert response.status == 422
    assert await versions(app, scheduled_case) == []


async def test_simultaneous_saves_make_consecutive_versions_and_one_current(
    app, client, new_client, scheduled_case
) -> None:
    import asyncio

    parties = await party_ids(app, scheduled_case)
    tabs = [client, *[await new_client() for _ in range(4)]]
    forms = []
    for n, tab in enumerate(tabs):
        await login(tab, "mediator")
        form = structured_form(parties, **{"term-0-amount": f"{1000 + n}"})
        forms.append({**form, "_csrf": await csrf(tab)})
    path = f"/cases/{scheduled_case}/agreement"
    responses = await asyncio.gather(
        *(
            tab.post(path, data=form, allow_redirects=False)
            for tab, form in zip(tabs, forms, strict=True)
        )
    )
    assert [r.status for r in responses] == [303] * 5
    saved = await versions(app, scheduled_case)
    assert [a.version for a in saved] == [1, 2, 3, 4, 5]
    assert [a.status for a in saved].count("signing") == 1 and saved[-1].status == "signing"
    assert all(a.version_hash == version_hash(a.content) for a in saved)
    amounts = sorted(a.content["term_details"][0]["amount"] for a in saved)
    assert amounts == [f"{1000 + n}.00" for n in range(5)]


JUNK = (
    "",
    " ",
    "NaN",
    "Infinity",
    "1e999",
    "-0",
    "0",
    "99999999999999999999",
    "２０００",
    "\x00",
    "2026-02-30",
    "9" * 400,
    "<script>",
    "‮",
)


async def test_the_preview_answers_junk_with_messages_never_a_crash(
    app, client, scheduled_case
) -> None:
    parties = await party_ids(app, scheduled_case)
    await login(client, "mediator")
    token = await csrf(client, f"/cases/{scheduled_case}/agreement")
    a = parties["applicant"]
    for junk in JUNK:
        form = structured_form(parties, _csrf=token)
        for name in (
            "term-0-amount",
            "term-0-payer",
            "term-0-deadline",
            f"party-{a}-birth_date",
            f"party-{a}-sex",
            "performance_deadline",
            f"party-{a}-agent_authority",
        ):
            form[name] = junk
        response = await client.post(f"/cases/{scheduled_case}/agreement/preview", data=form)
        assert response.status == 200, (junk, await response.text())
        body = await response.json()
        assert "<script>" not in body["html"]
        saved = await client.post(f"/cases/{scheduled_case}/agreement", data=form)
        assert saved.status in (200, 422), junk  # 200: the case page after a valid save
