#!/usr/bin/env python3
"""Joining a room: from the mediator's admit click to decoded video on every side, in the real
app with headless Chromiums, against two peer connections inside one page, in the same run.

    .venv/bin/python bench/bench_room.py --runs 7

First `floor_webrtc_loopback.py --runs N`, then the product: the app (SQLite in a temporary
directory, no job worker) served by `python -m app serve` in a child process, one Chromium per
member (Debian's, fake camera and microphone, the floor's flags). Each run takes a new case:
the mediator (logged in once through the form) opens the case and enters its room, each party
opens its link in a fresh browser context, enters the room and waits in the lobby; then the
mediator clicks "admit" for each. Every page polls (every 5 ms, as the floor does) until it
decodes video from every other member (getStats framesDecoded > 0, or room.js's firstFrame),
and the time is taken from the admit click (wall clock shared by the browsers on this machine).
Also reported: admit click → `admitted` arriving at the party's page, before its handlers run
(the server's part: the admit message, its database transaction, the bus and the socket),
room.js's own `firstFrame` (peer connection created → first frame, the slowest peer; the figure
closest to the floor's) and the party's link opened → in the lobby. One warm-up run first,
not counted.

With --timeline (2 members), every page also logs, from an init script, the signaling messages
it receives and sends, its setRemoteDescription / setLocalDescription calls and its connection
states; the output gains `timeline_ms_p50`, each step's median time after the admit click. The
logging costs the pages a little: take the headline figures from runs without it.

Prints one JSON line; with --write, also appends a row to bench/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth import issue_party_link  # noqa: E402
from app.models import Case, Party, StaffUser  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.bench_signaling import Server, free_port, wait_ready  # noqa: E402
from bench.cases import demo_cases  # noqa: E402
from tests.browsers import CHROMIUM, log_in  # noqa: E402

FLOOR = ROOT.parent / "shared" / "bench" / "floor_webrtc_loopback.py"
# The floor's Chromium flags (tests/browsers.py's, plus --disable-gpu), so both draw the same way.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RUN_TIMEOUT = 30.0
RESULTS_HEADER = "| date | bench | product | floor | ratio | notes |\n|---|---|---|---|---|---|\n"

# Installed in every page before the admit click: the wall-clock time at which the page decodes
# video from `expected` other members.
WATCH = """(expected) => {
  window.__bench = { first: null };
  const poll = async () => {
    const room = window.mediationRoom;
    let decoding = 0;
    for (const [id, pc] of room.peers) {
      let ok = room.firstFrame.has(id);
      if (!ok) (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0) ok = true;
      });
      if (ok) decoding += 1;
    }
    if (decoding >= expected) window.__bench.first = performance.timeOrigin + performance.now();
    else setTimeout(poll, 5);
  };
  poll();
}"""
# --timeline: what each page did when, in wall-clock ms (window.__timeline).
TIMELINE = """(() => {
  const log = (window.__timeline = []);
  const now = () => performance.timeOrigin + performance.now();
  const name = (d) => {
    try {
      const m = JSON.parse(d);
      return m.type + (m.description ? ":" + m.description.type : m.candidate ? ":candidate" : "");
    } catch {
      return "?";
    }
  };
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => log.push([now(), "in:" + name(e.data)]));
    }
    send(data) {
      log.push([now(), "out:" + name(data)]);
      return super.send(data);
    }
  };
  const proto = RTCPeerConnection.prototype;
  for (const method of ["setRemoteDescription", "setLocalDescription"]) {
    const original = proto[method];
    proto[method] = async function (...args) {
      const step = method + ":" + (args[0]?.type || "implicit");
      log.push([now(), step + ":start"]);
      try {
        return await original.apply(this, args);
      } finally {
        log.push([now(), step + ":end"]);
      }
    };
  }
  const Connection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Connection {
    constructor(...args) {
      super(...args);
      this.addEventListener("connectionstatechange", () => log.push([now(), this.connectionState]));
    }
  };
  window.RTCPeerConnection.generateCertificate = Connection.generateCertificate.bind(Connection);
})()"""
# The steps of one join (2 members), each the first such event on that page.
STEPS = {
    "party_admitted": ("party", "in:admitted"),
    "party_offer_sent": ("party", "out:signal:offer"),
    "mediator_offer_received": ("mediator", "in:signal:offer"),
    "mediator_set_remote_done": ("mediator", "setRemoteDescription:offer:end"),
    "mediator_answer_sent": ("mediator", "out:signal:answer"),
    "party_answer_received": ("party", "in:signal:answer"),
    "party_set_remote_done": ("party", "setRemoteDescription:answer:end"),
    "mediator_connected": ("mediator", "connected"),
    "party_connected": ("party", "connected"),
}
ADMIT = """(n) => {
  const t0 = performance.timeOrigin + performance.now();
  const buttons = [...document.querySelectorAll("#waiting-list li[data-member] button.admit")];
  buttons.slice(0, n).forEach((b) => b.click());
  return t0;
}"""


def floor(runs: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(FLOOR), "--runs", str(runs), "--chromium", CHROMIUM],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@dataclass
class Seat:
    case_id: int
    links: list[str]  # one /p/<token> per party


async def prepare(settings: Settings, cases: int, parties: int) -> list[Seat]:
    """CASES cases assigned to the demo mediator, PARTIES parties each, a fresh link per party."""

    async def seat(db: AsyncSession, case: Case, people: list[Party], _mediator: StaffUser) -> Seat:
        links = [f"/p/{await issue_party_link(db, party.id, days=1)}" for party in people]
        return Seat(case.id, links)

    return await demo_cases(settings, cases, parties, seat)


async def enter_room(page: Page) -> None:
    await page.click("[data-action=enter-room]")
    await page.wait_for_url("**/rooms/*")


def steps(t0: float, mediator: list[list[Any]], party: list[list[Any]]) -> dict[str, float]:
    """Each step of STEPS found in the pages' logs, in ms after the admit click."""
    logs = {"mediator": mediator, "party": party}
    found = {}
    for step, (page, event) in STEPS.items():
        at = next((t for t, e in logs[page] if e == event and t >= t0), None)
        if at is not None:
            found[step] = at - t0
    return found


