#!/usr/bin/env python3
"""Agreement PDF: the product's render + seal (template, QR code, WeasyPrint and pyHanko all in
the render worker process), against the bare WeasyPrint floor rendering the same HTML (the
product's own ``agreement_html``, written to a file), measured in the same run; then the p95
latency of a plain page served by the same event loop, idle and while --concurrent PDFs render,
and the render worker's peak memory.

The floor and the product alternate in --rounds rounds of --runs renders each, so that a load
that comes and goes on a shared machine falls on both; each round's ratio is reported, and the
medians over all rounds. The worker also reports its CPU time per render + seal, which another
process's load does not inflate as it does wall time.

    .venv/bin/python bench/bench_pdf.py --runs 7 --rounds 3 --concurrent 20
    .venv/bin/python bench/bench_pdf.py --runs 1 --rounds 1 --concurrent 2 --probes 5  # smoke

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
from typing import Any

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


async def product(runs: int, renderer: PdfRenderer, key: SealKey) -> dict[str, list[float]]:
    doc = sample_doc()
    loop = asyncio.get_running_loop()
    samples: dict[str, list[float]] = {"render": [], "total": [], "cpu": [], "verify": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        await renderer.render(doc, ATTACHMENT)
        t1 = time.perf_counter()
        sealed = await renderer.render_and_seal(doc, ATTACHMENT, key)
        t2 = time.perf_counter()
        check = await loop.run_in_executor(None, verify_pdf, sealed, key.cert_pem)
        t3 = time.perf_counter()
        assert check.ok()
        samples["render"].append((t1 - t0) * 1000)
        samples["total"].append((t2 - t1) * 1000)
        samples["cpu"].append(renderer.worker_cpu_ms)
        samples["verify"].append((t3 - t2) * 1000)
    samples["bytes"] = [float(len(sealed))]
    return samples


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


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 1)


async def measure(
    html_path: Path, runs: int, rounds: int, concurrent: int, probes: int, keydir: Path
) -> dict[str, Any]:
    key = ensure_dev_key(keydir, "bench")
    renderer = PdfRenderer(max_workers=1, max_tasks_per_child=50)
    loop = asyncio.get_running_loop()
    per_round, floors = [], []
    samples: dict[str, list[float]] = {"render": [], "total": [], "cpu": [], "verify": []}
    try:
        await renderer.warm_up()
        await renderer.render_and_seal(sample_doc(), ATTACHMENT, key)  # warm, as the floor is
        for _ in range(rounds):
            floor_result = await loop.run_in_executor(None, floor, html_path, runs)
            got = await product(runs, renderer, key)
            floor_ms = float(str(floor_result["render_ms_p50"]))
            floors.append(floor_result)
            per_round.append(
                {
                    "floor_ms": floor_ms,
                    "render_and_seal_ms": _p50(got["total"]),
                    "ratio": round(statistics.median(got["total"]) / floor_ms, 2),
                    "worker_cpu_ms": _p50(got["cpu"]),
                }
            )
            for name in samples:
                samples[name] += got[name]
        latency = await page_latency(renderer, key, concurrent, probes)
    finally:
        renderer.close()
    floor_p50 = statistics.median(float(str(f["render_ms_p50"])) for f in floors)
    return {
        "floor": {
            "render_ms_p50": round(floor_p50, 1),
            "pdf_bytes": floors[-1]["pdf_bytes"],
            "peak_rss_mb": floors[-1]["peak_rss_mb"],
        },
        "product": {
            "render_ms_p50": _p50(samples["render"]),
            "render_and_seal_ms_p50": _p50(samples["total"]),
            "render_and_seal_worker_cpu_ms_p50": _p50(samples["cpu"]),
            "verify_ms_p50": _p50(samples["verify"]),
            "pdf_bytes": int(got["bytes"][0]),
            "page_latency": latency,
            "worker_peak_rss_mb": round(renderer.worker_peak_rss_kb / 1024, 1),
        },
        "per_round": per_round,
        "ratio": round(statistics.median(samples["total"]) / floor_p50, 2),
        "ratio_median_of_rounds": statistics.median(r["ratio"] for r in per_round),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="renders per round, floor and product")
    ap.add_argument("--rounds", type=int, default=3, help="floor/product alternations")
    ap.add_argument("--concurrent", type=int, default=20, help="PDFs rendering during the probe")
    ap.add_argument("--probes", type=int, default=50, help="idle page requests")
    ap.add_argument("--write", action="store_true", help="append the result to bench/results.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(tmp) / "agreement.html"
        html_path.write_text(agreement_html(sample_doc()), encoding="utf-8")
        measured = asyncio.run(
            measure(
                html_path, args.runs, args.rounds, args.concurrent, args.probes, Path(tmp) / "keys"
            )
        )
    result = {
        "bench": "agreement PDF render + seal",
        "runs": args.runs,
        "rounds": args.rounds,
        **measured,
        "machine": f"{platform.machine()} {__import__('os').cpu_count()} cores",
        "date": date.today().isoformat(),
    }
    print(json.dumps(result, ensure_ascii=False))
    if args.write:
        product_result, floor_result = measured["product"], measured["floor"]
        with (ROOT / "bench" / "results.md").open("a", encoding="utf-8") as out:
            out.write(
                f"| {result['date']} | PDF render+seal | {product_result['render_and_seal_ms_p50']}"
                f" ms (worker CPU {product_result['render_and_seal_worker_cpu_ms_p50']} ms) | "
                f"floor {floor_result['render_ms_p50']} ms | ×{result['ratio']} | "
                f"verify {product_result['verify_ms_p50']} ms, {product_result['pdf_bytes']} B, "
                f"page p95 under load {product_result['page_latency']} , worker "
                f"{product_result['worker_peak_rss_mb']} MB |\n"
            )


if __name__ == "__main__":
    main()
