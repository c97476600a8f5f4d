"""Webhook push to a court system on both databases, against a real receiver on loopback that
verifies the HMAC: each packet (the filing's, then the supplemented version) is announced once
it is assembled, keyed by the packet's id, and a withdrawal after it, each signed;
a body changed by one byte is refused (401) and dead-lettered at once; 5xx and 429 are retried
with backoff until the attempts run out; an admin re-queues a dead letter once however often
they click, and only within their subtree."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from app.auth import create_api_token, hash_password
from app.db import sessionmaker_key, transaction, utcnow
from app.jobs import run_pending
from app.models import Case, CourtWebhook, Job, Organization, StaffUser
from app.settings import ROOT
from app.webhooks import KIND, RETRY, signature
from documents import court_review, packet
from documents.models import CourtFiling, CourtPacket
from tests.builders import filed, party_principals, staff
from tests.court_receiver import Receiver, running_receiver, verified
from tests.people import login


async def bearer(app: web.Application, staff_id: int) -> dict[str, str]:
    async with transaction(app) as db:
        return {"Authorization": f"Bearer {await create_api_token(db, staff_id, 'test')}"}


async def hook_up(client, app: web.Application, demo: dict[str, int], receiver: Receiver) -> None:
    """The admin points the demo court's webhook at the receiver, which learns the secret."""
    admin = await bearer(app, demo["user:admin"])
    path = f"/api/v1/admin/court-webhooks/{demo['org:court']}"
    response = await client.put(path, json={"url": receiver.url}, headers=admin)
    assert response.status == 200, await response.text()
    receiver.secret = (await response.json())["secret"]
    async with app[sessionmaker_key]() as db:
        hook = await db.get(CourtWebhook, demo["org:court"])
    assert hook is not None and receiver.secret not in hook.secret_sealed


async def deliveries(app: web.Application) -> list[Job]:
    async with app[sessionmaker_key]() as db:
        return list(await db.scalars(select(Job).where(Job.kind == KIND).order_by(Job.id)))


async def due_now(app: web.Application) -> None:
    async with transaction(app) as db:
        await db.execute(update(Job).where(Job.kind == KIND).values(run_after=utcnow()))


async def test_filing_events_reach_the_court_signed(app, client, demo) -> None:
    async with running_receiver(Receiver()) as receiver:
        await hook_up(client, app, demo, receiver)
        filing_id = await filed(app, demo)
        assert await deliveries(app) == []  # nothing to fetch yet: the packet is not built
        await run_pending(app)  # assembles packet 1, which queues and sends its event
        async with transaction(app) as db:
            filing = await db.get(CourtFiling, filing_id)
            assert filing is not None
            case = await db.get(Case, filing.case_id)
            assert case is not None
            clerk = staff(demo, "clerk", "court_clerk", "court")
            await court_review.review(db, clerk, filing, "supplement", note="请补充身份证明")
            mediator = staff(demo, "mediator", "mediator", "town")
            await court_review.resubmit(db, mediator, case, filing, "已补充")
        await run_pending(app)  # packet 2
        (party, *_rest) = await party_principals(app, case.id)
        async with transaction(app) as db:
            filing = await db.get(CourtFiling, filing_id)
            assert filing is not None
            await court_review.withdraw(db, party, filing, "双方已自行履行")
        queued = await deliveries(app)
        assert [job.org_id for job in queued] == [case.org_id] * 3  # the filing side's org
        started = int(time.time())
        await run_pending(app)
        async with app[sessionmaker_key]() as db:
            packets = list(
                await db.scalars(
                    select(CourtPacket)
                    .where(CourtPacket.filing_id == filing_id)
                    .order_by(CourtPacket.version)
                )
            )

    assert [p.version for p in packets] == [1, 2]
    keys = [f"packet-{packets[0].id}", f"packet-{packets[1].id}", f"filing-{filing_id}-withdrawn"]
    assert list(receiver.registered) == keys and not receiver.duplicates and not receiver.refused
    events = [receiver.registered[k]["event"] for k in keys]
    assert events == ["packet.ready", "packet.ready", "filing.withdrawn"]
    for made, key in zip(packets, keys, strict=False):
        body = receiver.registered[key]
        assert body["packet"] == {
            "id": made.id,
            "version": made.version,
            "sha256": made.sha256,
            "size": made.size,
            "url": f"/api/v1/court/filings/{filing_id}/packet",
        }
        assert body["filing"]["id"] == filing_id and body["court_id"] == demo["org:court"]
        assert body["case"] == {"id": case.id, "number": case.number}
        assert "parties" not in body  # no personal data is pushed
    for headers in receiver.headers[-1:]:
        assert abs(int(headers["X-Mediation-Timestamp"]) - started) <= 5
    for headers in receiver.headers:
        assert headers["X-Mediation-Signature"].startswith("sha256=")
    assert [job.status for job in await deliveries(app)] == ["done"] * 3


