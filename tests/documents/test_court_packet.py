"""The court packet on both databases: the ZIP read back, the manifest's hashes equal the files,
its CMS signature verifies with the committee's certificate (with openssl too) and fails on one
changed byte, which the re-verifying viewer shows; only the filing's court and the case's staff
reach it; the job run twice or concurrently stores one packet; the viewer costs the same
statements whatever the packet holds."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import zipfile
from hashlib import sha256
from pathlib import Path

from aiohttp import web
from sqlalchemy import event, select

from app.auth import Principal, hash_password
from app.db import engine_key, sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Case, Organization, StaffUser
from app.settings import settings_key
from app.storage import storage_key, storage_root
from app.uploads import Upload
from booking.evidence import do_add_evidence, new_storage_key
from documents import court_review
from documents.keys import seal_keys_key
from documents.models import CourtFiling, CourtPacket
from documents.packet import MANIFEST, SIGNATURE, assemble
from documents.packet_check import check_signature
from tests.builders import filed, staff
from tests.documents.test_court_review import bearer
from tests.people import login, open_party_session, post_form

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n" + b"evidence scan " * 500 + b"\n%%EOF\n"


async def with_evidence(
    app: web.Application, case_id: int, count: int, kinds: tuple[str, ...] = ()
) -> None:
    """`count` uploads by the mediator: PDFs and photos in turn, each different; then one of
    each of `kinds` (identity, attorney)."""
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        mediator = Principal(kind="staff", staff_id=case.mediator_id, role="mediator")
        for n in range(count):
            photo = n % 2 == 1
            data = (PNG if photo else PDF) + bytes([n])
            kind = ("image/png", f"照片{n}.png") if photo else ("application/pdf", f"scan{n}.pdf")
            upload = Upload(kind[1], data)
            key = new_storage_key(case_id)
            await do_add_evidence(db, app[storage_key], mediator, case, upload, kind, key)
        for n, what in enumerate(kinds):
            upload = Upload(f"{what}.pdf", PDF + what.encode() + bytes([n]))
            checked = ("application/pdf", f"{what}.pdf")
            key = new_storage_key(case_id)
            await do_add_evidence(db, app[storage_key], mediator, case, upload, checked, key, what)


async def packet_filed(app: web.Application, demo: dict[str, int], evidence: int = 2) -> int:
    """A filing with `evidence` uploads, its packet assembled by the job runner."""
    filing_id = await filed(app, demo)
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
    await with_evidence(app, filing.case_id, evidence)
    await run_pending(app)
    return filing_id


async def packets(app: web.Application, filing_id: int) -> list[CourtPacket]:
    async with app[sessionmaker_key]() as db:
        return list(
            await db.scalars(
                select(CourtPacket)
                .where(CourtPacket.filing_id == filing_id)
                .order_by(CourtPacket.version)
            )
        )


async def stored_zip(app: web.Application, filing_id: int) -> tuple[CourtPacket, bytes]:
    (packet, *_rest) = [p for p in await packets(app, filing_id) if p.sha256][-1:]
    assert packet.storage_key is not None
    return packet, await app[storage_key].get(packet.storage_key)


def stored_path(app: web.Application, packet: CourtPacket) -> Path:
    assert packet.storage_key is not None
    return storage_root(app[settings_key]) / packet.storage_key


def rezip(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    """The same ZIP with one byte of member `name` changed (the first `old` becomes `new`)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == name:
                assert old in body and len(old) == len(new)
                body = body.replace(old, new, 1)
            target.writestr(info, body)
    return out.getvalue()


async def org_cert(app: web.Application, demo: dict[str, int]) -> bytes:
    async with app[sessionmaker_key]() as db:
        org = await db.get(Organization, demo["org:town"])
        assert org is not None
    keys = app[seal_keys_key]
    return await asyncio.to_thread(lambda: keys.for_org(org.id, org.name).cert_pem)


