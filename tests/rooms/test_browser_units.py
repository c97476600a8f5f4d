"""The room client's pure functions, evaluated in Chromium as the page loads them: network
quality levels, when video pauses on a weak uplink, reconnection backoff, SDP origins (how a
rebuilt connection is recognised), phone capture sizes, and which `member-left` is a replaced
session's late one."""

from __future__ import annotations

from typing import Any

import pytest

from app.settings import settings_key
from tests.browsers import chromium, new_page

TABLES = """async () => {
  const network = await import("/static/rooms/network.js");
  const connection = await import("/static/rooms/connection.js");
  const mesh = await import("/static/rooms/mesh.js");
  const media = await import("/static/rooms/media.js");
  const store = await import("/static/rooms/store.js");
  const weak = { rtt: 0.3, loss: 0.0, bitrate: 80000, limited: true };
  const fine = { rtt: 0.05, loss: 0.0, bitrate: 900000, limited: false };
  const lossy = { rtt: 0.1, loss: 0.2, bitrate: null, limited: true };
  return {
    levels: [[0.05, 0], [0.3, 0.01], [0.1, 0.05], [0.8, 0], [0.1, 0.2]].map(
      ([rtt, loss]) => network.levelOf(rtt, loss)),
    pause: [
      [weak, weak],
      [weak, weak, weak],
      [fine, weak, weak],
      [weak, weak, fine],
      [lossy, lossy, lossy],
      [fine, fine, fine],
    ].map((samples) => network.shouldPause(samples)),
    backoff: [0, 1, 2, 3, 4, 5, 10].map((n) => [
      connection.backoffDelay(n, () => 0), connection.backoffDelay(n, () => 1)]),
    origins: [
      mesh.sdpOrigin("v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n"),
      mesh.sdpOrigin("v=0\\r\\no=mozilla...THIS_IS_SDPARTA-99.0 123 0 IN IP4 0.0.0.0\\r\\n"),
      mesh.sdpOrigin(""),
    ],
    phone: media.videoConstraints({ facing: "environment" }, true),
    desk: media.videoConstraints({ deviceId: "cam-2" }, false),
    superseded: [
      [{ session: "new" }, { session: "old" }],
      [{ session: "same" }, { session: "same" }],
      [undefined, { session: "old" }],
      [{ session: null }, { session: "old" }],
      [{ session: "new" }, { session: null }],
    ].map(([known, about]) => store.supersedes(known, about)),
    // A late member-left of the old socket, after the member joined again: it stays.
    lateLeft: (() => {
      const s = store.createStore();
      s.state.members.set(7, { id: 7, session: "new" });
      return [s.superseded({ id: 7, session: "old" }), s.superseded({ id: 7, session: "new" })];
    })(),
  };
}"""


@pytest.mark.browser
async def test_pure_functions_of_the_client(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    async with chromium() as browser:
        page = await new_page(browser, "units")
        await page.goto(f"{base}/login")
        out = await page.evaluate(TABLES)
    assert out["levels"] == ["good", "fair", "fair", "poor", "poor"]
    assert out["pause"] == [False, True, False, False, True, False]
    assert out["backoff"] == [
        [250, 500],
        [500, 1000],
        [1000, 2000],
        [2000, 4000],
        [4000, 8000],
        [5000, 10000],
        [5000, 10000],
    ]
    assert out["origins"] == ["4611731400430051336", "123", None]
    assert out["phone"]["facingMode"] == "environment"
    assert out["phone"]["width"]["ideal"] == 480 and out["phone"]["frameRate"]["max"] == 20
    assert out["desk"]["deviceId"] == {"exact": "cam-2"} and "facingMode" not in out["desk"]
    assert out["superseded"] == [True, False, False, False, False]
    assert out["lateLeft"] == [True, False]
