"""The room page (HTML, every script module it loads, its styles) stays small on the wire for
phones on weak networks: scripts and styles are served compressed, the total is at most 100 KB."""

from __future__ import annotations

import re
from typing import Any

from tests.people import login, seed_ids
from tests.rooms.conftest import assign_mediator

LIMIT = 100 * 1024
ASSET = re.compile(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"')
IMPORT = re.compile(r'from "\./([a-z]+\.js)"')


async def fetch(client: Any, path: str) -> tuple[int, str, str]:
    """Bytes on the wire, the content coding, and the decoded text."""
    headers = {"Accept-Encoding": "gzip, deflate"}
    response = await client.get(path, headers=headers, auto_decompress=False)
    assert response.status == 200, path
    raw = await response.read()
    coding = response.headers.get("Content-Encoding", "")
    decoded = await client.get(path)
    return len(raw), coding, await decoded.text()


async def test_the_room_page_is_served_compressed_within_100_kb(app: Any, client: Any) -> None:
    ids = await seed_ids(app)
    await assign_mediator(app, ids["case"], ids["user:mediator"])
    await login(client, "mediator")
    entered = await client.get(f"/cases/{ids['case']}/room")
    page = str(entered.url.path)
    size, _coding, html = await fetch(client, page)
    sizes = {page: size}
    pending = ASSET.findall(html)
    while pending:
        path = pending.pop()
        if path in sizes:
            continue
        sizes[path], coding, text = await fetch(client, path)
        assert coding in ("gzip", "deflate"), f"{path} is not served compressed"
        folder = path.rsplit("/", 1)[0]
        pending += [f"{folder}/{name}" for name in IMPORT.findall(text)]
    assert "/static/rooms/room.js" in sizes and "/static/rooms/mesh.js" in sizes
    total = sum(sizes.values())
    print(f"\nroom page on the wire: {total / 1024:.1f} KB in {len(sizes)} responses")
    assert total <= LIMIT, sizes