async def test_the_packet_lists_every_file_and_its_signature_verifies(app, client, demo, tmp_path):
    filing_id = await packet_filed(app, demo, evidence=3)
    packet, data = await stored_zip(app, filing_id)
    assert packet.version == 1 and packet.sha256 == sha256(data).hexdigest()
    assert packet.size == len(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read(MANIFEST))
    names = [f["name"] for f in manifest["files"]]
    assert names[:2] == ["application/joint-application.pdf", "agreement/agreement.pdf"]
    assert [n.split("/")[0] for n in names[2:]] == ["evidence"] * 3
    assert "evidence/02-照片1.png" in names
    for entry in manifest["files"]:
        body = archive.read(entry["name"])
        assert entry["sha256"] == sha256(body).hexdigest() and entry["size"] == len(body)
    assert set(archive.namelist()) == {*names, MANIFEST, SIGNATURE, "signer-cert.pem"}
    # The case data, with ID numbers masked.
    assert manifest["filing"]["id"] == filing_id
    assert manifest["filing"]["court"]["id"] == demo["org:court"]
    assert manifest["agreement"]["pdf_sha256"] == manifest["files"][1]["sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["agreement"]["version_hash"])
    for party in manifest["parties"]:
        assert party["id_masked"] == "" or "*" in party["id_masked"]
    assert all(not re.search(r"\d{17}[\dX]", json.dumps(p)) for p in manifest["parties"])
    cert = await org_cert(app, demo)
    manifest_bytes, signature = archive.read(MANIFEST), archive.read(SIGNATURE)
    good = await asyncio.to_thread(check_signature, manifest_bytes, signature, cert, cert)
    assert good.ok()
    changed = manifest_bytes.replace(b'"size": ', b'"size":  ', 1)
    bad = await asyncio.to_thread(check_signature, changed, signature, cert, cert)
    assert bad.present and not bad.intact and not bad.ok()
    # A court verifies it with a standard tool and the committee's certificate.
    for name, body in (("m.json", manifest_bytes), ("m.sig", signature), ("c.pem", cert)):
        (tmp_path / name).write_bytes(body)
    verify = [
        *("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any"),
        *("-in", str(tmp_path / "m.sig"), "-content", str(tmp_path / "m.json")),
        *("-CAfile", str(tmp_path / "c.pem"), "-out", "/dev/null"),
    ]
    assert (await asyncio.to_thread(subprocess.run, verify, capture_output=True)).returncode == 0
    (tmp_path / "m.json").write_bytes(changed)
    assert (await asyncio.to_thread(subprocess.run, verify, capture_output=True)).returncode != 0


async def viewer(client, filing_id: int) -> str:
    response = await client.get(f"/filings/{filing_id}/packet")
    assert response.status == 200, await response.text()
    return await response.text()


def marks(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-(?:check|file)="([^"]+)" data-ok="(yes|no)"', page))


async def test_the_viewer_reverifies_and_shows_a_changed_byte(app, client, demo):
    filing_id = await packet_filed(app, demo)
    await login(client, "clerk")
    page = await viewer(client, filing_id)
    assert 'id="packet-result" data-ok="yes"' in page
    assert set(marks(page).values()) == {"yes"}
    assert {"zip", "signature", "seal", "0", "1", "2", "3"} <= set(marks(page))
    frame = f'<iframe class="packet-pdf" title="agreement/agreement.pdf" src="/filings/{filing_id}'
    assert frame + '/packet/files/1"' in page
    assert f'href="/filings/{filing_id}/packet.zip"' in page
    inbox = await (await client.get("/court/inbox")).text()
    assert f'href="/filings/{filing_id}/packet"' in inbox
    packet, data = await stored_zip(app, filing_id)
    path = stored_path(app, packet)
    # One byte of one evidence file: that file gets a cross, and so does the ZIP's hash.
    path.write_bytes(rezip(data, "evidence/01-scan0.pdf", b"scan", b"scam"))
    page = await viewer(client, filing_id)
    assert 'id="packet-result" data-ok="no"' in page
    assert marks(page)["2"] == "no" and marks(page)["zip"] == "no"
    assert marks(page)["1"] == "yes" and marks(page)["signature"] == "yes"
    # One byte of the manifest (still valid JSON): its signature fails, the files do not.
    path.write_bytes(rezip(data, MANIFEST, b'"created_at": "2', b'"created_at": "3'))
    page = await viewer(client, filing_id)
    assert marks(page)["signature"] == "no" and marks(page)["2"] == "yes"
    assert 'id="packet-result" data-ok="no"' in page
    # The sealed agreement itself changed: its seal and its hash fail.
    path.write_bytes(rezip(data, "agreement/agreement.pdf", b"/Type", b"/Typf"))
    page = await viewer(client, filing_id)
    assert marks(page)["1"] == "no" and marks(page)["seal"] == "no"
    # The file lost from storage: every check fails, shown; the ZIP is refused with a 409.
    path.unlink()
    page = await viewer(client, filing_id)
    assert marks(page)["zip"] == "no" and marks(page)["readable"] == "no"
    assert (await client.get(f"/filings/{filing_id}/packet.zip")).status == 409


async def test_one_file_is_served_inline_and_the_zip_whole(app, client, demo):
    filing_id = await packet_filed(app, demo)
    packet, data = await stored_zip(app, filing_id)
    await login(client, "judge")
    pdf = await client.get(f"/filings/{filing_id}/packet/files/0")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("inline")
    assert pdf.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert (await pdf.read()).startswith(b"%PDF-")
    png = await client.get(f"/filings/{filing_id}/packet/files/3")
    assert png.content_type == "image/png"
    assert (await client.get(f"/filings/{filing_id}/packet/files/9")).status == 404
    whole = await client.get(f"/filings/{filing_id}/packet.zip")
    assert whole.status == 200 and whole.content_type == "application/zip"
    assert await whole.read() == data
    headers = await bearer(app, demo["user:clerk"])
    api = await client.get(f"/api/v1/court/filings/{filing_id}/packet", headers=headers)
    assert api.status == 200 and api.headers["X-Packet-SHA256"] == packet.sha256
    assert sha256(await api.read()).hexdigest() == packet.sha256


