"""The clause-level comparison and old plain drafts, as pure functions (no database)."""

from __future__ import annotations

from typing import Any

from documents.pdf import body_html
from documents.sealed import content_doc
from documents.versions import compare

PLAIN: dict[str, Any] = {  # a version drafted before structured terms existed
    "version": 1,
    "case": {"id": 1, "number": "（2026）吴矛调字第0001号", "dispute_type": "neighbour"},
    "organization": "松陵街道人民调解委员会",
    "mediator": {"id": 3, "name": "陈调解"},
    "parties": [
        {
            "id": 7,
            "role": "applicant",
            "name": "王秀兰",
            "id_masked": "3205**********0023",
            "phone_masked": "139****5678",
            "address": "联杨村12号",
        },
        {
            "id": 8,
            "role": "respondent",
            "name": "李建国",
            "id_masked": "",
            "phone_masked": "139****5679",
            "address": "联杨村14号",
        },
    ],
    "facts": "被申请人装修时拆除双方共用院墙。",
    "terms": ["李建国赔偿王秀兰八千元", "双方共用通道保持畅通"],
    "performance": "银行转账",
    "performance_deadline": "2026-12-31",
}


def test_an_old_plain_draft_still_renders() -> None:
    html = body_html(content_doc(PLAIN, 1, "ab" * 32, "", {}))
    assert "李建国赔偿王秀兰八千元" in html and "双方共用通道保持畅通" in html
    assert "姓名：王秀兰" in html and "term-detail" not in html and "争议事项：" not in html


def test_structured_terms_against_a_plain_version() -> None:
    structured = {
        **PLAIN,
        "terms": ["李建国赔偿王秀兰八千元", "双方重新砌墙", "双方共用通道保持畅通"],
        "term_details": [
            {"amount": "8000.00", "payer": 8, "payee": 7, "deadline": None, "manner": ""}
        ],
        "disputes": "院墙费用",
        "parties": [{**PLAIN["parties"][0], "sex": "female"}, PLAIN["parties"][1]],
    }
    changes = compare(PLAIN, structured)
    kinds = [(c.kind, c.status, c.old_number, c.new_number) for c in changes]
    assert kinds == [
        ("field", "added", None, None),  # disputed matters
        ("party", "added", None, None),  # 王秀兰's sex
        ("term", "changed", 1, 1),  # same text, now with an amount, payer and payee
        ("term", "added", None, 2),
    ]
    assert "8000.00" in changes[2].new and "李建国" in changes[2].new
    assert compare(structured, structured) == []
    removed = compare(structured, {**structured, "terms": structured["terms"][:1]})
    assert [(c.status, c.old_number) for c in removed] == [("removed", 2), ("removed", 3)]


def test_an_organisation_party_prints_its_credit_code_and_representative() -> None:
    company = {
        **PLAIN["parties"][1],
        "name": "苏州某建筑有限公司",
        "kind": "organisation",
        "credit_code": "91320509MA1XXXXXX0",
        "representative": "周某",
        "agent": {"name": "吴律师", "authority": "general"},
    }
    content = {**PLAIN, "parties": [PLAIN["parties"][0], company]}
    html = body_html(content_doc(content, 1, "ab" * 32, "", {}))
    assert "名称：苏州某建筑有限公司" in html
    assert "统一社会信用代码：91320509MA1XXXXXX0" in html
    assert "法定代表人（负责人）：周某" in html
    assert "委托代理人：吴律师（一般授权）" in html