async def test_a_packet_recorded_twice_is_announced_once(app, client, demo) -> None:
    """Two assemblies of one packet racing (a job run again after its worker died): one
    records the packet and queues its event, the other finds it recorded."""
    async with running_receiver(Receiver()) as receiver:
        await hook_up(client, app, demo, receiver)
        filing_id = await filed(app, demo)
        async with app[sessionmaker_key]() as db:
            packet_id = await db.scalar(
                select(CourtPacket.id).where(CourtPacket.filing_id == filing_id)
            )
        assert packet_id is not None
        outcomes = await asyncio.gather(*(packet.assemble(app, packet_id) for _ in range(4)))
        assert sorted(outcomes) == [False, False, False, True]
        await run_pending(app)
    assert list(receiver.registered) == [f"packet-{packet_id}"]
    assert [job.status for job in await deliveries(app)] == ["done"]


def test_the_receiver_s_check_refuses_one_changed_byte() -> None:
    raw = b'{"event":"filing.filed","filing":{"id":1}}'
    header = signature("s3cret", raw)
    assert verified("s3cret", raw, header)
    assert not verified("s3cret", raw.replace(b"1", b"2"), header)
    assert not verified("other", raw, header)


async def test_a_tampered_body_is_refused_and_dead_lettered_then_requeued_once(
    app, client, demo
) -> None:
    async with running_receiver(Receiver(tamper=True)) as receiver:
        await hook_up(client, app, demo, receiver)
        await filed(app, demo)
        await run_pending(app)
        (job,) = await deliveries(app)
        key = job.payload["key"]
        assert key.startswith("packet-")
        assert receiver.refused == 1 and receiver.registered == {}
        assert (job.status, job.attempts) == ("dead", 1)  # a 401 does not get better by retrying
        assert job.last_error is not None and "HTTP 401" in job.last_error

        admin = await bearer(app, demo["user:admin"])
        listed = await client.get("/api/v1/admin/dead-letters", headers=admin)
        assert listed.status == 200, await listed.text()
        (letter,) = (await listed.json())["dead_letters"]
        assert letter["id"] == job.id and letter["event"] == "packet.ready"
        assert letter["court"] == "吴江区人民法院" and letter["attempts"] == 1
        assert letter["idempotency_key"] == key
        await login(client, "admin")
        page = await client.get("/admin/court-systems")
        assert f'data-letter="{job.id}"' in await page.text()

        # An admin of another branch of the tree sees nothing of it and cannot re-queue it.
        async with transaction(app) as db:
            branch = Organization(
                name="八坼街道人民调解委员会",
                short_name="吴八",
                tier="town",
                parent_id=demo["org:district"],
            )
            db.add(branch)
            await db.flush()
            outsider = StaffUser(
                org_id=branch.id,
                username="branch-admin",
                display_name="八坼管理员",
                role="admin",
                password_hash=hash_password("x" * 12),
            )
            db.add(outsider)
            await db.flush()
            outsider_id = outsider.id
        other = await bearer(app, outsider_id)
        assert (await (await client.get("/api/v1/admin/dead-letters", headers=other)).json()) == {
            "dead_letters": []
        }
        path = f"/api/v1/admin/dead-letters/{job.id}/requeue"
        assert (await client.post(path, headers=other)).status == 404

        answers = await asyncio.gather(*(client.post(path, headers=admin) for _ in range(4)))
        assert sorted(r.status for r in answers) == [200, 409, 409, 409]
        (job,) = await deliveries(app)
        assert (job.status, job.attempts) == ("pending", 0)

        receiver.tamper = False
        await run_pending(app)
    assert list(receiver.registered) == [key]
    assert [job.status for job in await deliveries(app)] == ["done"]