async def other_court_clerk(app: web.Application) -> int:
    async with transaction(app) as db:
        other = Organization(name="另一法院", short_name="另", tier="district", kind="court")
        db.add(other)
        await db.flush()
        clerk = StaffUser(
            org_id=other.id,
            username="other-clerk",
            display_name="other",
            role="court_clerk",
            password_hash=hash_password("x" * 12),
        )
        db.add(clerk)
        await db.flush()
        return clerk.id


async def test_only_the_court_and_the_case_staff_reach_the_packet(app, client, demo, new_client):
    filing_id = await packet_filed(app, demo, evidence=1)
    paths = [f"/filings/{filing_id}/packet{tail}" for tail in ("", ".zip", "/files/0")]
    other = await other_court_clerk(app)
    api = f"/api/v1/court/filings/{filing_id}/packet"
    assert (await client.get(api, headers=await bearer(app, other))).status == 404
    assert (await client.get(api, headers=await bearer(app, demo["user:mediator"]))).status == 403
    await login(client, "other-clerk", "x" * 12)
    for path in paths:
        assert (await client.get(path)).status == 404, path
    party = await new_client()
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
    await open_party_session(party, app, filing.case_id)
    for path in paths:
        assert (await party.get(path)).status == 404, path
    mediator = await new_client()
    await login(mediator, "mediator")
    for path in paths:
        assert (await mediator.get(path)).status == 200, path
    case_page = await (await mediator.get(f"/cases/{filing.case_id}")).text()
    assert f'id="court-packet" href="/filings/{filing_id}/packet"' in case_page
    party_case = await party.get(f"/cases/{filing.case_id}")
    assert party_case.status == 200 and 'id="court-result"' in await party_case.text()
    assert 'id="court-packet"' not in await party_case.text()
    coordinator = await new_client()
    await login(coordinator, "coordinator")
    assert (await coordinator.get(paths[1])).status == 200
    anonymous = await new_client()
    assert (await anonymous.get(api)).status == 401


async def test_the_job_run_twice_or_at_once_stores_one_packet(app, client, demo):
    filing_id = await filed(app, demo)
    (reserved,) = await packets(app, filing_id)
    assert reserved.sha256 is None
    results = await asyncio.gather(*(assemble(app, reserved.id) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert await assemble(app, reserved.id) is False
    await run_pending(app)  # the job the filing enqueued finds the row filled and stops
    (packet,) = await packets(app, filing_id)
    assert packet.sha256 is not None and packet.storage_key is not None
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
    folder = storage_root(app[settings_key]) / "cases" / str(filing.case_id) / "packets"
    assert [p.name for p in folder.iterdir()] == [packet.storage_key.rsplit("/", 1)[1]]


async def test_a_resubmission_after_a_supplement_makes_the_next_version(app, client, demo):
    filing_id = await packet_filed(app, demo, evidence=0)
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        clerk = staff(demo, "clerk", "court_clerk", "court")
        await court_review.review(db, clerk, filing, "supplement", note="请补充身份证明")
        case_id = filing.case_id
    await with_evidence(app, case_id, 1)
    await login(client, "mediator")
    statuses = await asyncio.gather(
        *(
            post_form(client, f"/cases/{case_id}/filing/resubmit", {"note": "已补充"})
            for _ in range(2)
        )
    )
    assert sorted(r.status for r in statuses)[0] == 200
    await run_pending(app)
    first, second = await packets(app, filing_id)
    assert (first.version, second.version) == (1, 2) and second.sha256 is not None
    _packet, data = await stored_zip(app, filing_id)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(MANIFEST))
    assert manifest["filing"]["packet_version"] == 2
    assert [f["kind"] for f in manifest["files"]] == ["application", "agreement", "evidence"]


async def test_the_viewer_costs_the_same_statements_for_few_or_many_files(app, client, demo):
    small, large = await packet_filed(app, demo, 1), await packet_filed(app, demo, 6)
    await login(client, "clerk")
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app[engine_key].sync_engine
    counts = []
    for filing_id in (small, large):
        statements.clear()
        event.listen(engine, "before_cursor_execute", counted)
        try:
            page = await viewer(client, filing_id)
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        assert 'data-ok="yes"' in page
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[0] <= 8, counts


async def test_identity_documents_and_powers_of_attorney_have_their_places(app, client, demo):
    filing_id = await filed(app, demo)
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
    await with_evidence(app, filing.case_id, 1, ("attorney", "identity"))
    await run_pending(app)
    _packet, data = await stored_zip(app, filing_id)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(MANIFEST))
    assert [(f["kind"], f["name"]) for f in manifest["files"]] == [
        ("application", "application/joint-application.pdf"),
        ("agreement", "agreement/agreement.pdf"),
        ("identity", "identity/01-identity.pdf"),
        ("evidence", "evidence/01-scan0.pdf"),
        ("attorney", "attorney/01-attorney.pdf"),
    ]