async def one_run(
    base: str, mediator: Page, parties: list[Browser], seat: Seat, timeline: bool = False
) -> dict[str, Any]:
    """One case: everyone in, the mediator admits, until every page decodes every other."""
    members = len(parties) + 1
    await mediator.goto(f"{base}/cases/{seat.case_id}")
    await enter_room(mediator)
    await mediator.wait_for_function("() => window.mediationRoom && window.mediationRoom.connected")
    pages, lobby_ms = [], []
    for browser, link in zip(parties, seat.links, strict=False):
        context = await browser.new_context()
        if timeline:
            await context.add_init_script(TIMELINE)
        page = await context.new_page()
        t = time.perf_counter()
        await page.goto(base + link)
        await page.wait_for_url(f"**/cases/{seat.case_id}")
        await enter_room(page)
        await page.wait_for_selector("#lobby-screen:not([hidden])")
        lobby_ms.append((time.perf_counter() - t) * 1000)
        pages.append(page)
    await mediator.wait_for_selector(f"#waiting-list li[data-member] >> nth={len(pages) - 1}")
    everyone = [mediator, *pages]
    for page in everyone:
        await page.evaluate(WATCH, members - 1)
    t0: float = await mediator.evaluate(ADMIT, len(pages))
    firsts = []
    for page in everyone:
        await page.wait_for_function(
            "() => window.__bench.first !== null", timeout=RUN_TIMEOUT * 1000
        )
        firsts.append(await page.evaluate("window.__bench.first") - t0)
    admitted = [
        await page.evaluate("performance.timeOrigin + window.mediationRoom.timings.admittedAt") - t0
        for page in pages
    ]
    own = []
    for page in everyone:
        # room.js records its figure on the frame callback, which may come just after getStats
        # counted the frame.
        await page.wait_for_function(
            "(n) => window.mediationRoom.firstFrame.size >= n", arg=members - 1, timeout=5000
        )
        own.append(
            max((await page.evaluate("[...window.mediationRoom.firstFrame.values()]")) or [0])
        )
    timed = {}
    if timeline:
        logs = [await page.evaluate("window.__timeline.splice(0)") for page in everyone]
        timed = {"steps": steps(t0, logs[0], logs[1])}
    for page in pages:
        await page.context.close()
    return {
        **timed,
        "mediator_ms": firsts[0],
        "party_ms": max(firsts[1:]),
        "all_ms": max(firsts),
        "admitted_ms": max(admitted),
        "peer_first_frame_ms": max(own),
        "link_to_lobby_ms": max(lobby_ms),
    }


