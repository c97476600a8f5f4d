"""The public verification page's own form: a genuine sealed PDF is confirmed, a tampered one is
caught, anything else gets a clear answer — and the CSRF check never eats the upload."""

from __future__ import annotations

import aiohttp
import pytest

from app.settings import settings_key
from documents.sealed import sealed_pdf
from tests.browsers import chromium, new_page
from tests.builders import effective
from tests.people import csrf, seed_ids


async def effective_pdf(app, demo) -> tuple[bytes, str]:
    agreement = await effective(app, demo)
    return (await sealed_pdf(app, agreement.id)).pdf, agreement.version_hash


def tampered(pdf: bytes) -> bytes:
    """One letter of the signed revision's Info /Creator changed (see test_seal.py)."""
    at = pdf.index(b"room)", pdf.index(b"/Creator (")) + 3
    assert at < pdf.index(b"/ByteRange")
    return pdf[:at] + b"n" + pdf[at + 1 :]


async def post_pdf(client, data: bytes, filename: str = "agreement.pdf"):
    token = await csrf(client, "/verify/" + "0" * 64)
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("pdf", data, filename=filename, content_type="application/pdf")
    return await client.post("/verify", data=form)


async def test_verify_form_over_http(app, client, demo) -> None:
    pdf, _hash = await effective_pdf(app, demo)
    genuine = await post_pdf(client, pdf)
    assert genuine.status == 200
    assert 'id="verify-result"' in (text := await genuine.text())
    assert "印章有效，文件盖章后未被修改" in text
    changed = await post_pdf(client, tampered(pdf))
    assert changed.status == 200
    assert "盖章后被修改" in await changed.text()
    other = await post_pdf(client, b"GIF89a not a pdf at all", "picture.gif")
    assert other.status == 400 and 'id="verify-problem"' in await other.text()
    empty = await post_pdf(client, b"", "empty.pdf")
    assert empty.status == 400


@pytest.mark.browser
async def test_verify_form_in_chromium(live_app, tmp_path) -> None:
    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    pdf, version_hash = await effective_pdf(live_app, demo)
    (tmp_path / "genuine.pdf").write_bytes(pdf)
    (tmp_path / "tampered.pdf").write_bytes(tampered(pdf))
    async with chromium() as browser:
        page = await new_page(browser, "citizen", phone=True)
        results = {}
        for name in ("genuine", "tampered"):
            await page.goto(f"{base}/verify/{version_hash}")
            await page.set_input_files("input[name=pdf]", str(tmp_path / f"{name}.pdf"))
            await page.click("form[action='/verify'] button[type=submit]")
            result = page.locator("#verify-result")
            await result.wait_for()
            results[name] = (await result.get_attribute("class"), await result.inner_text())
    assert results["genuine"][0] == "ok", results
    assert results["tampered"][0] == "error", results
