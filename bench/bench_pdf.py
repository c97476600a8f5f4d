#!/usr/bin/env python3
"""Agreement PDF: the product's render + seal (template, QR code, WeasyPrint and pyHanko all in
the render worker process), against the bare WeasyPrint floor rendering the same HTML, measured
in the same run; then the p95 latency of a plain page served by the same event loop, idle and
while --concurrent PDFs render, and the render worker's peak memory.

    .venv/bin/python bench/bench_pdf.py --runs 7 --concurrent 20
    .venv/bin/python bench/bench_pdf.py --runs 1 --concurrent 2 --probes 5   # smoke run

Prints one JSON line; with --write, also appends a row to bench/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from documents.pdf import AgreementDoc, PartyLine, PdfRenderer, agreement_html  # noqa: E402
from documents.seal import SealKey, ensure_dev_key, verify_pdf  # noqa: E402
from tests.pdf_reading import signature_png  # noqa: E402

FLOOR = ROOT.parent / "shared" / "bench" / "floor_pdf.py"
TERMS = tuple(
    f"李建国于2026年12月{i}日前向王秀兰支付院墙重建费用第{i}期人民币壹仟元整（¥1,000.00）。"
    for i in range(1, 16)
)


def sample_doc() -> AgreementDoc:
    signed = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
    parties = tuple(
        PartyLine(
            name=name,
            role=role,
            id_masked="3205**********0023",
            phone_masked="139****5678",
            address="江苏省苏州市吴江区松陵街道联杨村12号",
            signature_png=signature_png(),
            signed_at=signed,
        )
        for name, role in (("王秀兰", "申请人"), ("李建国", "被申请人"))
    )
    return AgreementDoc(
        org_name="松陵街道人民调解委员会",
        case_number="（2026）吴松矛调字第0001号",
        dispute_type="邻里纠纷",
        parties=parties,
        facts="被申请人装修时拆除双方共用院墙，申请人要求赔偿重建费用。" * 12,
        terms=TERMS,
        performance="银行转账",
        performance_deadline=date(2026, 12, 31),
        mediator_name="陈调解",
        version=1,
        version_hash="ab" * 32,
        verify_url="https://example.cn/verify/" + "ab" * 32,
        effective_at=signed,
    )


def floor(html_path: Path, runs: int) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            str(FLOOR),
            "--html",
            str(html_path),
            "--runs",
            str(runs),
            "--variant",
            "pdf/a-3b",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


ATTACHMENT = [("agreement.json", b'{"v": 1}', "data")]


async def product(runs: int, renderer: PdfRenderer, key: SealKey) -> dict[str, float]:
    doc = sample_doc()
    loop = asyncio.get_running_loop()
    await renderer.render_and_seal(doc, ATTACHMENT, key)
    totals, renders, verifies = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        await renderer.render(doc, ATTACHMENT)
        t1 = time.perf_counter()
        sealed = await renderer.render_and_seal(doc, ATTACHMENT, key)
        t2 = time.perf_counter()
        check = await loop.run_in_executor(None, verify_pdf, sealed, key.cert_pem)
        t3 = time.perf_counter()
        assert check.ok()
        renders.append((t1 - t0) * 1000)
        totals.append((t2 - t1) * 1000)
        verifies.append((t3 - t2) * 1000)
    return {
        "render_ms_p50": round(statistics.median(renders), 1),
        "render_and_seal_ms_p50": round(statistics.median(totals), 1),
        "verify_ms_p50": round(statistics.median(verifies), 1),
        "pdf_bytes": len(sealed),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1)


async def page_latency(
    renderer: PdfRenderer, key: SealKey, concurrent: int, probes: int
) -> dict[str, float]:
    """p95 of a plain page on the loop that dispatches the renders, idle and under load."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    async def plain(_request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><title>ok</title><p>ok</p>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", plain)
    async with TestServer(app) as server, ClientSession() as http:
        url = str(server.make_url("/"))

        async def probe() -> float:
            t0 = time.perf_counter()
            async with http.get(url) as response:
                await response.read()
            return time.perf_counter() - t0

        idle = [await probe() for _ in range(probes)]
        doc = sample_doc()
        load = asyncio.gather(
            *(renderer.render_and_seal(doc, ATTACHMENT, key) for _ in range(concurrent))
        )
        busy = []
        while not load.done():
            busy.append(await probe())
            await asyncio.sleep(0.01)
        await load
    return {
        "concurrent_pdfs": concurrent,
        "idle_p95_ms": _p95(idle),
        "busy_p95_ms": _p95(busy),
        "busy_over_idle": round(_p95(busy) / max(_p95(idle), 0.001), 2),
        "probes_under_load": len(busy),
    }


async def measure(runs: int, concurrent: int, probes: int, keydir: Path) -> dict[str, object]:
    key = ensure_dev_key(keydir, "bench")
    renderer = PdfRenderer(max_workers=1, max_tasks_per_child=50)
    try:
        await renderer.warm_up()
        result: dict[str, object] = dict(await product(runs, renderer, key))
        result["page_latency"] = await page_latency(renderer, key, concurrent, probes)
        result["worker_peak_rss_mb"] = round(renderer.worker_peak_rss_kb / 1024, 1)
    finally:
        renderer.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--concurrent", type=int, default=20, help="PDFs rendering during the probe")
    ap.add_argument("--probes", type=int, default=50, help="idle page requests")
    ap.add_argument("--write", action="store_true", help="append the result to bench/results.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(tmp) / "agreement.html"
        html_path.write_text(agreement_html(sample_doc()), encoding="utf-8")
        floor_result = floor(html_path, args.runs)
        product_result = asyncio.run(
            measure(args.runs, args.concurrent, args.probes, Path(tmp) / "keys")
        )
    ratio = float(str(product_result["render_and_seal_ms_p50"])) / float(
        str(floor_result["render_ms_p50"])
    )
    result = {
        "bench": "agreement PDF render + seal",
        "runs": args.runs,
        "floor": floor_result,
        "product": product_result,
        "ratio": round(ratio, 2),
        "machine": f"{platform.machine()} {__import__('os').cpu_count()} cores",
        "date": date.today().isoformat(),
    }
    print(json.dumps(result, ensure_ascii=False))
    if args.write:
        with (ROOT / "bench" / "results.md").open("a", encoding="utf-8") as out:
            out.write(
                f"| {result['date']} | PDF render+seal | {product_result['render_and_seal_ms_p50']}"
                f" ms | floor {floor_result['render_ms_p50']} ms | ×{result['ratio']} | "
                f"verify {product_result['verify_ms_p50']} ms, {product_result['pdf_bytes']} B, "
                f"page p95 under load {product_result['page_latency']} , worker "
                f"{product_result['worker_peak_rss_mb']} MB |\n"
            )


if __name__ == "__main__":
    main()