async def product(runs: int, members: int, tmp: Path, timeline: bool = False) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        var_dir=tmp / "var",
        run_worker=False,
        base_url=base,
        session_hours=2,
        mode="development",  # the benchmark's throw-away database uses the development secrets
    )
    seats = await prepare(settings, runs + 1, members - 1)
    server = Server(settings, port, tmp / "server.log")
    try:
        async with aiohttp.ClientSession() as sess:
            await wait_ready(sess, base, server)
        async with async_playwright() as pw:
            launch = {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
            browsers = [await pw.chromium.launch(**launch) for _ in range(members)]
            try:
                context = await browsers[0].new_context()
                if timeline:
                    await context.add_init_script(TIMELINE)
                mediator = await context.new_page()
                await log_in(mediator, base, "mediator")
                results = []
                for seat in seats:  # the first is the warm-up
                    async with asyncio.timeout(RUN_TIMEOUT * 2):
                        results.append(await one_run(base, mediator, browsers[1:], seat, timeline))
            finally:
                for browser in browsers:
                    await browser.close()
    finally:
        server.stop()
    results = results[1:]
    med = lambda k: round(statistics.median(r[k] for r in results), 1)  # noqa: E731
    timed = {}
    if timeline:
        timed["timeline_ms_p50"] = {
            step: round(statistics.median(times), 1)
            for step in STEPS
            if (times := [r["steps"][step] for r in results if step in r["steps"]])
        }
    return {
        "product": f"room join, {members} Chromiums (mediator admits from the lobby)",
        "runs": runs,
        "members": members,
        "admit_to_first_frame_mediator_ms_p50": med("mediator_ms"),
        "admit_to_first_frame_party_ms_p50": med("party_ms"),
        "admit_to_first_frame_all_ms_p50": med("all_ms"),
        "admit_to_first_frame_all_ms_max": round(max(r["all_ms"] for r in results), 1),
        "admit_to_admitted_party_ms_p50": med("admitted_ms"),
        "peer_first_frame_ms_p50": med("peer_first_frame_ms"),
        "link_to_lobby_ms_p50": med("link_to_lobby_ms"),
        **timed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--members", type=int, default=2, choices=(2, 3), help="mediator + parties")
    ap.add_argument("--write", action="store_true", help="append the result to bench/results.md")
    ap.add_argument("--timeline", action="store_true", help="time each step of a join (2 members)")
    args = ap.parse_args()
    if args.timeline and args.members != 2:
        ap.error("--timeline needs --members 2")
    floor_result = floor(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        product_result = asyncio.run(product(args.runs, args.members, Path(tmp), args.timeline))
    floor_ms = float(floor_result["first_frame_ms_p50"])
    ratio = {
        "admit_to_first_frame_all": round(
            product_result["admit_to_first_frame_all_ms_p50"] / floor_ms, 2
        ),
        "peer_first_frame": round(product_result["peer_first_frame_ms_p50"] / floor_ms, 2),
    }
    result = {
        "bench": "room join to first video frame",
        "floor": floor_result,
        "product": product_result,
        "ratio": ratio,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "date": date.today().isoformat(),
    }
    print(json.dumps(result, ensure_ascii=False))
    if args.write:
        results = ROOT / "bench" / "results.md"
        fresh = not results.exists()
        with results.open("a", encoding="utf-8") as out:
            if fresh:
                out.write(RESULTS_HEADER)
            out.write(
                f"| {result['date']} | room join, {args.members} members | admit → first frame "
                f"{product_result['admit_to_first_frame_all_ms_p50']} ms | floor first frame "
                f"{floor_ms} ms | ×{ratio['admit_to_first_frame_all']} | mediator "
                f"{product_result['admit_to_first_frame_mediator_ms_p50']} ms, party "
                f"{product_result['admit_to_first_frame_party_ms_p50']} ms, peer connection → "
                f"frame {product_result['peer_first_frame_ms_p50']} ms "
                f"(×{ratio['peer_first_frame']}) |\n"
            )


if __name__ == "__main__":
    main()
