"""The render worker (issue 9): template, QR code, WeasyPrint and the seal all run in the worker
process; a worker is replaced after N renders and reports its memory; pages stay responsive
while agreements render."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from documents.pdf import PdfRenderer
from documents.seal import ensure_dev_key, verify_pdf
from tests.documents.test_pdf import ATTACHMENTS, make_doc
from tests.pdf_reading import pdf_text


async def _worker_pid(renderer: PdfRenderer) -> int:
    import os

    return await renderer._run(os.getpid)


async def test_render_and_seal_run_in_the_worker_and_workers_are_recycled(
    tmp_path: Path,
) -> None:
    key = ensure_dev_key(tmp_path, "松陵街道人民调解委员会")
    renderer = PdfRenderer(max_workers=1, max_tasks_per_child=2)
    try:
        first = await _worker_pid(renderer)
        sealed = await renderer.render_and_seal(make_doc(), ATTACHMENTS, key)  # its 2nd task
        replaced = await _worker_pid(renderer)
    finally:
        renderer.close()
    assert replaced != first
    assert renderer.renders == 1
    assert 50_000 < renderer.worker_peak_rss_kb < 4_000_000  # reported, and plausible (kB)
    assert 10 < renderer.worker_cpu_ms < 60_000  # the worker's, not the parent's (it idles)
    assert "王秀兰" in pdf_text(sealed)
    loop = asyncio.get_running_loop()
    check = await loop.run_in_executor(None, verify_pdf, sealed, key.cert_pem)
    assert check.ok()


async def test_renders_queued_while_a_worker_retires_all_finish() -> None:
    # With Python 3.11's own max_tasks_per_child, a worker retiring while tasks wait in the
    # queue leaves them waiting forever (with 50 tasks a worker, the 51st of a busy moment).
    renderer = PdfRenderer(max_workers=1, max_tasks_per_child=2)
    try:
        pids = await asyncio.wait_for(
            asyncio.gather(*(_worker_pid(renderer) for _ in range(6))), timeout=120
        )
    finally:
        renderer.close()
    assert len(set(pids)) == 3  # two tasks a worker, each in its turn


async def test_a_page_stays_responsive_while_agreements_render(client, tmp_path: Path) -> None:
    """The event loop only waits for the worker: /healthz answers between renders' chunks.
    (A correctness bound, generous for a shared machine; figures come from bench_pdf.py.)"""
    key = ensure_dev_key(tmp_path, "松陵街道人民调解委员会")
    renderer = PdfRenderer(max_workers=1)

    async def probe() -> float:
        started = time.perf_counter()
        response = await client.get("/healthz")
        assert response.status in (200, 503)
        return time.perf_counter() - started

    try:
        await renderer.warm_up()
        idle = [await probe() for _ in range(10)]
        renders = asyncio.gather(
            *(renderer.render_and_seal(make_doc(), ATTACHMENTS, key) for _ in range(4))
        )
        busy = []
        while not renders.done():
            busy.append(await probe())
            await asyncio.sleep(0.02)
        pdfs = await renders
    finally:
        renderer.close()
    assert len(pdfs) == 4 and len(busy) >= 5
    assert statistics.median(busy) < max(10 * statistics.median(idle), 0.25), (idle, busy)
    assert max(busy) < 2.0, busy
