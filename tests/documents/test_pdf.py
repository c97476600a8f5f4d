"""The printable agreement: content, PDF/A-3b conformance markers, fonts, attachments, pool."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import segno
from pypdf import PdfReader

from documents.pdf import (
    AgreementDoc,
    EvidenceLine,
    PartyLine,
    PdfRenderer,
    agreement_html,
    agreement_pdf,
    html_to_pdfa,
)
from tests.pdf_reading import pdf_text, poppler, signature_png

AGREEMENT_JSON = json.dumps(
    {"case_number": "（2026）吴矛调字第0001号", "version": 3, "terms": ["修复防水层"]},
    ensure_ascii=False,
).encode()
ATTACHMENTS = (("agreement.json", AGREEMENT_JSON, "调解协议数据"),)


def evidence_line(doc: AgreementDoc, client: str = "127.0.0.1 Mozilla/5.0") -> EvidenceLine:
    return EvidenceLine(
        name="王秀兰",
        signed_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        step_up="短信验证码 138****5678",
        client=client,
        session="会话 12",
        version_hash=doc.version_hash,
        image_sha256="cd" * 32,
    )


def make_doc(terms: tuple[str, ...] | None = None, effective: bool = True) -> AgreementDoc:
    png = signature_png()
    # 17:30 UTC on the 19th is 01:30 on the 20th in Shanghai: dates must be local.
    signed = datetime(2026, 11, 19, 17, 30, tzinfo=UTC)
    return AgreementDoc(
        org_name="吴江区松陵街道人民调解委员会",
        case_number="（2026）吴矛调字第0001号",
        dispute_type="邻里纠纷",
        parties=(
            PartyLine(
                name="王秀兰",
                role="申请人",
                id_masked="3205**********1234",
                phone_masked="138****5678",
                address="江苏省苏州市吴江区松陵街道某小区1幢101室",
                signature_png=png,
                signed_at=signed,
            ),
            PartyLine(
                name="李建国",
                role="被申请人",
                id_masked="3205**********5678",
                phone_masked="139****1234",
                address="江苏省苏州市吴江区松陵街道某小区1幢201室",
                signature_png=png,
                signed_at=signed,
            ),
        ),
        facts=(
            "申请人王秀兰与被申请人李建国系楼上楼下邻居。被申请人家中卫生间漏水，"
            "导致申请人家中天花板受潮。\n\n"
            "经查明，漏水系被申请人卫生间防水层老化所致，被申请人应承担维修及赔偿责任。"
        ),
        terms=terms
        or (
            "1. 被申请人于12月10日前修复防水层",
            "被申请人赔偿申请人修复费用三千元",
            "双方和睦相处，本纠纷就此了结",
        ),
        performance="银行转账支付；防水层由被申请人委托施工单位修复。",
        performance_deadline=date(2026, 12, 31),
        mediator_name="张明",
        version=3,
        version_hash="0123456789abcdef" * 4,
        verify_url="https://mediation.example.cn/verify/0123456789abcdef",
        effective_at=signed if effective else None,
    )


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return agreement_pdf(make_doc(), ATTACHMENTS)  # as the render worker prints it


@pytest.mark.parametrize("evidence", [False, True])
def test_the_worker_draws_the_pages_of_the_standalone_page(evidence: bool) -> None:
    # The worker applies the stylesheet parsed once, not inline: every page must be drawn the
    # same, operator for operator (the evidence page has tables laid out both ways).
    doc = make_doc()
    if evidence:
        line = evidence_line(
            doc, "127.0.0.1 Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"
        )
        doc = AgreementDoc(**{**doc.__dict__, "evidence": (line, line)})
    assert "<style>" not in agreement_html(doc, inline_css=False)
    inline = PdfReader(io.BytesIO(html_to_pdfa(agreement_html(doc), ())))
    apart = PdfReader(io.BytesIO(agreement_pdf(doc, ())))
    assert len(apart.pages) == len(inline.pages) == (3 if evidence else 2)
    for ours, theirs in zip(apart.pages, inline.pages, strict=True):
        assert ours.get_contents().get_data() == theirs.get_contents().get_data()  # type: ignore[union-attr]


def test_text_carries_the_agreement(pdf: bytes) -> None:
    text = pdf_text(pdf)
    for expected in (
        "人民调解协议书",
        "（2026）吴矛调字第0001号",
        "王秀兰",
        "李建国",
        "被申请人赔偿申请人修复费用三千元",
        "张明",
        "吴江区松陵街道人民调解委员会",
        "2026年12月31日",
        "司法确认",
        "三十日内",
        "扫码核验",
        "0123456789abcdef",
    ):
        assert expected in text, expected
    assert "签名时间：2026年11月20日 01:30" in text  # Asia/Shanghai, not UTC
    assert "生效日期：2026年11月20日" in text
    # The template numbers the terms; a number typed into a term is part of what was signed.
    assert re.search(r"1．\s*1\. 被申请人于12月10日前修复防水层", text)
    assert re.search(r"2．\s*被申请人赔偿申请人修复费用三千元", text)
    assert re.search(r"3．\s*双方和睦相处，本纠纷就此了结", text)


def test_every_font_is_embedded(pdf: bytes) -> None:
    lines = poppler("pdffonts", "-", stdin=pdf).splitlines()
    emb = lines[0].index("emb")
    fonts = lines[2:]
    assert fonts, "no fonts at all"
    assert all(line[emb : emb + 3] == "yes" for line in fonts), lines
    assert any("Noto-Serif-CJK-SC" in line for line in fonts)


def test_declares_pdfa_3b(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp), xmp
    assert re.search(r'pdfaid:conformance(="|>)B', xmp), xmp
    intents = root["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    assert pdf.startswith(b"%PDF-1.7")
    # PDF/A-3 associates attachments with the document through /AF, each exactly once.
    assert len(root["/AF"]) == len(ATTACHMENTS)


def test_json_attachment_round_trips(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["agreement.json"] == [AGREEMENT_JSON]


def test_user_input_is_escaped() -> None:
    doc = make_doc(terms=("赔偿<script>alert(1)</script>元", "<b>加粗</b>"))
    html = agreement_html(doc)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;加粗&lt;/b&gt;" in html
    text = pdf_text(html_to_pdfa(html, ()))
    assert "<script>alert(1)</script>" in text  # shown as text, not swallowed as markup


def test_terms_are_rendered_exactly_as_signed() -> None:
    terms = ("1. 修复防水层", "（二）赔偿三千元", "三、四号楼之间的通道共用", "1.5万元  分期支付")
    html = agreement_html(make_doc(terms=terms))
    items = re.findall(r'<li><span class="verbatim">(.*?)</span>', html)
    assert items == list(terms)


def test_facts_and_performance_are_rendered_line_by_line_as_written() -> None:
    doc = make_doc()
    facts = "三、四号楼的住户  共用通道\n\n（二）被申请人 于2026年搭建车棚"
    doc = AgreementDoc(**{**doc.__dict__, "facts": facts, "performance": "银行转账  分两期"})
    paragraphs = re.findall(r'<p class="indent verbatim">(.*?)</p>', agreement_html(doc))
    assert paragraphs == [
        "三、四号楼的住户  共用通道",
        "（二）被申请人 于2026年搭建车棚",
        "履行方式：银行转账  分两期",
    ]


def test_unsigned_draft_says_not_effective() -> None:
    doc = make_doc(effective=False)
    doc = AgreementDoc(
        **{
            **doc.__dict__,
            "parties": tuple(
                PartyLine(**{**p.__dict__, "signature_png": None, "signed_at": None})
                for p in doc.parties
            ),
        }
    )
    html = agreement_html(doc)
    assert "尚未签名" in html
    assert "本协议尚未生效" in html
    assert "生效日期" not in html


def test_rejects_non_png_signature_and_bad_hash() -> None:
    doc = make_doc()
    bad_party = PartyLine(**{**doc.parties[0].__dict__, "signature_png": b"GIF89a..."})
    with pytest.raises(ValueError, match="PNG"):
        agreement_html(AgreementDoc(**{**doc.__dict__, "parties": (bad_party,)}))
    with pytest.raises(ValueError, match="sha256"):
        agreement_html(AgreementDoc(**{**doc.__dict__, "version_hash": "x" * 64}))


def test_renderer_fetches_only_data_urls(tmp_path: Path) -> None:
    png = tmp_path / "signature.png"
    png.write_bytes(signature_png())
    data_uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()

    def images(src: str) -> int:
        pdf = html_to_pdfa(f'<p>正文</p><img src="{src}">', ())
        return len(PdfReader(io.BytesIO(pdf)).pages[0].images)

    assert images(data_uri) == 1
    assert images(png.as_uri()) == 0  # the HTML carries user input: no disk or network


def test_long_agreement_repeats_footer_on_every_page() -> None:
    paragraph = "申请人与被申请人就房屋漏水的维修责任和赔偿数额发生争议，多次协商未果。" * 6
    doc = make_doc()
    terms = tuple(f"第{n}项：被申请人应当履行相应义务" for n in range(1, 13))
    doc = AgreementDoc(**{**doc.__dict__, "facts": "\n".join([paragraph] * 10), "terms": terms})
    text = pdf_text(html_to_pdfa(agreement_html(doc), ()))
    assert re.search(r"12．\s*第12项：被申请人应当履行相应义务", text)
    pages = text.rstrip("\f").split("\f")
    assert 2 <= len(pages) <= 4
    for number, page in enumerate(pages, start=1):
        assert "扫码核验" in page
        assert "0123456789abcdef" in page
        assert f"第 {number} 页，共 {len(pages)} 页" in page
    assert "王秀兰" in pages[-1]  # the signature block comes last


def test_every_page_prints_the_qr_code_of_the_verification_url() -> None:
    doc = make_doc()
    long = AgreementDoc(**{**doc.__dict__, "facts": "申请人与被申请人发生纠纷。" * 300})
    reader = PdfReader(io.BytesIO(html_to_pdfa(agreement_html(long), ())))
    assert len(reader.pages) >= 2
    expected = segno.make(doc.verify_url, error="m", micro=False)
    size = expected.symbol_size(border=0)
    modules = bytes(0 if dark else 255 for row in expected.matrix for dark in row)
    shared = set()
    for page in reader.pages:
        (qr,) = [i for i in page.images if i.image.size == size]
        assert qr.image.mode == "L" and qr.image.tobytes() == modules  # one pixel per module
        xobject = qr.indirect_reference.get_object()
        # Not interpolated: printed as sharp squares (and PDF/A allows no other value).
        assert xobject["/Interpolate"].value is False
        shared.add(qr.indirect_reference.idnum)
    assert len(shared) == 1  # one image, placed on every page


async def test_renderer_pool_renders_and_closes() -> None:
    renderer = PdfRenderer(max_workers=1)
    try:
        await renderer.warm_up()
        pdf = await renderer.render(make_doc(), ATTACHMENTS)
    finally:
        renderer.close()
    assert "李建国" in pdf_text(pdf)
    assert PdfReader(io.BytesIO(pdf)).attachments["agreement.json"] == [AGREEMENT_JSON]
    with pytest.raises(RuntimeError, match="closed"):
        await renderer.render(make_doc(), ATTACHMENTS)
    renderer.close()  # idempotent


async def test_renderer_survives_a_dead_worker() -> None:
    renderer = PdfRenderer(max_workers=1)
    try:
        with pytest.raises(BrokenProcessPool):
            await renderer._run(os._exit, 1)  # what the OOM killer does to a worker
        pdf = await renderer.render(make_doc(), ATTACHMENTS)
    finally:
        renderer.close()
    assert "王秀兰" in pdf_text(pdf)
