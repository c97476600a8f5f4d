"""Crash injection for webhook push, on both databases (SQLite holds with two processes: the
worker and this test write the same file, one writer at a time): 200 deliveries to a court
receiver on loopback while `python -m app worker` is SIGKILLed at random moments and restarted.
None is lost; the receiver, which dedups by Idempotency-Key, registers each key exactly once
(a delivery cut off after the receiver answered comes again: a counted duplicate, allowed)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.court_systems import seal_secret
from app.db import sessionmaker_key, transaction, utcnow
from app.jobs import run_pending
from app.models import CourtWebhook, Job, Organization
from app.settings import settings_key
from app.tokens import new_token
from app.webhooks import KIND, enqueue_event
from tests.app.worker_kills import kill_while_running, start_worker, statuses
from tests.court_receiver import Receiver, running_receiver

DELIVERIES = 200
KILLS = 4


async def test_killed_workers_lose_no_delivery(app, client, database_url, tmp_path) -> None:
    receiver = Receiver(secret=new_token(), delay=0.005)
    async with running_receiver(receiver):
        async with transaction(app) as db:
            centre = Organization(name="调解中心", short_name="调", tier="district")
            court = Organization(name="法院", short_name="法", tier="district", kind="court")
            db.add_all([centre, court])
            await db.flush()
            sealed = seal_secret(app[settings_key].id_hash_key, receiver.secret)
            db.add(
                CourtWebhook(
                    org_id=court.id, url=receiver.url, secret_sealed=sealed, updated_by="test"
                )
            )
            await db.flush()
            keys = [f"packet-{n}" for n in range(1, DELIVERIES + 1)]
            for n, key in enumerate(keys, start=1):
                body = {"event": "packet.ready", "idempotency_key": key, "packet": {"id": n}}
                assert await enqueue_event(db, court.id, centre.id, key, body)

        log = tmp_path / "worker.log"
        cut_off = 0
        for _ in range(KILLS):
            if (await statuses(app, KIND)).get("done", 0) == DELIVERIES:
                break
            process = await start_worker(database_url, tmp_path, log)
            await kill_while_running(app, process, log, KIND, within=30)
            cut_off += (await statuses(app, KIND)).get("running", 0)
        assert cut_off, "no kill hit a delivery in flight: the test exercised nothing"

        # Once the dead workers' leases have expired, a worker finishes their deliveries.
        async with app[sessionmaker_key]() as db:
            leases = await db.scalar(
                select(func.max(Job.lease_until)).where(Job.status == "running")
            )
        if leases is not None:
            await asyncio.sleep(max(0.0, (leases - utcnow()).total_seconds()) + 0.1)
        await run_pending(app)

    assert await statuses(app, KIND) == {"done": DELIVERIES}
    async with app[sessionmaker_key]() as db:
        attempts = list(await db.scalars(select(Job.attempts).where(Job.kind == KIND)))
    assert max(attempts) > 1  # a delivery was claimed again after its worker was killed
    assert receiver.refused == 0
    assert sorted(receiver.registered) == sorted(keys)  # none lost, each registered once
    assert all(receiver.registered[k]["idempotency_key"] == k for k in keys)
    # Duplicates (answered, then the worker died before recording it) are counted apart.
    assert sum(receiver.duplicates.values()) <= cut_off
    print(f"cut off in flight: {cut_off}; duplicates delivered: {dict(receiver.duplicates)}")