async def test_server_errors_are_retried_with_backoff_until_the_attempts_run_out(
    app, client, demo
) -> None:
    async with running_receiver(Receiver(failures=[503, 429, 408])) as receiver:
        await hook_up(client, app, demo, receiver)
        await filed(app, demo)
        for attempt, status in enumerate((503, 429, 408), start=1):
            before = utcnow()
            # The first run also assembles the packet, which queues the event.
            await run_pending(app)
            (job,) = await deliveries(app)
            assert (job.status, job.attempts) == ("pending", attempt)
            assert job.last_error is not None and f"HTTP {status}" in job.last_error
            wait = job.run_after - before
            assert timedelta(0) <= wait <= timedelta(seconds=2**attempt, milliseconds=500)
            await due_now(app)
        await run_pending(app)
        (job,) = await deliveries(app)
        assert job.status == "done" and len(receiver.registered) == 1

        # A second event to a receiver that keeps failing: dead after the last attempt.
        async with transaction(app) as db:
            await db.execute(update(Job).values(status="done"))
        await filed(app, demo)
        receiver.failures = [500] * 3
        await run_pending(app)  # the packet, and its event's first failed attempt
        async with transaction(app) as db:
            await db.execute(
                update(Job)
                .where(Job.kind == KIND, Job.status == "pending")
                .values(attempts=RETRY.max_attempts - 1, run_after=utcnow())
            )
        await run_pending(app)
    (_first, job) = await deliveries(app)
    assert (job.status, job.attempts) == ("dead", RETRY.max_attempts)
    assert job.last_error is not None and "HTTP 500" in job.last_error


def documented_receiver(secret: str) -> dict[str, Any]:
    """The receiver example of docs/court.md, executed as written (with the secret filled in)."""
    text = (ROOT / "docs" / "court.md").read_text()
    code = text.split("A receiver in Python")[1].split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(code.replace("<the secret shown once>", secret), namespace)  # noqa: S102
    return namespace


async def test_the_documented_receiver_accepts_deliveries_and_refuses_forgeries(
    app, client, demo
) -> None:
    async with running_receiver(Receiver()) as placeholder:
        await hook_up(client, app, demo, placeholder)
    example = documented_receiver(placeholder.secret)
    runner = web.AppRunner(example["app"])
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with transaction(app) as db:
            hook = await db.get(CourtWebhook, demo["org:court"])
            assert hook is not None
            hook.url = f"http://127.0.0.1:{port}/hooks/mediation"
        filing_id = await filed(app, demo)
        await run_pending(app)
        async with app[sessionmaker_key]() as db:
            packet_id = await db.scalar(
                select(CourtPacket.id).where(CourtPacket.filing_id == filing_id)
            )
        assert example["seen"] == {f"packet-{packet_id}"}
        assert [job.status for job in await deliveries(app)] == ["done"]
        async with client.session.post(
            f"http://127.0.0.1:{port}/hooks/mediation",
            data=b'{"event":"filing.filed"}',
            headers={"X-Mediation-Signature": signature("guess", b"{}"), "Idempotency-Key": "x"},
        ) as forged:  # released: an unread response would leak its connection
            await forged.read()
        assert forged.status == 401 and "x" not in example["seen"]
    finally:
        await runner.cleanup()
