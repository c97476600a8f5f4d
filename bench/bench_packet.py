#!/usr/bin/env python3
"""The court packet: assembling and signing a 20-file packet (the joint application, the sealed
agreement and 18 evidence uploads — PDFs and JPEG photos of 200 KB to 2 MB, incompressible like
real scans and photos), through the product's job (`documents.packet.assemble`: read the rows
and the stored files, hash, write and sign the manifest, zip, store, record), beside the floor
measured in the same run: hashing the same bytes and writing them into a ZIP, nothing else.

    .venv/bin/python bench/bench_packet.py --runs 7 [--db sqlite|postgresql]

A fresh database migrated by alembic, the demo staff, one filed case (its agreement rendered and
sealed once); each run reserves the next packet version and assembles it. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import zipfile
from hashlib import sha256
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from bench_slots import drop_database, free_port, new_database  # noqa: E402

from app.auth import Principal  # noqa: E402
from app.db import make_engine, sessionmaker_key, transaction  # noqa: E402
from app.factory import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Case  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage import storage_key  # noqa: E402
from app.uploads import Upload  # noqa: E402
from booking.evidence import do_add_evidence, new_storage_key  # noqa: E402
from documents.models import CourtFiling, CourtPacket  # noqa: E402
from documents.packet import assemble, request_packet  # noqa: E402
from tests.builders import filed  # noqa: E402
from tests.people import seed_ids  # noqa: E402

EVIDENCE = 18  # + the joint application and the sealed agreement = 20 files
KB = 1024


def evidence_files(seed: int = 2026) -> list[tuple[str, str, bytes]]:
    """(name, media type, bytes): PDFs and JPEGs in turn, 200 KB – 2 MB, random bodies."""
    rng = random.Random(seed)
    files = []
    for n in range(EVIDENCE):
        size = rng.randint(200 * KB, 2048 * KB)
        if n % 2:
            head, name, media = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", f"照片{n}.jpg", "image/jpeg"
        else:
            head, name, media = b"%PDF-1.7\n", f"扫描件{n}.pdf", "application/pdf"
        files.append((name, media, head + rng.randbytes(size - len(head))))
    return files


def floor(files: list[bytes]) -> float:
    """Hash every file and write them into a ZIP (stored): the least a packet costs."""
    started = time.perf_counter()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n, data in enumerate(files):
            sha256(data).hexdigest()
            archive.writestr(f"f{n}", data)
    return time.perf_counter() - started


async def prepare(app: web.Application) -> int:
    ids = await seed_ids(app)
    filing_id = await filed(app, ids)
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        case = await db.get(Case, filing.case_id)
        assert case is not None
        mediator = Principal(kind="staff", staff_id=case.mediator_id, role="mediator")
        for name, media, data in evidence_files():
            upload = Upload(name, data)
            key = new_storage_key(case.id)
            await do_add_evidence(db, app[storage_key], mediator, case, upload, (media, name), key)
    return filing_id


async def next_packet(app: web.Application, filing_id: int) -> int:
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        return (await request_packet(db, filing)).id


async def measure(kind: str, runs: int, tmp: Path) -> dict[str, Any]:
    url = await new_database(kind, tmp)
    try:
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        port = free_port()
        settings = Settings(
            database_url=url,
            var_dir=tmp / kind,
            run_worker=False,
            mode="development",
            log_level="ERROR",
            port=port,
            base_url=f"http://127.0.0.1:{port}",
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            filing_id = await prepare(app)
            product: list[float] = []
            floors: list[float] = []
            await assemble(app, await next_packet(app, filing_id))  # warm-up (keys, pools)
            for _ in range(runs):
                packet_id = await next_packet(app, filing_id)
                started = time.perf_counter()
                assert await assemble(app, packet_id)
                product.append(time.perf_counter() - started)
                async with app[sessionmaker_key]() as db:
                    packet = await db.get(CourtPacket, packet_id)
                    assert packet is not None and packet.storage_key and packet.size
                data = await app[storage_key].get(packet.storage_key)
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    manifest = json.loads(archive.read("manifest.json"))
                    bodies = [archive.read(f["name"]) for f in manifest["files"]]
                assert len(bodies) == EVIDENCE + 2
                floors.append(await asyncio.to_thread(floor, bodies))
            p50, f50 = statistics.median(product), statistics.median(floors)
            return {
                "db": kind,
                "files": len(bodies),
                "packet_mb": round(packet.size / KB / KB, 1),
                "runs": runs,
                "assemble_p50_ms": round(p50 * 1000, 1),
                "assemble_max_ms": round(max(product) * 1000, 1),
                "floor_p50_ms": round(f50 * 1000, 1),
                "ratio": round(p50 / f50, 2),
                "target_ms": 1000,
                "met": p50 <= 1.0,
            }
        finally:
            await runner.cleanup()
    finally:
        await drop_database(url)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            result = await measure(kind, args.runs, Path(tmp))
            result["machine"] = f"{platform.machine()}, {platform.python_version()}"
            print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", default="sqlite")
    asyncio.run(main(parser.parse_args()))
