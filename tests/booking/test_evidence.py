"""Evidence uploads: checked by content and size (a per-route limit above the app's 2 MiB), seen
by the uploader and the case's staff only, downloaded as attachments, nothing kept on error."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.factory import MAX_BODY
from app.lifecycle import CaseStatus, advance
from app.models import Case
from app.settings import Settings, settings_key
from app.storage import storage_root
from booking.models import Evidence
from tests.booking.intake_data import File, post
from tests.booking.setup_data import bearer, count
from tests.people import login, open_party_session

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 500
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 100
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 500
PE = b"MZ\x90\x00" + b"\x00" * 500
LIMIT = 3 * 1024 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, evidence_max_bytes=LIMIT)


def pdf(size: int) -> bytes:
    return b"%PDF-1.7\n" + b"0" * (size - 9)


async def files_on_disk(app: web.Application) -> int:
    root = storage_root(app[settings_key]) / "evidence"
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


async def upload(client, case_id: int, data: bytes, name: str, **kw):
    return await post(
        client,
        f"/cases/{case_id}/evidence",
        {"file": File(data, name)},
        allow_redirects=False,
        **kw,
    )


async def test_a_party_uploads_and_only_they_and_the_staff_see_it(app, client, new_client, demo):
    case_id = demo["case"]
    await open_party_session(client, app, case_id, "applicant")
    big = pdf(MAX_BODY + 500_000)  # larger than any other route accepts
    response = await upload(client, case_id, big, "合同 扫描件.pdf")
    assert response.status == 303, await response.text()
    assert (await upload(client, case_id, JPEG, "../../etc/现场.jpg")).status == 303
    async with app[sessionmaker_key]() as db:
        rows = list(await db.scalars(select(Evidence).order_by(Evidence.id)))
    assert [(r.filename, r.content_type, r.size) for r in rows] == [
        ("合同 扫描件.pdf", "application/pdf", len(big)),
        ("现场.jpg", "image/jpeg", len(JPEG)),
    ]
    assert rows[0].sha256 == hashlib.sha256(big).hexdigest()
    assert rows[0].uploader.startswith("party:") and "evidence/" in rows[0].storage_key
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "合同 扫描件.pdf" in page and 'type="file"' in page

    download = await client.get(f"/cases/{case_id}/evidence/{rows[0].id}")
    assert download.status == 200 and await download.read() == big
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E5%90%88" in download.headers["Content-Disposition"]

    other = await new_client()  # the respondent, in another browser
    await open_party_session(other, app, case_id, "respondent")
    assert "合同 扫描件.pdf" not in await (await other.get(f"/cases/{case_id}")).text()
    assert (await other.get(f"/cases/{case_id}/evidence/{rows[0].id}")).status == 404

    staff = await new_client()
    await login(staff, "coordinator")
    listed = await staff.get(f"/api/v1/cases/{case_id}/evidence")
    assert [item["filename"] for item in (await listed.json())["evidence"]] == [
        "合同 扫描件.pdf",
        "现场.jpg",
    ]
    assert (await staff.get(f"/cases/{case_id}/evidence/{rows[1].id}")).status == 200


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (ELF, "photo.jpg", 400),  # an executable dressed as a photo
        (PE, "scan.pdf", 400),
        (b"GIF89a" + b"\x00" * 50, "a.gif", 400),
        (b"", "empty.jpg", 400),
        (pdf(LIMIT + 1), "too-big.pdf", 413),
        (pdf(LIMIT + 200_000), "far-too-big.pdf", 413),  # past the route's body limit too
    ],
)
async def test_disguised_empty_and_oversized_files_are_refused(
    app, client, demo, data, name, status
):
    case_id = demo["case"]
    await open_party_session(client, app, case_id)
    response = await upload(client, case_id, data, name, headers={"Accept": "application/json"})
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body["messages"]) == {"zh_CN", "en"}
    assert await count(app, Evidence) == 0 and await files_on_disk(app) == 0


async def test_the_api_takes_evidence_once_per_key(app, client, demo):
    case_id = demo["case"]
    headers = {**await bearer(app, demo["user:coordinator"]), "Idempotency-Key": "scan-1"}
    path = f"/api/v1/cases/{case_id}/evidence"
    answers = []
    for data in (PNG, PNG):
        form = {"file": File(data, "p.png", "image/png")}
        answers.append(await post(client, path, form, headers=headers))
    assert [a.status for a in answers] == [201, 201]
    first, again = [await a.json() for a in answers]
    assert first == again and first["content_type"] == "image/png" and first["mine"] is True
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert await count(app, Evidence) == 1 and await files_on_disk(app) == 1
    webp = await post(
        client,
        path,
        {"file": File(WEBP, "w.webp")},
        headers=await bearer(app, demo["user:coordinator"]),
    )
    assert webp.status == 201 and (await webp.json())["content_type"] == "image/webp"
    listed = await client.get(path, headers=await bearer(app, demo["user:coordinator"]))
    assert len((await listed.json())["evidence"]) == 2
    # Outside the caller's tree, or without a token: nothing to see.
    anonymous = await client.get(path)
    assert anonymous.status == 404


async def test_no_evidence_once_the_case_is_over(app, client, demo):
    case_id = demo["case"]
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        await advance(db, case, CaseStatus.WITHDRAWN, "test")
    await open_party_session(client, app, case_id)
    response = await upload(client, case_id, JPEG, "late.jpg")
    assert response.status == 409
    assert await count(app, Evidence) == 0 and await files_on_disk(app) == 0


async def test_a_file_says_what_it_is_and_a_wrong_kind_stores_nothing(app, client, demo):
    case_id = demo["case"]
    await open_party_session(client, app, case_id)
    json = {"Accept": "application/json"}
    for kind in ("passport", "EVIDENCE", "identity\x00"):
        refused = await post(
            client,
            f"/cases/{case_id}/evidence",
            {"file": File(JPEG, "id.jpg"), "kind": kind},
            headers=json,
        )
        assert refused.status == 422, (kind, await refused.text())
        assert set((await refused.json())["messages"]) == {"zh_CN", "en"}
    assert await count(app, Evidence) == 0 and await files_on_disk(app) == 0
    for kind in ("identity", "attorney", ""):
        stored = await post(
            client,
            f"/cases/{case_id}/evidence",
            {"file": File(JPEG + kind.encode(), f"{kind or 'photo'}.jpg"), "kind": kind},
            headers=json,
        )
        assert stored.status == 201, await stored.text()
        assert (await stored.json())["kind"] == (kind or "evidence")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'name="kind"' in page and "授权委托书" in page
